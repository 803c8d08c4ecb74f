//! The accounts' shared state and the handle on it, [`Accounts`]: keys,
//! balances, the clock, subscriptions and listen tokens, the order queries.
//! Trading (reserving, settling, cancelling) is in `trading.rs`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::keys::Verifier;
use super::ledger::Ledger;
use super::orders::{balance, UserOrder, Wallets};
use super::report::{self, fixed};
use super::request::{check_time, Get, Signed};
use super::spec::{AccountSpec, Wallet};
use super::subscriptions::{
    Events, Listener, SubTarget, Subscriptions, Token, Unsubscribe, UserEvent,
};
use crate::api_error::ApiErr;
use crate::clock::now_ms;

/// One account.
pub(super) struct Account {
    api_key: String,
    verifier: Verifier,
    pub wallets: Wallets,
    /// Times of the orders placed in the last ten seconds, oldest first.
    orders_10s: VecDeque<u64>,
    /// The UTC day (days since the epoch) and the orders placed in it.
    orders_day: (u64, u32),
}

/// Everything the accounts keep, under one lock.
#[derive(Default)]
pub(super) struct State {
    pub accounts: Vec<Account>,
    by_key: HashMap<String, usize>,
    /// Resting user orders by (symbol, order id).
    pub orders: HashMap<(String, u64), UserOrder>,
    pub subs: Subscriptions,
    pub next_execution_id: u64,
    pub ledger: Ledger,
}

impl State {
    /// An account's (free, locked) of an asset in a wallet.
    pub fn balance(
        &mut self,
        account: usize,
        wallet: &Wallet,
        asset: &str,
    ) -> &mut (Decimal, Decimal) {
        balance(&mut self.accounts[account].wallets, wallet, asset)
    }

    /// `outboundAccountPosition` for these assets of a wallet.
    pub fn position(
        &self,
        account: usize,
        wallet: &Wallet,
        assets: &[&str],
        now: u64,
    ) -> (usize, Wallet, UserEvent) {
        let balances = self.accounts[account].wallets.get(wallet);
        (
            account,
            wallet.clone(),
            report::position(balances, assets, now),
        )
    }
}

