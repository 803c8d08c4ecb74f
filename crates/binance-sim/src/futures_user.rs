//! Futures user data on one venue (reference §3.2, §5.5): listen keys,
//! each account's futures wallet, one-way positions and orders, and the
//! user events they produce (`ORDER_TRADE_UPDATE`, `TRADE_LITE` on USD-M,
//! `ACCOUNT_UPDATE`, `listenKeyExpired`), written in Binance's bytes.
//!
//! Every event is logged per account ([`FuturesUsers::events`]) and, while
//! the account has a listen key, published on the venue's hub under the key
//! (every event) and under `<key>#<event type>` (a connection's `events=`
//! filter); both are named by the key in combined frames.
//!
//! Numbers follow Binance's examples (`vectors/futures/user`,
//! `vectors/coinm/user`), through the contract's [`Format`]: a zero is
//! `"0"`; order quantities and prices at the contract's precision; average
//! and entry prices at [`Format::average_places`]; balances, commissions and
//! realized profit with eight decimals; a position amount as short as it
//! goes (`"-10"`); unrealized profit at [`Format::unrealized_places`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binance_types::futures::user::{
    AccountConfigUpdate, AccountData, AccountUpdate, AccountUpdateReason, ExecutionType,
    FuturesBalance, FuturesOrder, FuturesUserEvent, LeverageUpdate, ListenKeyExpired, MarginType,
    OrderStatus, OrderTradeUpdate, Position, PositionSide, Side, TradeLite,
};
use binance_types::venue::Venue;
use binance_types::{Millis, Time};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::accounts::random_id;
use crate::api_error::ApiErr;
use crate::clock::now_ms;
use crate::engine::{self, Fill, NewOrder, OrderType, TimeInForce};
use crate::futures::{Contract, Funding, FuturesMarket, UserFills};
use crate::futures_wire::{zero_or, Format};
use crate::hub::Hub;
use crate::notation::fixed_scale;

/// What a new USD-M wallet holds.
pub const USDM_WALLET: &[(&str, u32)] = &[("USDT", 100_000)];
/// What a new COIN-M wallet holds.
pub const COINM_WALLET: &[(&str, u32)] = &[("BTC", 10), ("ETH", 100)];
/// Commission on a fill that took liquidity (Binance's default tier, 0.05 %).
const TAKER_RATE: Decimal = Decimal::from_parts(5, 0, 0, false, 4);
/// Commission on a fill that made liquidity (0.02 %).
const MAKER_RATE: Decimal = Decimal::from_parts(2, 0, 0, false, 4);
/// A contract's leverage until the account changes it (Binance's default, 20×).
pub const DEFAULT_LEVERAGE: u32 = 20;
/// The highest leverage a contract takes.
pub const MAX_LEVERAGE: u32 = 125;
/// USD-M leverage brackets: up to this leverage, a position's notional
/// (USDT) may reach this much (`maxNotionalValue`; the simulator's own table,
/// shaped like Binance's BTCUSDT brackets, through Binance's documented
/// answer of `"1000000"` at 21×). Every contract uses it.
const USDM_BRACKETS: &[(u32, u64)] = &[
    (1, 1_000_000_000),
    (2, 600_000_000),
    (3, 400_000_000),
    (4, 200_000_000),
    (5, 100_000_000),
    (10, 40_000_000),
    (20, 7_500_000),
    (50, 1_000_000),
    (100, 250_000),
    (125, 50_000),
];
/// COIN-M leverage brackets: up to this leverage, a position may hold this
/// much of the coin (`maxQty`; the simulator's own table, through Binance's
/// documented answer of `"1000"` at 21×). Every contract uses it.
const COINM_BRACKETS: &[(u32, u64)] = &[
    (1, 50_000),
    (2, 20_000),
    (3, 10_000),
    (4, 5_000),
    (5, 3_000),
    (10, 2_000),
    (20, 1_500),
    (50, 1_000),
    (100, 100),
    (125, 50),
];

/// The user data of one futures venue.
pub struct FuturesUsers {
    venue: Venue,
    market: Arc<FuturesMarket>,
    hub: Arc<Hub>,
    validity: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The active listen key of each account (by API key).
    keys: HashMap<String, ListenKey>,
    /// Listen key → API key.
    owners: HashMap<String, String>,
    wallets: HashMap<String, Wallet>,
    /// Orders by (symbol, order id).
    orders: HashMap<(String, u64), Order>,
    /// Every event of each account, as sent.
    log: HashMap<String, Vec<String>>,
    /// The last `E` given, so event times never go back.
    last_time: u64,
}

struct ListenKey {
    key: String,
    expires: Instant,
}

/// An account's futures balances, one-way positions and leverages.
struct Wallet {
    balances: BTreeMap<String, Decimal>,
    positions: BTreeMap<String, Holding>,
    /// Each contract's leverage set by the account (others: [`DEFAULT_LEVERAGE`]).
    leverage: BTreeMap<String, u32>,
    /// When a fill last changed it (0: never).
    updated: u64,
}

/// One position: signed amount, entry price, realized profit so far.
#[derive(Clone, Copy, Default)]
struct Holding {
    amount: Decimal,
    entry: Decimal,
    realized: Decimal,
}

