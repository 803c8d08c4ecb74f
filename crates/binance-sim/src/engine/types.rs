//! Public data types of the market engine: symbol filters, flow configuration,
//! user orders and everything the engine reports back.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Static description of one tradable symbol and its exchange filters
/// (Binance `PRICE_FILTER` and `LOT_SIZE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Symbol name as Binance spells it, e.g. `"BTCUSDT"`.
    pub symbol: String,
    /// Base asset, e.g. `"BTC"`.
    pub base_asset: String,
    /// Quote asset, e.g. `"USDT"`.
    pub quote_asset: String,
    /// Every price is an integer multiple of this.
    pub tick_size: Decimal,
    /// Every quantity is an integer multiple of this.
    pub step_size: Decimal,
    /// Smallest quantity a new order may have.
    pub min_qty: Decimal,
    /// Lowest accepted price.
    pub min_price: Decimal,
    /// Highest accepted price.
    pub max_price: Decimal,
    /// Price around which the engine seeds its initial book.
    pub initial_price: Decimal,
}

/// Parses a decimal literal that is known to be valid (used for built-in tables).
fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("built-in decimal literal is valid")
}

impl SymbolSpec {
    /// Builds a spec from string literals; panics on malformed decimals, so it
    /// is meant for constant tables and tests.
    #[allow(clippy::too_many_arguments)]
    pub fn from_strs(
        symbol: &str,
        base_asset: &str,
        quote_asset: &str,
        tick_size: &str,
        step_size: &str,
        min_qty: &str,
        min_price: &str,
        max_price: &str,
        initial_price: &str,
    ) -> SymbolSpec {
        SymbolSpec {
            symbol: symbol.to_owned(),
            base_asset: base_asset.to_owned(),
            quote_asset: quote_asset.to_owned(),
            tick_size: dec(tick_size),
            step_size: dec(step_size),
            min_qty: dec(min_qty),
            min_price: dec(min_price),
            max_price: dec(max_price),
            initial_price: dec(initial_price),
        }
    }

    /// The built-in symbols with filters close to Binance spot's.
    ///
    /// Prices produced by the engine carry the scale of `tick_size` and
    /// quantities the scale of `step_size` (e.g. BNBBTC prices look like
    /// `0.00850100`).
    pub fn builtin() -> Vec<SymbolSpec> {
        // symbol, base, quote, tick, step, min qty, min price, max price, initial price
        #[rustfmt::skip]
        const TABLE: [[&str; 9]; 6] = [
            ["BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "0.01", "1000000.00", "60000.00"],
            ["ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "0.01", "1000000.00", "3000.00"],
            ["BNBBTC", "BNB", "BTC", "0.00000100", "0.001", "0.001", "0.00000100", "100000.00000000", "0.00850000"],
            ["BNBUSDT", "BNB", "USDT", "0.01", "0.001", "0.001", "0.01", "100000.00", "600.00"],
            ["SOLUSDT", "SOL", "USDT", "0.01", "0.001", "0.001", "0.01", "100000.00", "150.00"],
            ["XRPUSDT", "XRP", "USDT", "0.0001", "0.1", "0.1", "0.0001", "10000.0000", "0.6000"],
        ];
        TABLE
            .iter()
            .map(
                |[s, b, q, tick, step, min_qty, min_price, max_price, initial]| {
                    SymbolSpec::from_strs(
                        s, b, q, tick, step, min_qty, min_price, max_price, initial,
                    )
                },
            )
            .collect()
    }
}

/// Side of an order, or of the book a level belongs to (`Buy` = bids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Buy order / bid side.
    Buy,
    /// Sell order / ask side.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Binance spelling: `"BUY"` or `"SELL"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

impl From<Side> for binance_types::user::Side {
    fn from(side: Side) -> Self {
        match side {
            Side::Buy => binance_types::user::Side::Buy,
            Side::Sell => binance_types::user::Side::Sell,
        }
    }
}

/// Shape of the synthetic order flow driven by [`Engine::step`](super::Engine::step).
///
/// The three `*_probability` fields are relative weights of the action kinds;
/// they are normalised by their sum, so they need not add up to one.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// Weight of "add a resting limit order".
    pub add_probability: f64,
    /// Weight of "cancel a resting synthetic order".
    pub cancel_probability: f64,
    /// Weight of "send a marketable order that takes liquidity".
    pub take_probability: f64,
    /// Smallest synthetic order size, in lots (multiples of `step_size`);
    /// raised to the symbol's `min_qty` if lower.
    pub min_lots: u64,
    /// Largest synthetic order size, in lots. Sizes are log-uniform in between.
    pub max_lots: u64,
    /// Mean distance, in ticks, of new near-the-touch limit orders from the
    /// opposite best price (exponentially distributed, at least one tick).
    pub mean_offset_ticks: f64,
    /// Cap on that distance, in ticks.
    pub max_offset_ticks: u64,
    /// Number of price levels the flow tries to keep on each side.
    pub target_depth: usize,
    /// Probability that a taking order is sized to sweep several levels.
    pub sweep_probability: f64,
    /// Most levels one sweeping order consumes (at least 2 to allow sweeps).
    pub max_sweep_levels: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            add_probability: 0.55,
            cancel_probability: 0.30,
            take_probability: 0.15,
            min_lots: 1,
            max_lots: 2_000,
            mean_offset_ticks: 6.0,
            max_offset_ticks: 1_000,
            target_depth: 200,
            sweep_probability: 0.10,
            max_sweep_levels: 4,
        }
    }
}