/// Every account of the simulator. Cloned handles share the same accounts.
#[derive(Clone)]
pub struct Accounts {
    pub(super) state: Arc<Mutex<State>>,
    /// Resting user orders, read by the market on every step.
    pub(super) open_orders: Arc<AtomicUsize>,
    /// How far the exchange's clock is ahead of this machine's (ms).
    skew_ms: Arc<AtomicI64>,
    max_token_validity: Duration,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

/// A random id of `len` letters and digits (client order ids, tokens).
pub(crate) fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Accounts {
    pub(crate) fn new(specs: &[AccountSpec], max_token_validity: Duration) -> Result<Self, String> {
        let accounts = Accounts {
            state: Arc::default(),
            open_orders: Arc::default(),
            skew_ms: Arc::default(),
            max_token_validity,
        };
        for spec in specs {
            accounts.add(spec.clone())?;
        }
        Ok(accounts)
    }

    /// Create an account (or replace the one with the same API key).
    pub fn add(&self, spec: AccountSpec) -> Result<(), String> {
        let verifier = Verifier::new(&spec.key)?;
        let wallets = spec
            .balances
            .iter()
            .map(|(w, b)| {
                let b = b
                    .iter()
                    .map(|(a, v)| (a.clone(), (*v, Decimal::ZERO)))
                    .collect();
                (w.clone(), b)
            })
            .collect();
        let mut state = self.state.lock().unwrap();
        let account = Account {
            api_key: spec.api_key.clone(),
            verifier,
            wallets,
            orders_10s: Default::default(),
            orders_day: (0, 0),
        };
        match state.by_key.get(&spec.api_key) {
            Some(&i) if state.orders.values().any(|o| o.account == i) => {
                return Err(format!(
                    "account {} has open orders; cancel them before replacing it",
                    i + 1
                ))
            }
            Some(&i) => state.accounts[i] = account,
            None => {
                let i = state.accounts.len();
                state.accounts.push(account);
                state.by_key.insert(spec.api_key, i);
            }
        }
        Ok(())
    }

    /// An account's balances in a wallet: asset → (free, locked).
    pub fn balances(
        &self,
        api_key: &str,
        wallet: &Wallet,
    ) -> Option<BTreeMap<String, (Decimal, Decimal)>> {
        let state = self.state.lock().unwrap();
        let &i = state.by_key.get(api_key)?;
        Some(
            state.accounts[i]
                .wallets
                .get(wallet)
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Credit (or debit, when negative) a wallet, as a deposit or a transfer
    /// would: subscribers get `balanceUpdate` and `outboundAccountPosition`.
    /// False for an unknown key, or a debit larger than the free balance.
    pub fn deposit(&self, api_key: &str, wallet: &Wallet, asset: &str, delta: Decimal) -> bool {
        self.move_balance(
            api_key,
            wallet,
            asset,
            |(free, locked)| (free + delta >= Decimal::ZERO).then_some((free + delta, locked)),
            |now| report::balance_update(asset, delta, now),
        )
    }

    /// Lock (or, when negative, unlock) part of a spot balance as an
    /// external system would (margin collateral): subscribers get
    /// `externalLockUpdate` and `outboundAccountPosition`. False for an
    /// unknown key or more than is free (or locked, to unlock).
    pub fn external_lock(&self, api_key: &str, asset: &str, delta: Decimal) -> bool {
        self.move_balance(
            api_key,
            &Wallet::Spot,
            asset,
            |(free, locked)| {
                (free - delta >= Decimal::ZERO && locked + delta >= Decimal::ZERO)
                    .then_some((free - delta, locked + delta))
            },
            |now| report::external_lock_update(asset, delta, now),
        )
    }

    /// Change one balance by `change` (`None`: refused), then tell the
    /// wallet's subscribers with `event` and `outboundAccountPosition`.
    fn move_balance(
        &self,
        api_key: &str,
        wallet: &Wallet,
        asset: &str,
        change: impl FnOnce((Decimal, Decimal)) -> Option<(Decimal, Decimal)>,
        event: impl FnOnce(u64) -> UserEvent,
    ) -> bool {
        let mut state = self.state.lock().unwrap();
        let Some(&account) = state.by_key.get(api_key) else {
            return false;
        };
        let now = now_ms();
        let entry = state.balance(account, wallet, asset);
        let Some(new) = change(*entry) else {
            return false;
        };
        *entry = new;
        let events: Events = vec![
            (account, wallet.clone(), event(now)),
            state.position(account, wallet, &[asset], now),
        ];
        state.subs.deliver(events);
        true
    }

    /// End every user-data subscription with `eventStreamTerminated` (as a
    /// revoked key or an expired token would); how many ended.
    pub fn end_subscriptions(&self) -> usize {
        let conns = self.state.lock().unwrap().subs.connections();
        conns
            .into_iter()
            .map(|c| self.unsubscribe(c, Unsubscribe::All))
            .sum()
    }

    /// Every listen token issued and not yet expired (for tests that look
    /// for leaks).
    pub fn issued_tokens(&self) -> Vec<String> {
        let now = self.server_time();
        let state = self.state.lock().unwrap();
        state
            .subs
            .tokens
            .iter()
            .filter(|(_, t)| t.expires > now)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Run the exchange clock `ms` ahead of this machine's (behind when
    /// negative): timestamps of signed requests are checked against it and
    /// `time` / `GET /api/v3/time` report it, so a client must measure it.
    pub fn set_clock_skew(&self, ms: i64) {
        self.skew_ms.store(ms, Ordering::Relaxed);
    }

    /// Count an order placed by `account` at `now_ms`; the account's order
    /// counts over ten seconds and over the UTC day, as Binance reports them
    /// in `X-MBX-ORDER-COUNT-10S` and `X-MBX-ORDER-COUNT-1D`.
    pub(crate) fn count_order(&self, account: usize, now_ms: u64) -> (usize, u32) {
        const DAY_MS: u64 = 86_400_000;
        let mut state = self.state.lock().unwrap();
        let a = &mut state.accounts[account];
        while a.orders_10s.front().is_some_and(|&t| t + 10_000 <= now_ms) {
            a.orders_10s.pop_front();
        }
        a.orders_10s.push_back(now_ms);
        let day = now_ms / DAY_MS;
        if a.orders_day.0 != day {
            a.orders_day = (day, 0);
        }
        a.orders_day.1 += 1;
        (a.orders_10s.len(), a.orders_day.1)
    }

    /// The exchange's time, in ms.
    pub fn server_time(&self) -> u64 {
        (now_ms() as i64)
            .saturating_add(self.skew_ms.load(Ordering::Relaxed))
            .max(0) as u64
    }

    /// How many user-data subscriptions are live (all connections).
    pub fn subscriptions(&self) -> usize {
        self.state.lock().unwrap().subs.len()
    }

    /// Check a signed request; the account's index.
    pub(crate) fn authenticate(
        &self,
        api_key: Option<&str>,
        signed: &Signed<'_>,
    ) -> Result<usize, ApiErr> {
        let api_key = api_key.ok_or_else(|| ApiErr::missing("apiKey"))?;
        let state = self.state.lock().unwrap();
        let &account = state.by_key.get(api_key).ok_or_else(ApiErr::bad_key)?;
        check_time(signed, self.server_time())?;
        let signature = signed
            .get("signature")
            .ok_or_else(|| ApiErr::missing("signature"))?;
        if !state.accounts[account]
            .verifier
            .verify(signed.payload().as_bytes(), &signature)
        {
            return Err(ApiErr::new(
                400,
                -1022,
                "Signature for this request is not valid.",
            ));
        }
        Ok(account)
    }

    /// Whether the account's key is Ed25519 (the only kind `session.logon` takes).
    pub(crate) fn is_ed25519(&self, account: usize) -> bool {
        matches!(
            self.state.lock().unwrap().accounts[account].verifier,
            Verifier::Ed25519(_)
        )
    }

    /// Whether `api_key` is an account's key (no signature needed: the
    /// futures listenKey endpoints take the key alone).
    pub(crate) fn knows_key(&self, api_key: &str) -> bool {
        self.state.lock().unwrap().by_key.contains_key(api_key)
    }

    /// The account's API key.
    pub(crate) fn api_key(&self, account: usize) -> String {
        self.state.lock().unwrap().accounts[account].api_key.clone()
    }

    /// `POST /sapi/v1/userListenToken`: a token for a margin wallet.
    pub(crate) fn listen_token(
        &self,
        account: usize,
        wallet: Wallet,
        validity: Option<u64>,
    ) -> Value {
        let max = self.max_token_validity.as_millis() as u64;
        let validity = validity.unwrap_or(max).min(max);
        let token = random_id(64);
        let expires = self.server_time() + validity;
        self.state.lock().unwrap().subs.tokens.insert(
            token.clone(),
            Token {
                account,
                wallet,
                expires,
            },
        );
        json!({ "token": token, "expirationTime": expires })
    }

    /// Subscribe a connection to an account's wallet (subscription `id`).
    /// `-2035` when that connection already has one for it.
    pub(crate) fn subscribe(
        &self,
        to: &Listener,
        id: u64,
        target: SubTarget,
    ) -> Result<(), ApiErr> {
        let now = self.server_time();
        let mut state = self.state.lock().unwrap();
        state.subs.subscribe(to, id, target, now)
    }

    /// End subscriptions of a connection (all, one id, or the logon one),
    /// each with `eventStreamTerminated`; how many ended.
    pub(crate) fn unsubscribe(&self, conn: u64, which: Unsubscribe) -> usize {
        self.state
            .lock()
            .unwrap()
            .subs
            .unsubscribe(conn, which, now_ms())
    }

    /// Subscription ids of a connection.
    pub(crate) fn subscription_ids(&self, conn: u64) -> Vec<u64> {
        self.state.lock().unwrap().subs.ids(conn)
    }

    /// End the subscriptions whose listen token expired.
    pub(crate) fn expire(&self) {
        let now = self.server_time();
        self.state.lock().unwrap().subs.expire(now);
    }

    /// Run [`Accounts::expire`] every 20 ms.
    pub(crate) async fn expire_loop(self) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tick.tick().await;
            self.expire();
        }
    }

    /// `GET /api/v3/account`.
    pub(crate) fn account_json(&self, account: usize) -> Value {
        let state = self.state.lock().unwrap();
        let balances: Vec<Value> = state.accounts[account]
            .wallets
            .get(&Wallet::Spot)
            .map(|b| {
                b.iter()
                    .map(|(a, (f, l))| json!({"asset": a, "free": fixed(*f), "locked": fixed(*l)}))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00000000", "taker": "0.00000000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false,
            "requireSelfTradePrevention": false, "preventSor": false,
            "updateTime": now_ms(), "accountType": "SPOT",
            "balances": balances, "permissions": ["SPOT"], "uid": 1_000_000 + account as u64,
        })
    }

    /// One spot order of the account, by `orderId` or `origClientOrderId`.
    pub(crate) fn query_order(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        self.state.lock().unwrap().ledger.query_order(account, get)
    }

    /// The account's open spot orders, of one symbol or all.
    pub(crate) fn open_orders(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        self.state.lock().unwrap().ledger.open_orders(account, get)
    }

    /// The account's spot orders of a symbol (`allOrders`).
    pub(crate) fn all_orders(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        self.state.lock().unwrap().ledger.all_orders(account, get)
    }

    /// The account's spot trades of a symbol (`myTrades`).
    pub(crate) fn my_trades(&self, account: usize, get: Get) -> Result<Value, ApiErr> {
        self.state.lock().unwrap().ledger.my_trades(account, get)
    }
}