/// An account's futures order.
struct Order {
    api_key: String,
    symbol: String,
    client_order_id: String,
    side: Side,
    kind: &'static str,
    time_in_force: &'static str,
    quantity: Decimal,
    price: Decimal,
    filled: Decimal,
    /// Σ price × quantity of the fills.
    notional: Decimal,
    status: OrderStatus,
    time: u64,
}

/// Eight decimals, as balances are written.
fn eight(v: Decimal) -> Decimal {
    fixed_scale(v, 8)
}

impl FuturesUsers {
    /// The user data of `market`'s venue, published on its `hub`; listen
    /// keys live `validity` unless extended.
    pub fn new(market: Arc<FuturesMarket>, hub: Arc<Hub>, validity: Duration) -> Arc<Self> {
        let users = Arc::new(FuturesUsers {
            venue: market.venue(),
            market: market.clone(),
            hub,
            validity,
            state: Mutex::default(),
        });
        market.set_user_fills(users.clone());
        users
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// `POST listenKey`: the account's active key, extended, or a new one.
    pub fn create_listen_key(&self, api_key: &str) -> String {
        let mut st = self.state.lock().unwrap();
        let expires = Instant::now() + self.validity;
        if let Some(active) = st.keys.get_mut(api_key) {
            active.expires = expires;
            return active.key.clone();
        }
        let key = random_id(64);
        st.owners.insert(key.clone(), api_key.to_owned());
        st.keys.insert(
            api_key.to_owned(),
            ListenKey {
                key: key.clone(),
                expires,
            },
        );
        key
    }

    /// The account's active key, checked against `given` when sent; Binance's
    /// `-1125` when there is none or it is another.
    fn active_key(st: &State, api_key: &str, given: Option<&str>) -> Result<String, ApiErr> {
        match st.keys.get(api_key) {
            Some(active) if given.is_none_or(|g| g == active.key) => Ok(active.key.clone()),
            _ => Err(ApiErr::new(400, -1125, "This listenKey does not exist.")),
        }
    }

    /// `PUT listenKey`: extend the account's key by the validity.
    pub fn extend_listen_key(&self, api_key: &str, given: Option<&str>) -> Result<String, ApiErr> {
        let mut st = self.state.lock().unwrap();
        let key = Self::active_key(&st, api_key, given)?;
        if let Some(active) = st.keys.get_mut(api_key) {
            active.expires = Instant::now() + self.validity;
        }
        Ok(key)
    }

    /// `DELETE listenKey`: forget the account's key; the hub keys whose
    /// connections are to be ended.
    pub fn close_listen_key(&self, api_key: &str, given: Option<&str>) -> Result<String, ApiErr> {
        let mut st = self.state.lock().unwrap();
        let key = Self::active_key(&st, api_key, given)?;
        st.keys.remove(api_key);
        st.owners.remove(&key);
        Ok(key)
    }

    /// Whether `name` (a listen key, or `<key>#<event type>`) is a stream of
    /// an active key.
    pub fn is_user_stream(&self, name: &str) -> bool {
        let key = name.split_once('#').map_or(name, |(k, _)| k);
        self.state.lock().unwrap().owners.contains_key(key)
    }

    /// Expire the keys due (all of them with `all`): `listenKeyExpired` on
    /// each key's streams, then nothing more. Returns how many expired.
    pub fn expire(&self, all: bool) -> usize {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap();
        let due: Vec<String> = st
            .keys
            .iter()
            .filter(|(_, k)| all || k.expires <= now)
            .map(|(api, _)| api.clone())
            .collect();
        for api_key in &due {
            let key = st.keys[api_key].key.clone();
            let event = FuturesUserEvent::ListenKeyExpired(ListenKeyExpired::<Millis> {
                event_time: Time::new(next_time(&mut st)),
                listen_key: key.clone(),
            });
            // Published while the key is still active, then forgotten.
            self.emit(&mut st, api_key, &event);
            st.keys.remove(api_key);
            st.owners.remove(&key);
        }
        due.len()
    }

    /// Expire keys as they fall due, forever.
    pub async fn expire_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            self.expire(false);
        }
    }

    /// Every user event produced for the account on this venue, oldest first.
    pub fn events(&self, api_key: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.log.get(api_key).cloned().unwrap_or_default()
    }

    /// Log `event` for the account and publish it on its active key.
    fn emit(&self, st: &mut State, api_key: &str, event: &FuturesUserEvent) {
        let json = event.to_json();
        if let Some(active) = st.keys.get(api_key) {
            let key = &active.key;
            self.hub.publish_as(key, key, json.clone());
            let filtered = format!("{key}#{}", event.event_type());
            self.hub.publish_as(&filtered, key, json.clone());
        }
        st.log.entry(api_key.to_owned()).or_default().push(json);
    }

    /// The contract `symbol`; `-1121` when there is none.
    fn contract(&self, symbol: &str) -> Result<&Mutex<Contract>, ApiErr> {
        self.market
            .contract(symbol)
            .ok_or_else(ApiErr::invalid_symbol)
    }

    /// A new wallet on this venue.
    fn new_wallet(&self) -> Wallet {
        let assets = match self.venue {
            Venue::CoinM => COINM_WALLET,
            _ => USDM_WALLET,
        };
        Wallet {
            balances: assets
                .iter()
                .map(|&(a, v)| (a.to_owned(), Decimal::from(v)))
                .collect(),
            positions: BTreeMap::new(),
            leverage: BTreeMap::new(),
            updated: 0,
        }
    }

    /// The account's wallet, made when it has none yet.
    fn wallet_mut<'a>(&self, st: &'a mut State, api_key: &str) -> &'a mut Wallet {
        if !st.wallets.contains_key(api_key) {
            let wallet = self.new_wallet();
            st.wallets.insert(api_key.to_owned(), wallet);
        }
        st.wallets.get_mut(api_key).expect("just made")
    }

    /// The account's leverage on `symbol`.
    pub fn leverage(&self, api_key: &str, symbol: &str) -> u32 {
        let st = self.state.lock().unwrap();
        leverage_in(&st, api_key, symbol)
    }

    /// `POST leverage` (`/fapi/v1/leverage`, `/dapi/v1/leverage`): set the
    /// account's leverage on `symbol` to `leverage` (text as sent: a whole
    /// number from 1 to 125), push `ACCOUNT_CONFIG_UPDATE`, answer as
    /// Binance does (`leverage`, `maxNotionalValue` on USD-M or `maxQty` on
    /// COIN-M, `symbol`). Binance's errors: `-1102` when a parameter is
    /// missing, `-1100` when `leverage` is not a whole number, `-4028` when
    /// it is out of range, `-1121` for an unknown contract.
    pub fn set_leverage(
        &self,
        api_key: &str,
        symbol: Option<&str>,
        leverage: Option<&str>,
    ) -> Result<Value, ApiErr> {
        let symbol = symbol
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiErr::missing("symbol"))?
            .to_uppercase();
        let text = leverage
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ApiErr::missing("leverage"))?;
        let leverage: i64 = text.parse().map_err(|_| {
            ApiErr::new(
                400,
                -1100,
                format!(
                    "Illegal characters found in parameter 'leverage'; legal range is '^[0-9]{{1,3}}$' (a whole number from 1 to {MAX_LEVERAGE}, sent: '{text}')."
                ),
            )
        })?;
        self.contract(&symbol)?;
        let leverage = u32::try_from(leverage)
            .ok()
            .filter(|l| (1..=MAX_LEVERAGE).contains(l))
            .ok_or_else(|| ApiErr::new(400, -4028, format!("Leverage {leverage} is not valid")))?;
        let now = now_ms();
        let mut st = self.state.lock().unwrap();
        self.wallet_mut(&mut st, api_key)
            .leverage
            .insert(symbol.clone(), leverage);
        let event = FuturesUserEvent::AccountConfigUpdate(AccountConfigUpdate::<Millis> {
            event_time: Time::new(next_time(&mut st)),
            transaction_time: Time::new(now),
            leverage: Some(LeverageUpdate {
                symbol: symbol.clone(),
                leverage,
            }),
            multi_assets: None,
        });
        self.emit(&mut st, api_key, &event);
        let cap = |brackets: &[(u32, u64)]| {
            brackets
                .iter()
                .find(|(up_to, _)| leverage <= *up_to)
                .map_or(0, |(_, cap)| *cap)
                .to_string()
        };
        Ok(match self.venue {
            Venue::CoinM => json!({
                "leverage": leverage, "maxQty": cap(COINM_BRACKETS), "symbol": symbol,
            }),
            _ => json!({
                "leverage": leverage, "maxNotionalValue": cap(USDM_BRACKETS), "symbol": symbol,
            }),
        })
    }

    /// A position as `ACCOUNT_UPDATE` writes it, its profit valued at `mark`.
    fn position_entry(&self, c: &Contract, holding: &Holding, mark: Decimal) -> Position {
        let places = c.format();
        let size = Decimal::from(c.spec().contract_size);
        let unrealized = unrealized(holding, mark, self.venue, size);
        let entry = fixed_scale(holding.entry, places.average_places());
        Position {
            symbol: c.spec().spec.symbol.clone(),
            position_amount: holding.amount.normalize(),
            entry_price: entry,
            breakeven_price: match self.venue {
                Venue::CoinM => entry,
                _ => holding.entry.normalize(),
            },
            accumulated_realized: zero_or(holding.realized, 8),
            unrealized_pnl: zero_or(unrealized, places.unrealized_places()),
            margin_type: MarginType::Cross,
            isolated_wallet: Decimal::ZERO,
            position_side: PositionSide::Both,
        }
    }

    /// The asset a contract's margin, profit and fees are in: the quote on
    /// USD-M, the coin on COIN-M.
    fn margin_asset(&self, c: &Contract) -> String {
        match self.venue {
            Venue::CoinM => c.spec().spec.base_asset.clone(),
            _ => c.spec().spec.quote_asset.clone(),
        }
    }

    /// `POST order`: place, match, report; the order's JSON.
    pub fn place(&self, api_key: &str, req: &FuturesOrderRequest) -> Result<Value, ApiErr> {
        let contract = self.contract(&req.symbol)?;
        let mut c = contract.lock().unwrap();
        let now = now_ms();
        let order_type = match (req.kind, req.price) {
            ("MARKET", _) => OrderType::Market,
            ("LIMIT", Some(price)) => OrderType::Limit {
                price,
                time_in_force: req.time_in_force,
            },
            ("LIMIT", None) => return Err(ApiErr::missing("price")),
            (other, _) => return Err(ApiErr::illegal("type", other)),
        };
        let side = match req.side {
            Side::Buy => engine::Side::Buy,
            Side::Sell => engine::Side::Sell,
        };
        let new = NewOrder {
            side,
            order_type,
            qty: req.quantity,
        };
        let result = c
            .submit_user(new, now, &self.hub)
            .map_err(|e| ApiErr::new(400, i64::from(e.binance_code()), e.to_string()))?;
        let places = c.format();
        let mut st = self.state.lock().unwrap();
        let id = (req.symbol.clone(), result.order_id);
        st.orders.insert(
            id.clone(),
            Order {
                api_key: api_key.to_owned(),
                symbol: req.symbol.clone(),
                client_order_id: req.client_order_id.clone().unwrap_or_else(|| random_id(22)),
                side: req.side,
                kind: req.kind,
                time_in_force: match req.kind {
                    "MARKET" => "GTC",
                    _ => req.time_in_force.as_str(),
                },
                quantity: places.user_qty(req.quantity),
                price: req.price.unwrap_or_default(),
                filled: Decimal::ZERO,
                notional: Decimal::ZERO,
                status: OrderStatus::New,
                time: now,
            },
        );
        self.report(&mut st, &c, &id, ExecutionType::New, None);
        // (A resting account order this one met was settled by
        // `maker_fill` while the engine published.)
        for fill in &result.fills {
            self.fill(&mut st, &c, &id, fill, false);
        }
        if result.status == engine::OrderStatus::Expired {
            st.orders.get_mut(&id).expect("just placed").status = OrderStatus::Expired;
            self.report(&mut st, &c, &id, ExecutionType::Expired, None);
        }
        Ok(answer(&st, &c, &id))
    }

    /// `DELETE order`: cancel a resting order; the order's JSON.
    pub fn cancel(&self, api_key: &str, symbol: &str, id: OrderRef) -> Result<Value, ApiErr> {
        let contract = self.contract(symbol)?;
        let mut c = contract.lock().unwrap();
        let key = {
            let st = self.state.lock().unwrap();
            find(&st, api_key, symbol, &id)?
        };
        let cancelled = c.cancel_user(key.1, now_ms(), &self.hub);
        let mut st = self.state.lock().unwrap();
        if cancelled.is_none() {
            return Err(ApiErr::new(400, -2011, "Unknown order sent."));
        }
        st.orders.get_mut(&key).expect("found").status = OrderStatus::Canceled;
        self.report(&mut st, &c, &key, ExecutionType::Canceled, None);
        Ok(answer(&st, &c, &key))
    }

    /// `GET order`: the order's JSON.
    pub fn query(&self, api_key: &str, symbol: &str, id: OrderRef) -> Result<Value, ApiErr> {
        let contract = self.contract(symbol)?;
        let (places, size) = {
            let c = contract.lock().unwrap();
            (c.format(), c.spec().contract_size)
        };
        let st = self.state.lock().unwrap();
        let key = find(&st, api_key, symbol, &id)?;
        Ok(order_json(&st.orders[&key], key.1, places, size))
    }

    /// `PUT order` (`order.modify`): a resting LIMIT order's new `price`
    /// and total `quantity`; it keeps its id, reports `AMENDMENT`, then any
    /// fills at the new price. The order's JSON.
    pub fn modify(
        &self,
        api_key: &str,
        symbol: &str,
        id: OrderRef,
        quantity: Decimal,
        price: Decimal,
    ) -> Result<Value, ApiErr> {
        let contract = self.contract(symbol)?;
        let mut c = contract.lock().unwrap();
        let key = {
            let st = self.state.lock().unwrap();
            let key = find(&st, api_key, symbol, &id)?;
            let order = &st.orders[&key];
            if order.kind != "LIMIT" {
                return Err(ApiErr::new(400, -1116, "Invalid orderType."));
            }
            if quantity <= order.filled {
                return Err(ApiErr::illegal("quantity", &quantity.to_string()));
            }
            key
        };
        let now = now_ms();
        let amended = c
            .amend_user(key.1, price, quantity, now, &self.hub)
            .map_err(|e| ApiErr::new(400, i64::from(e.binance_code()), e.to_string()))?
            .ok_or_else(|| ApiErr::new(400, -2013, "Order does not exist."))?;
        let places = c.format();
        let mut st = self.state.lock().unwrap();
        let order = st.orders.get_mut(&key).expect("found");
        order.quantity = places.user_qty(quantity);
        order.price = price;
        order.time = now;
        self.report(&mut st, &c, &key, ExecutionType::Amendment, None);
        for fill in &amended.fills {
            self.fill(&mut st, &c, &key, fill, false);
        }
        Ok(answer(&st, &c, &key))
    }

    /// The account's wallet as it stands (a new one before any fill).
    fn wallet_view(
        &self,
        api_key: &str,
    ) -> (BTreeMap<String, Decimal>, Vec<(String, Holding)>, u64) {
        let st = self.state.lock().unwrap();
        match st.wallets.get(api_key) {
            Some(w) => (
                w.balances.clone(),
                w.positions.iter().map(|(s, h)| (s.clone(), *h)).collect(),
                w.updated,
            ),
            None => (self.new_wallet().balances, Vec::new(), 0),
        }
    }

    /// `account.balance` (`GET /fapi/v3/balance`, `/dapi/v1/balance`): one
    /// entry per asset of the wallet, cross margin, nothing locked.
    pub fn balance_json(&self, api_key: &str) -> Value {
        let (balances, _, updated) = self.wallet_view(api_key);
        let alias = self.alias(api_key).unwrap_or_else(|| "SgsR".to_owned());
        let text = |v: &Decimal| eight(*v).to_string();
        balances
            .iter()
            .map(|(asset, balance)| {
                let mut entry = json!({
                    "accountAlias": alias, "asset": asset, "balance": text(balance),
                    "crossWalletBalance": text(balance), "crossUnPnl": "0.00000000",
                    "availableBalance": text(balance),
                });
                let map = entry.as_object_mut().expect("an object");
                match self.venue {
                    Venue::CoinM => map.insert("withdrawAvailable".into(), json!(text(balance))),
                    _ => {
                        map.insert("maxWithdrawAmount".into(), json!(text(balance)));
                        map.insert("marginAvailable".into(), json!(true))
                    }
                };
                map.insert("updateTime".into(), json!(updated));
                entry
            })
            .collect()
    }

    /// `account.position` (`GET /fapi/v3/positionRisk`,
    /// `/dapi/v1/positionRisk`): the account's open one-way positions, of
    /// `symbol` alone when given (`-1121` when it is not a contract).
    pub fn position_json(&self, api_key: &str, symbol: Option<&str>) -> Result<Value, ApiErr> {
        if let Some(symbol) = symbol {
            self.contract(symbol)?;
        }
        let (_, positions, updated) = self.wallet_view(api_key);
        let mut out = Vec::new();
        for (name, h) in positions {
            if h.amount.is_zero() || symbol.is_some_and(|s| s != name) {
                continue;
            }
            let Some(contract) = self.market.contract(&name) else {
                continue;
            };
            let c = contract.lock().unwrap();
            let places = c.format();
            let size = Decimal::from(c.spec().contract_size);
            let mark = c.engine().last_trade_price().unwrap_or(h.entry);
            let margin_asset = match self.venue {
                Venue::CoinM => c.spec().spec.base_asset.clone(),
                _ => c.spec().spec.quote_asset.clone(),
            };
            let notional = match self.venue {
                Venue::CoinM => h.amount * size / nonzero(mark),
                _ => h.amount * mark,
            };
            let entry = fixed_scale(h.entry, places.average_places());
            let leverage = self.leverage(api_key, &name);
            out.push(json!({
                "symbol": name, "positionSide": "BOTH",
                "positionAmt": h.amount.normalize().to_string(),
                "entryPrice": entry.to_string(), "breakEvenPrice": entry.to_string(),
                "markPrice": fixed_scale(mark, 8).to_string(),
                "unRealizedProfit": eight(unrealized(&h, mark, self.venue, size)).to_string(),
                "liquidationPrice": "0", "leverage": leverage.to_string(),
                "marginType": "cross", "isolatedMargin": "0",
                "isolatedWallet": "0", "notional": eight(notional).to_string(),
                "marginAsset": margin_asset, "updateTime": updated,
            }));
        }
        Ok(Value::Array(out))
    }

    /// `account.status` (`GET /fapi/v3/account`, `/dapi/v1/account`): the
    /// trading flags, [`Self::balance_json`]'s assets and
    /// [`Self::position_json`]'s positions.
    pub fn account_json(&self, api_key: &str) -> Value {
        let (_, _, updated) = self.wallet_view(api_key);
        json!({
            "feeTier": 0, "canTrade": true, "canDeposit": true, "canWithdraw": true,
            "updateTime": updated,
            "assets": self.balance_json(api_key),
            "positions": self.position_json(api_key, None).expect("no symbol to check"),
        })
    }

    /// Settle one fill of order `id` (the maker side with `maker`), then
    /// report it: `TRADE_LITE` (USD-M), `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`.
    fn fill(&self, st: &mut State, c: &Contract, id: &(String, u64), fill: &Fill, maker: bool) {
        let Some(order) = st.orders.get_mut(id) else {
            return;
        };
        order.filled += fill.qty;
        order.notional += fill.price * fill.qty;
        order.status = if order.filled >= order.quantity {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let (api_key, side) = (order.api_key.clone(), order.side);
        let spec = c.spec();
        let size = Decimal::from(spec.contract_size);
        let rate = if maker { MAKER_RATE } else { TAKER_RATE };
        // USD-M settles in the quote asset, COIN-M in the base coin.
        let (asset, commission) = match self.venue {
            Venue::CoinM => (
                spec.spec.base_asset.clone(),
                fill.qty * size / fill.price * rate,
            ),
            _ => (spec.spec.quote_asset.clone(), fill.qty * fill.price * rate),
        };
        let wallet = self.wallet_mut(st, &api_key);
        wallet.updated = fill.time_ms;
        let holding = wallet.positions.entry(id.0.clone()).or_default();
        let signed = match side {
            Side::Buy => fill.qty,
            Side::Sell => -fill.qty,
        };
        let realized = trade(holding, signed, fill.price, self.venue, size);
        let holding = *holding;
        let balance = wallet.balances.entry(asset.clone()).or_default();
        *balance += realized - commission;
        let balance = *balance;
        let places = c.format();
        let time = next_time(st);
        if self.venue == Venue::UsdM {
            let order = &st.orders[id];
            let lite = FuturesUserEvent::TradeLite(TradeLite::<Millis> {
                event_time: Time::new(time),
                transaction_time: Time::new(fill.time_ms),
                symbol: order.symbol.clone(),
                quantity: order.quantity,
                price: places.user_price(order.price),
                is_maker: maker,
                client_order_id: order.client_order_id.clone(),
                side: order.side,
                last_filled_price: places.user_price(fill.price),
                last_filled_quantity: places.user_qty(fill.qty),
                trade_id: fill.trade_id as i64,
                order_id: id.1,
            });
            self.emit(st, &api_key, &lite);
        }
        let last = Last {
            fill: *fill,
            maker,
            commission,
            realized,
        };
        self.report(st, c, id, ExecutionType::Trade, Some(last));
        let mark = c.engine().last_trade_price().unwrap_or(fill.price);
        let update = FuturesUserEvent::AccountUpdate(AccountUpdate::<Millis> {
            event_time: Time::new(next_time(st)),
            transaction_time: Time::new(fill.time_ms),
            account_alias: self.alias(&api_key),
            update: AccountData {
                reason: AccountUpdateReason::Order,
                balances: vec![FuturesBalance {
                    asset,
                    wallet_balance: eight(balance),
                    cross_wallet_balance: eight(balance),
                    balance_change: Decimal::ZERO,
                }],
                positions: vec![self.position_entry(c, &holding, mark)],
            },
        });
        self.emit(st, &api_key, &update);
    }

    /// COIN-M's account alias (`i`): a short name made from the API key.
    fn alias(&self, api_key: &str) -> Option<String> {
        (self.venue == Venue::CoinM).then(|| {
            let alias: String = api_key
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(4)
                .collect();
            if alias.is_empty() {
                "SfsR".to_owned()
            } else {
                alias
            }
        })
    }

    /// `ORDER_TRADE_UPDATE` of order `id` as it now stands.
    fn report(
        &self,
        st: &mut State,
        c: &Contract,
        id: &(String, u64),
        execution: ExecutionType,
        last: Option<Last>,
    ) {
        let places = c.format();
        let order = &st.orders[id];
        let api_key = order.api_key.clone();
        // Notional of the account's open orders on the contract, by side.
        let open = |side: Side| -> Decimal {
            st.orders
                .values()
                .filter(|o| o.api_key == api_key && o.symbol == order.symbol && o.side == side)
                .filter(|o| matches!(o.status, OrderStatus::New | OrderStatus::PartiallyFilled))
                .map(|o| o.price * (o.quantity - o.filled))
                .sum::<Decimal>()
                .normalize()
        };
        let margin_asset = match self.venue {
            Venue::CoinM => c.spec().spec.base_asset.clone(),
            _ => c.spec().spec.quote_asset.clone(),
        };
        let usdm = self.venue == Venue::UsdM;
        let average = if order.filled.is_zero() {
            Decimal::ZERO
        } else {
            let avg = order.notional / order.filled;
            fixed_scale(avg, places.average_places())
        };
        let now = now_ms();
        let o = FuturesOrder::<Millis> {
            symbol: order.symbol.clone(),
            client_order_id: order.client_order_id.clone(),
            side: order.side,
            order_type: order.kind.to_owned(),
            time_in_force: order.time_in_force.to_owned(),
            quantity: order.quantity,
            price: places.user_price(order.price),
            average_price: average,
            stop_price: Decimal::ZERO,
            execution_type: execution,
            order_status: order.status.clone(),
            order_id: id.1,
            last_filled_quantity: places.user_qty(last.map_or(Decimal::ZERO, |l| l.fill.qty)),
            cumulative_filled_quantity: places.user_qty(order.filled),
            last_filled_price: places.user_price(last.map_or(Decimal::ZERO, |l| l.fill.price)),
            margin_asset: (!usdm).then(|| margin_asset.clone()),
            commission_asset: Some(margin_asset),
            commission: Some(zero_or(last.map_or(Decimal::ZERO, |l| l.commission), 8)),
            trade_time: Time::new(last.map_or(now, |l| l.fill.time_ms)),
            trade_id: last.map_or(0, |l| l.fill.trade_id as i64),
            realized_profit: zero_or(last.map_or(Decimal::ZERO, |l| l.realized), 8),
            bids_notional: open(Side::Buy),
            asks_notional: open(Side::Sell),
            is_maker: last.is_some_and(|l| l.maker),
            is_reduce_only: false,
            working_type: "CONTRACT_PRICE".to_owned(),
            original_order_type: order.kind.to_owned(),
            position_side: PositionSide::Both,
            close_position: false,
            activation_price: None,
            callback_rate: None,
            price_protect: false,
            stop_order_id: usdm.then_some(0),
            strategy_id: usdm.then_some(0),
            self_trade_prevention_mode: Some("EXPIRE_TAKER".to_owned()),
            price_match: Some("NONE".to_owned()),
            good_till_date: usdm.then_some(0),
            expiry_reason: Some("0".to_owned()),
        };
        let event = FuturesUserEvent::OrderTradeUpdate(OrderTradeUpdate {
            event_time: Time::new(next_time(st)),
            transaction_time: Time::new(last.map_or(now, |l| l.fill.time_ms)),
            account_alias: self.alias(&api_key),
            order: o,
        });
        self.emit(st, &api_key, &event);
    }
}