/// How long a limit order stays active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till canceled: the unfilled remainder rests on the book.
    Gtc,
    /// Immediate or cancel: the unfilled remainder expires.
    Ioc,
    /// Fill or kill: fills completely at once or expires without any fill.
    Fok,
}

impl TimeInForce {
    /// Binance spelling: `"GTC"`, `"IOC"` or `"FOK"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

/// Order type of a user order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// Takes liquidity at any price; the unfilled remainder expires.
    Market,
    /// Limit order at `price` with the given time in force.
    Limit {
        /// Limit price.
        price: Decimal,
        /// Time in force.
        time_in_force: TimeInForce,
    },
    /// Post-only limit order: rejected if it would match on arrival.
    LimitMaker {
        /// Limit price.
        price: Decimal,
    },
}

impl OrderType {
    /// Binance spelling: `"MARKET"`, `"LIMIT"` or `"LIMIT_MAKER"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderType::Market => "MARKET",
            OrderType::Limit { .. } => "LIMIT",
            OrderType::LimitMaker { .. } => "LIMIT_MAKER",
        }
    }

    /// The time in force Binance reports for it (`GTC` but for IOC and FOK limits).
    pub fn time_in_force(&self) -> TimeInForce {
        match *self {
            OrderType::Limit { time_in_force, .. } => time_in_force,
            OrderType::Market | OrderType::LimitMaker { .. } => TimeInForce::Gtc,
        }
    }

    /// The limit price, if the type has one.
    pub fn price(&self) -> Option<Decimal> {
        match *self {
            OrderType::Market => None,
            OrderType::Limit { price, .. } | OrderType::LimitMaker { price } => Some(price),
        }
    }
}

/// A user order handed to [`Engine::submit`](super::Engine::submit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NewOrder {
    /// Buy or sell.
    pub side: Side,
    /// Market, limit or limit-maker.
    pub order_type: OrderType,
    /// Base-asset quantity.
    pub qty: Decimal,
}

impl NewOrder {
    /// A market order.
    pub fn market(side: Side, qty: Decimal) -> NewOrder {
        NewOrder {
            side,
            order_type: OrderType::Market,
            qty,
        }
    }

    /// A limit order.
    pub fn limit(side: Side, price: Decimal, qty: Decimal, time_in_force: TimeInForce) -> NewOrder {
        NewOrder {
            side,
            order_type: OrderType::Limit {
                price,
                time_in_force,
            },
            qty,
        }
    }

    /// A post-only limit order.
    pub fn limit_maker(side: Side, price: Decimal, qty: Decimal) -> NewOrder {
        NewOrder {
            side,
            order_type: OrderType::LimitMaker { price },
            qty,
        }
    }
}

/// Order status after an engine call, as in Binance's `X` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Resting, nothing filled.
    New,
    /// Resting with part of it filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Canceled by the user.
    Canceled,
    /// Remainder expired (IOC/FOK/market without enough liquidity).
    Expired,
}

impl OrderStatus {
    /// Binance spelling, e.g. `"PARTIALLY_FILLED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Expired => "EXPIRED",
        }
    }
}

/// Why [`Engine::submit`](super::Engine::submit) refused an order. Nothing
/// changes in the engine (no order id, no update id) when it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// Quantity is zero or negative.
    NonPositiveQty {
        /// The offending quantity.
        qty: Decimal,
    },
    /// Quantity is not a multiple of `step_size`.
    QtyNotOnStep {
        /// The offending quantity.
        qty: Decimal,
        /// The symbol's step size.
        step_size: Decimal,
    },
    /// Quantity is below `min_qty`.
    QtyBelowMin {
        /// The offending quantity.
        qty: Decimal,
        /// The symbol's minimum quantity.
        min_qty: Decimal,
    },
    /// Quantity is too large for the engine to count in lots.
    QtyTooLarge {
        /// The offending quantity.
        qty: Decimal,
    },
    /// Price is not a multiple of `tick_size`.
    PriceNotOnTick {
        /// The offending price.
        price: Decimal,
        /// The symbol's tick size.
        tick_size: Decimal,
    },
    /// Price is outside `[min_price, max_price]`.
    PriceOutOfRange {
        /// The offending price.
        price: Decimal,
        /// The symbol's lowest price.
        min_price: Decimal,
        /// The symbol's highest price.
        max_price: Decimal,
    },
    /// A `LIMIT_MAKER` order would have matched on arrival.
    WouldImmediatelyMatch,
}

impl OrderError {
    /// The error code Binance returns for this rejection.
    pub fn binance_code(&self) -> i32 {
        match self {
            OrderError::WouldImmediatelyMatch => -2010,
            _ => -1013,
        }
    }
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::NonPositiveQty { qty } => write!(f, "Invalid quantity: {qty}"),
            OrderError::QtyNotOnStep { qty, step_size } => write!(
                f,
                "Filter failure: LOT_SIZE (quantity {qty} is not a multiple of step size {step_size})"
            ),
            OrderError::QtyBelowMin { qty, min_qty } => write!(
                f,
                "Filter failure: LOT_SIZE (quantity {qty} is below minimum {min_qty})"
            ),
            OrderError::QtyTooLarge { qty } => {
                write!(f, "Filter failure: LOT_SIZE (quantity {qty} is too large)")
            }
            OrderError::PriceNotOnTick { price, tick_size } => write!(
                f,
                "Filter failure: PRICE_FILTER (price {price} is not a multiple of tick size {tick_size})"
            ),
            OrderError::PriceOutOfRange {
                price,
                min_price,
                max_price,
            } => write!(
                f,
                "Filter failure: PRICE_FILTER (price {price} is outside [{min_price}, {max_price}])"
            ),
            OrderError::WouldImmediatelyMatch => {
                write!(f, "Order would immediately match and take.")
            }
        }
    }
}

impl std::error::Error for OrderError {}

/// One price level's new state after a book change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelChange {
    /// `Buy` = bid level, `Sell` = ask level.
    pub side: Side,
    /// Level price.
    pub price: Decimal,
    /// New absolute aggregated quantity at this price; zero = level removed.
    pub qty: Decimal,
    /// The book update id of the change event this belongs to.
    pub update_id: u64,
}

/// One match between a taker and a resting maker order (one Binance trade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fill {
    /// Trade id, sequential from 1 per symbol.
    pub trade_id: u64,
    /// Execution price: always the maker's price.
    pub price: Decimal,
    /// Executed base quantity.
    pub qty: Decimal,
    /// `price * qty`, exact.
    pub quote_qty: Decimal,
    /// Time of the action that produced the fill.
    pub time_ms: u64,
    /// True when the buyer was the resting (maker) side, i.e. the taker sold.
    pub buyer_is_maker: bool,
    /// Order id of the taker.
    pub taker_order_id: u64,
    /// Order id of the maker.
    pub maker_order_id: u64,
    /// Order id of the buyer (taker or maker).
    pub buyer_order_id: u64,
    /// Order id of the seller (taker or maker).
    pub seller_order_id: u64,
    /// The book update id of the change event this fill belongs to.
    pub update_id: u64,
}

impl Fill {
    /// Side of the taker order.
    pub fn taker_side(&self) -> Side {
        if self.buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        }
    }
}

/// Full or partial view of the book at one update id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BookSnapshot {
    /// Update id the view corresponds to (Binance `lastUpdateId`).
    pub last_update_id: u64,
    /// `(price, aggregated qty)`, best (highest) first.
    pub bids: Vec<(Decimal, Decimal)>,
    /// `(price, aggregated qty)`, best (lowest) first.
    pub asks: Vec<(Decimal, Decimal)>,
}

impl BookSnapshot {
    /// Sets `qty` (absolute) at `price` on `side`, removing the level on zero,
    /// keeping both sides sorted best first. Handy to replay [`LevelChange`]s
    /// onto a snapshot, the way a depth-stream client does.
    pub fn apply(&mut self, change: &LevelChange) {
        let levels = match change.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        // Bids are sorted descending, asks ascending.
        let pos = levels.binary_search_by(|(p, _)| match change.side {
            Side::Buy => change.price.cmp(p),
            Side::Sell => p.cmp(&change.price),
        });
        match (pos, change.qty.is_zero()) {
            (Ok(i), true) => {
                levels.remove(i);
            }
            (Ok(i), false) => levels[i].1 = change.qty,
            (Err(_), true) => {}
            (Err(i), false) => levels.insert(i, (change.price, change.qty)),
        }
        self.last_update_id = self.last_update_id.max(change.update_id);
    }
}