impl UserFills for FuturesUsers {
    fn maker_fill(&self, contract: &Contract, fill: &Fill, _now: u64) -> bool {
        let mut st = self.state.lock().unwrap();
        let id = (contract.spec().spec.symbol.clone(), fill.maker_order_id);
        self.fill(&mut st, contract, &id, fill, true);
        st.orders
            .get(&id)
            .is_none_or(|o| o.status == OrderStatus::Filled)
    }

    /// Each account with a position on the contract pays (or receives)
    /// `amount × mark × rate` of USDT on USD-M, `amount × contract size /
    /// mark × rate` of the coin on COIN-M, at eight decimals; longs pay
    /// when the rate is positive. The wallet changes and `ACCOUNT_UPDATE`
    /// (`FUNDING_FEE`) reports the balance, the change (`bc`) and the
    /// position.
    fn funding(&self, contract: &Contract, funding: &Funding) {
        let symbol = contract.spec().spec.symbol.clone();
        let size = Decimal::from(contract.spec().contract_size);
        let asset = self.margin_asset(contract);
        let mut st = self.state.lock().unwrap();
        let mut holders: Vec<String> = st
            .wallets
            .iter()
            .filter(|(_, w)| {
                w.positions
                    .get(&symbol)
                    .is_some_and(|h| !h.amount.is_zero())
            })
            .map(|(api_key, _)| api_key.clone())
            .collect();
        holders.sort();
        for api_key in holders {
            let wallet = st.wallets.get_mut(&api_key).expect("listed");
            let holding = wallet.positions[&symbol];
            let fee = match self.venue {
                Venue::CoinM if funding.mark_price.is_zero() => Decimal::ZERO,
                Venue::CoinM => holding.amount * size / funding.mark_price * funding.rate,
                _ => holding.amount * funding.mark_price * funding.rate,
            };
            let change = eight(-fee);
            if change.is_zero() {
                continue;
            }
            let balance = wallet.balances.entry(asset.clone()).or_default();
            *balance += change;
            let balance = *balance;
            wallet.updated = funding.time;
            let update = FuturesUserEvent::AccountUpdate(AccountUpdate::<Millis> {
                event_time: Time::new(next_time(&mut st)),
                transaction_time: Time::new(funding.time),
                account_alias: self.alias(&api_key),
                update: AccountData {
                    reason: AccountUpdateReason::FundingFee,
                    balances: vec![FuturesBalance {
                        asset: asset.clone(),
                        wallet_balance: eight(balance),
                        cross_wallet_balance: eight(balance),
                        balance_change: change,
                    }],
                    positions: vec![self.position_entry(contract, &holding, funding.mark_price)],
                },
            });
            self.emit(&mut st, &api_key, &update);
        }
    }
}

/// The account's leverage on `symbol` ([`DEFAULT_LEVERAGE`] until set).
fn leverage_in(st: &State, api_key: &str, symbol: &str) -> u32 {
    st.wallets
        .get(api_key)
        .and_then(|w| w.leverage.get(symbol).copied())
        .unwrap_or(DEFAULT_LEVERAGE)
}

/// The fill an `ORDER_TRADE_UPDATE` reports, and what it cost and earned.
#[derive(Clone, Copy)]
struct Last {
    fill: Fill,
    maker: bool,
    commission: Decimal,
    realized: Decimal,
}

/// The next event time: now, never before the last one given.
fn next_time(st: &mut State) -> u64 {
    st.last_time = st.last_time.max(now_ms());
    st.last_time
}

/// Apply a trade of `signed` contracts at `price` to a one-way position;
/// the profit it realizes (USD-M linear, COIN-M inverse in the coin).
fn trade(h: &mut Holding, signed: Decimal, price: Decimal, venue: Venue, size: Decimal) -> Decimal {
    let same_way = h.amount.is_zero() || h.amount.is_sign_positive() == signed.is_sign_positive();
    if same_way {
        let total = h.amount + signed;
        h.entry = match venue {
            // COIN-M averages entry prices harmonically (contracts are USD).
            Venue::CoinM => {
                total.abs() / (h.amount.abs() / nonzero(h.entry) + signed.abs() / price)
            }
            _ => (h.entry * h.amount.abs() + price * signed.abs()) / total.abs(),
        };
        h.amount = total;
        return Decimal::ZERO;
    }
    let closed = signed.abs().min(h.amount.abs());
    let direction = if h.amount.is_sign_positive() {
        Decimal::ONE
    } else {
        -Decimal::ONE
    };
    let realized = match venue {
        Venue::CoinM => direction * closed * size * (Decimal::ONE / h.entry - Decimal::ONE / price),
        _ => direction * closed * (price - h.entry),
    };
    h.realized += realized;
    h.amount += signed;
    if h.amount.is_zero() {
        h.entry = Decimal::ZERO;
    } else if h.amount.is_sign_positive() != direction.is_sign_positive() {
        // Flipped: the rest opens a new position at this price.
        h.entry = price;
    }
    realized
}