/// What a synthetic step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepAction {
    /// A synthetic limit order was added to the book.
    Add {
        /// Id of the new resting order.
        order_id: u64,
        /// Its side.
        side: Side,
        /// Its price.
        price: Decimal,
        /// Its quantity.
        qty: Decimal,
    },
    /// A resting synthetic order was canceled.
    Cancel {
        /// Id of the canceled order.
        order_id: u64,
        /// Its side.
        side: Side,
        /// Its price.
        price: Decimal,
        /// The quantity that was still open and got removed.
        qty: Decimal,
    },
    /// A synthetic market order took liquidity.
    Take {
        /// Id of the taker order.
        order_id: u64,
        /// Taker side.
        side: Side,
        /// Requested quantity (always fully filled for synthetic takers).
        qty: Decimal,
    },
    /// Nothing could be done (only possible with degenerate configurations).
    Idle,
}

/// Result of one [`Engine::step`](super::Engine::step).
///
/// Every action that changes the book consumes exactly one new update id, so
/// `update_ids` is `Some((U, u))` with `U == u` for such steps and `None` when
/// the book did not change (then `changes` and `fills` are empty). The pair
/// form mirrors Binance's depth diff `U`/`u` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutput {
    /// `(first_update_id, last_update_id)` of this step, if the book changed.
    pub update_ids: Option<(u64, u64)>,
    /// Each touched level once, with its new absolute quantity, in the order
    /// the levels changed.
    pub changes: Vec<LevelChange>,
    /// Every fill of this step, in execution order.
    pub fills: Vec<Fill>,
    /// The `now_ms` the step ran at.
    pub time_ms: u64,
    /// What the step did.
    pub action: StepAction,
}

impl StepOutput {
    /// Binance `U` (first update id), if the book changed.
    pub fn first_update_id(&self) -> Option<u64> {
        self.update_ids.map(|(first, _)| first)
    }

    /// Binance `u` (last update id), if the book changed.
    pub fn last_update_id(&self) -> Option<u64> {
        self.update_ids.map(|(_, last)| last)
    }
}

/// Outcome of an accepted user order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    /// Order id the engine assigned (shared sequence with synthetic orders).
    pub order_id: u64,
    /// The order as submitted.
    pub order: NewOrder,
    /// Status after the call: `New`/`PartiallyFilled` if it rests, `Filled`,
    /// or `Expired` if an unfilled remainder was dropped.
    pub status: OrderStatus,
    /// Quantity executed in this call.
    pub executed_qty: Decimal,
    /// Sum of `quote_qty` of the fills.
    pub cumulative_quote_qty: Decimal,
    /// `qty - executed_qty`: resting quantity, or the expired remainder.
    pub remaining_qty: Decimal,
    /// Every fill, in execution order.
    pub fills: Vec<Fill>,
    /// `(U, u)` consumed by this order, `None` if the book did not change
    /// (e.g. a FOK that expired).
    pub update_ids: Option<(u64, u64)>,
    /// Level changes of this order's book event.
    pub changes: Vec<LevelChange>,
    /// The `now_ms` of the call.
    pub time_ms: u64,
}

/// Outcome of a successful [`Engine::cancel`](super::Engine::cancel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelResult {
    /// The canceled order.
    pub order_id: u64,
    /// Its side.
    pub side: Side,
    /// Its price.
    pub price: Decimal,
    /// Its original quantity.
    pub orig_qty: Decimal,
    /// What had been executed before the cancel.
    pub executed_qty: Decimal,
    /// The open quantity that was removed from the book.
    pub canceled_qty: Decimal,
    /// Always [`OrderStatus::Canceled`].
    pub status: OrderStatus,
    /// The update id this cancel consumed.
    pub update_id: u64,
    /// The level change it caused.
    pub change: LevelChange,
    /// The `now_ms` of the call.
    pub time_ms: u64,
}

/// A resting order as seen by [`Engine::open_order`](super::Engine::open_order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder {
    /// Order id.
    pub order_id: u64,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Decimal,
    /// Original quantity.
    pub orig_qty: Decimal,
    /// Quantity executed so far.
    pub executed_qty: Decimal,
    /// Quantity still resting.
    pub remaining_qty: Decimal,
    /// Whether the engine's synthetic flow placed it (and may cancel it).
    pub synthetic: bool,
}