/// A position's unrealized profit at `mark` (USD-M linear, COIN-M inverse
/// in the coin).
fn unrealized(h: &Holding, mark: Decimal, venue: Venue, size: Decimal) -> Decimal {
    match venue {
        Venue::CoinM if !h.entry.is_zero() && !mark.is_zero() => {
            h.amount * size * (Decimal::ONE / h.entry - Decimal::ONE / mark)
        }
        Venue::CoinM => Decimal::ZERO,
        _ => h.amount * (mark - h.entry),
    }
}

/// `v`, or one when zero (an empty position's entry in a harmonic mean
/// whose weight is zero anyway).
fn nonzero(v: Decimal) -> Decimal {
    if v.is_zero() {
        Decimal::ONE
    } else {
        v
    }
}

/// The order a request names: by `orderId` or `origClientOrderId`.
pub enum OrderRef {
    /// `orderId`.
    Id(u64),
    /// `origClientOrderId`.
    Client(String),
}

impl OrderRef {
    /// The `symbol` (uppercase) and order a cancel, query or modify names;
    /// `orderId` wins over `origClientOrderId`.
    pub fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<(String, OrderRef), ApiErr> {
        let symbol = get("symbol")
            .ok_or_else(|| ApiErr::missing("symbol"))?
            .to_uppercase();
        let id = match (get("orderId"), get("origClientOrderId")) {
            (Some(id), _) => OrderRef::Id(id.parse().map_err(|_| ApiErr::illegal("orderId", &id))?),
            (None, Some(client)) => OrderRef::Client(client),
            (None, None) => return Err(ApiErr::missing("orderId")),
        };
        Ok((symbol, id))
    }
}

/// The account's order on `symbol` named by `id`; `-2013` when none.
fn find(st: &State, api_key: &str, symbol: &str, id: &OrderRef) -> Result<(String, u64), ApiErr> {
    st.orders
        .iter()
        .find(|((s, oid), o)| {
            s == symbol
                && o.api_key == api_key
                && match id {
                    OrderRef::Id(want) => oid == want,
                    OrderRef::Client(want) => &o.client_order_id == want,
                }
        })
        .map(|(k, _)| k.clone())
        .ok_or_else(|| ApiErr::new(400, -2013, "Order does not exist."))
}

/// A parsed `POST order`.
pub struct FuturesOrderRequest {
    /// `symbol`, uppercase.
    pub symbol: String,
    /// `side`.
    pub side: Side,
    /// `type`: `MARKET` or `LIMIT`.
    pub kind: &'static str,
    /// `quantity` (contracts on COIN-M).
    pub quantity: Decimal,
    /// `price` (`LIMIT`).
    pub price: Option<Decimal>,
    /// `timeInForce` (`LIMIT`; default `GTC`).
    pub time_in_force: TimeInForce,
    /// `newClientOrderId`.
    pub client_order_id: Option<String>,
}

impl FuturesOrderRequest {
    /// Read a request's parameters as Binance checks them.
    pub fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ApiErr> {
        let need = |name: &str| get(name).ok_or_else(|| ApiErr::missing(name));
        let decimal = |name: &str, text: String| {
            text.parse::<Decimal>()
                .map_err(|_| ApiErr::illegal(name, &text))
        };
        let side = match need("side")?.as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => return Err(ApiErr::illegal("side", other)),
        };
        let kind = match need("type")?.as_str() {
            "MARKET" => "MARKET",
            "LIMIT" => "LIMIT",
            other => return Err(ApiErr::illegal("type", other)),
        };
        let time_in_force = match get("timeInForce").as_deref() {
            None | Some("GTC") => TimeInForce::Gtc,
            Some("IOC") => TimeInForce::Ioc,
            Some("FOK") => TimeInForce::Fok,
            Some(other) => return Err(ApiErr::illegal("timeInForce", other)),
        };
        Ok(FuturesOrderRequest {
            symbol: need("symbol")?.to_uppercase(),
            side,
            kind,
            quantity: decimal("quantity", need("quantity")?)?,
            price: get("price").map(|p| decimal("price", p)).transpose()?,
            time_in_force,
            client_order_id: get("newClientOrderId"),
        })
    }
}

/// Order `id` as the futures REST answers it.
fn answer(st: &State, c: &Contract, id: &(String, u64)) -> Value {
    order_json(&st.orders[id], id.1, c.format(), c.spec().contract_size)
}

/// The order as the futures REST answers it.
fn order_json(o: &Order, order_id: u64, places: Format, contract_size: u32) -> Value {
    let average = if o.filled.is_zero() {
        Decimal::ZERO
    } else {
        fixed_scale(o.notional / o.filled, places.average_places())
    };
    // COIN-M's filled amount in the coin: contracts × size / average price.
    let base = if average.is_zero() {
        Decimal::ZERO
    } else {
        o.filled * Decimal::from(contract_size) / average
    };
    let text = |v: Decimal| v.to_string();
    let mut body = json!({
        "clientOrderId": o.client_order_id, "cumQty": text(places.user_qty(o.filled)),
        "executedQty": text(places.user_qty(o.filled)), "orderId": order_id,
        "avgPrice": text(average), "origQty": text(o.quantity),
        "price": text(places.user_price(o.price)), "reduceOnly": false, "side": o.side,
        "positionSide": "BOTH", "status": o.status.as_str(), "stopPrice": "0",
        "closePosition": false, "symbol": o.symbol, "timeInForce": o.time_in_force,
        "type": o.kind, "origType": o.kind, "updateTime": o.time,
        "workingType": "CONTRACT_PRICE", "priceProtect": false,
        "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_TAKER",
    });
    let map = body.as_object_mut().expect("an object");
    match places.venue {
        Venue::CoinM => {
            map.insert("cumBase".into(), json!(text(zero_or(base, 8))));
        }
        _ => {
            map.insert("cumQuote".into(), json!(text(zero_or(o.notional, 8))));
            map.insert("goodTillDate".into(), json!(0));
        }
    }
    body
}
