//! Simulated accounts: API keys (HMAC, Ed25519, RSA), balances in spot,
//! cross-margin and isolated-margin wallets, user orders matched against the
//! simulated book, listen tokens, and the user-data subscriptions that
//! receive `executionReport`, `outboundAccountPosition` and `balanceUpdate`
//! exactly as Binance formats them.
//!
//! Requests are checked the way Binance checks them: unknown key `-2015`,
//! bad signature `-1022`, timestamp outside `recvWindow` `-1021`, missing
//! parameter `-1102`, `recvWindow` over 60 000 `-1131`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rust_decimal::Decimal;
use rustls_pki_types::pem::PemObject;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::engine::{Fill, NewOrder, OrderError, Side, SymbolSpec, TimeInForce};
use crate::hub::Hub;
use crate::market::{now_ms, Market};

mod actions;
mod ledger;

/// How an account's API key signs.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// HMAC-SHA256 with this secret (hex signatures).
    Hmac {
        /// The secret key.
        secret: String,
    },
    /// Ed25519; the public key as PEM (`-----BEGIN PUBLIC KEY-----`).
    Ed25519 {
        /// The public key, PEM.
        public_key_pem: String,
    },
    /// RSA (PKCS#1 v1.5, SHA-256); the public key as PEM.
    Rsa {
        /// The public key, PEM.
        public_key_pem: String,
    },
}

impl fmt::Debug for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Hmac { .. } => "Hmac(<redacted>)",
            KeyKind::Ed25519 { .. } => "Ed25519",
            KeyKind::Rsa { .. } => "Rsa",
        })
    }
}

/// A wallet of an account: where balances live and which user-data
/// subscriptions see its events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wallet {
    /// The spot account (`userDataStream.subscribe.signature`, logon).
    Spot,
    /// The cross-margin account (listen token).
    Margin,
    /// An isolated-margin account of one symbol (listen token with `symbol`).
    Isolated(String),
}

/// An account to create: its API key and starting balances.
#[derive(Clone)]
pub struct AccountSpec {
    /// The API key (`X-MBX-APIKEY`, `apiKey`).
    pub api_key: String,
    /// How the key signs.
    pub key: KeyKind,
    /// Starting balances, by wallet and asset.
    pub balances: BTreeMap<Wallet, BTreeMap<String, Decimal>>,
}

impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("api_key", &"<redacted>")
            .field("key", &self.key)
            .field("balances", &self.balances)
            .finish()
    }
}

impl AccountSpec {
    /// An account with an HMAC key.
    pub fn hmac(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::new(
            api_key,
            KeyKind::Hmac {
                secret: secret.into(),
            },
        )
    }

    /// An account with an Ed25519 key (public key PEM).
    pub fn ed25519(api_key: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        Self::new(
            api_key,
            KeyKind::Ed25519 {
                public_key_pem: public_key_pem.into(),
            },
        )
    }

    /// An account with an RSA key (public key PEM).
    pub fn rsa(api_key: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        Self::new(
            api_key,
            KeyKind::Rsa {
                public_key_pem: public_key_pem.into(),
            },
        )
    }

    fn new(api_key: impl Into<String>, key: KeyKind) -> Self {
        AccountSpec {
            api_key: api_key.into(),
            key,
            balances: BTreeMap::new(),
        }
    }

    /// Adds a starting balance.
    pub fn balance(mut self, wallet: Wallet, asset: &str, amount: Decimal) -> Self {
        self.balances
            .entry(wallet)
            .or_default()
            .insert(asset.to_owned(), amount);
        self
    }

    /// Accounts from a JSON file's text: `[{"apiKey", "secretKey" |
    /// "publicKey" (PEM, Ed25519 or RSA), "balances": {"BTC": "1"},
    /// "marginBalances": {…}, "isolatedBalances": {"BTCUSDT": {…}}}]`.
    pub fn from_json(text: &str) -> Result<Vec<AccountSpec>, String> {
        let list: Vec<Value> =
            serde_json::from_str(text).map_err(|e| format!("accounts file: {e}"))?;
        list.iter()
            .enumerate()
            .map(|(i, v)| Self::from_value(v).map_err(|e| format!("account {i}: {e}")))
            .collect()
    }

    fn from_value(v: &Value) -> Result<AccountSpec, String> {
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        let api_key = text("apiKey").ok_or("missing \"apiKey\"")?;
        let key = match (text("secretKey"), text("publicKey")) {
            (Some(secret), None) => KeyKind::Hmac {
                secret: secret.to_owned(),
            },
            (None, Some(pem)) => match Verifier::from_public_pem(pem)? {
                Verifier::Ed25519(_) => KeyKind::Ed25519 {
                    public_key_pem: pem.to_owned(),
                },
                _ => KeyKind::Rsa {
                    public_key_pem: pem.to_owned(),
                },
            },
            _ => return Err(
                "give exactly one of \"secretKey\" (HMAC) and \"publicKey\" (Ed25519 or RSA PEM)"
                    .into(),
            ),
        };
        let mut spec = AccountSpec::new(api_key, key);
        let amounts = |wallet: Wallet, m: &Value, spec: &mut AccountSpec| -> Result<(), String> {
            for (asset, amount) in m.as_object().ok_or("balances must be an object")? {
                let amount = amount
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| amount.to_string());
                let amount = Decimal::from_str(&amount)
                    .map_err(|_| format!("balance of {asset}: `{amount}` is not a decimal"))?;
                spec.balances
                    .entry(wallet.clone())
                    .or_default()
                    .insert(asset.clone(), amount);
            }
            Ok(())
        };
        if let Some(m) = v.get("balances") {
            amounts(Wallet::Spot, m, &mut spec)?;
        }
        if let Some(m) = v.get("marginBalances") {
            amounts(Wallet::Margin, m, &mut spec)?;
        }
        if let Some(m) = v.get("isolatedBalances").and_then(Value::as_object) {
            for (symbol, m) in m {
                amounts(Wallet::Isolated(symbol.to_uppercase()), m, &mut spec)?;
            }
        }
        Ok(spec)
    }
}

/// Binance's answer to a refused request: HTTP status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErr {
    /// HTTP status (400, 401, 429…).
    pub status: u16,
    /// Binance's error code.
    pub code: i64,
    /// Binance's message.
    pub msg: String,
    /// What was done before the failure (`order.cancelReplace`'s results).
    pub data: Option<Value>,
}

impl ApiErr {
    pub(crate) fn new(status: u16, code: i64, msg: impl Into<String>) -> Self {
        ApiErr {
            status,
            code,
            msg: msg.into(),
            data: None,
        }
    }

    pub(crate) fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The error object of an answer: `code`, `msg`, and `data` when there is some.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({"code": self.code, "msg": self.msg});
        if let Some(data) = &self.data {
            body["data"] = data.clone();
        }
        body
    }

    pub(crate) fn missing(name: &str) -> Self {
        ApiErr::new(
            400,
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    pub(crate) fn bad_key() -> Self {
        ApiErr::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    }

    pub(crate) fn illegal(name: &str, value: &str) -> Self {
        ApiErr::new(
            400,
            -1100,
            format!("Illegal characters found in parameter '{name}'; legal range is '{value}'."),
        )
    }

    fn insufficient() -> Self {
        ApiErr::new(
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        )
    }
}

/// Checks signatures of one key.
enum Verifier {
    Hmac(Vec<u8>),
    Ed25519(Vec<u8>),
    Rsa(Vec<u8>),
}

impl Verifier {
    fn new(kind: &KeyKind) -> Result<Verifier, String> {
        match kind {
            KeyKind::Hmac { secret } => Ok(Verifier::Hmac(secret.as_bytes().to_vec())),
            KeyKind::Ed25519 { public_key_pem } | KeyKind::Rsa { public_key_pem } => {
                Self::from_public_pem(public_key_pem)
            }
        }
    }

    /// An Ed25519 or RSA public key from PEM (`PUBLIC KEY`, i.e. SPKI).
    fn from_public_pem(pem: &str) -> Result<Verifier, String> {
        let spki = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("public key is not a PEM `PUBLIC KEY`: {e}"))?;
        let (algorithm, key) =
            spki_parts(spki.as_ref()).ok_or("public key PEM holds no SubjectPublicKeyInfo")?;
        const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
        const RSA_OID: &[u8] = &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ];
        if algorithm.starts_with(ED25519_OID) {
            Ok(Verifier::Ed25519(key.to_vec()))
        } else if algorithm.starts_with(RSA_OID) {
            Ok(Verifier::Rsa(key.to_vec()))
        } else {
            Err("public key is neither Ed25519 nor RSA".into())
        }
    }

    fn verify(&self, payload: &[u8], signature: &str) -> bool {
        use ring::signature::{UnparsedPublicKey, ED25519, RSA_PKCS1_2048_8192_SHA256};
        match self {
            Verifier::Hmac(secret) => binance_types::sign::hmac_sha256_hex(secret, payload)
                .eq_ignore_ascii_case(signature),
            Verifier::Ed25519(key) | Verifier::Rsa(key) => {
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else {
                    return false;
                };
                let algorithm: &dyn ring::signature::VerificationAlgorithm = match self {
                    Verifier::Ed25519(_) => &ED25519,
                    _ => &RSA_PKCS1_2048_8192_SHA256,
                };
                UnparsedPublicKey::new(algorithm, key)
                    .verify(payload, &bytes)
                    .is_ok()
            }
        }
    }
}

/// The algorithm identifier's content and the key bits of a DER
/// SubjectPublicKeyInfo.
fn spki_parts(der: &[u8]) -> Option<(&[u8], &[u8])> {
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (0x30, body, _) = element(der)? else {
        return None;
    };
    let (0x30, algorithm, rest) = element(body)? else {
        return None;
    };
    let (0x03, bits, _) = element(rest)? else {
        return None;
    };
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    Some((algorithm, key))
}

/// The request parameters Binance signs, as sent.
pub(crate) enum Signed<'a> {
    /// WebSocket API: every param but `signature`, sorted, `k=v&…`.
    Api(&'a Map<String, Value>),
    /// REST: the query string and body as sent, without `signature`.
    Rest {
        /// `totalParams` minus `&signature=…`.
        payload: String,
        /// The parameters, decoded.
        params: &'a HashMap<String, String>,
    },
}

/// A WebSocket API parameter's text as it is signed.
pub(crate) fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Signed<'_> {
    fn get(&self, name: &str) -> Option<String> {
        match self {
            Signed::Api(map) => map.get(name).map(param_text),
            Signed::Rest { params, .. } => params.get(name).cloned(),
        }
        .filter(|s| !s.is_empty())
    }

    fn payload(&self) -> String {
        match self {
            Signed::Api(map) => {
                let mut keys: Vec<&String> = map.keys().filter(|k| *k != "signature").collect();
                keys.sort();
                keys.iter()
                    .map(|k| format!("{k}={}", param_text(&map[*k])))
                    .collect::<Vec<_>>()
                    .join("&")
            }
            Signed::Rest { payload, .. } => payload.clone(),
        }
    }
}

/// One balance: free and locked.
type Balances = BTreeMap<String, (Decimal, Decimal)>;

struct Account {
    api_key: String,
    verifier: Verifier,
    wallets: HashMap<Wallet, Balances>,
    /// Times of the orders placed in the last ten seconds, oldest first.
    orders_10s: std::collections::VecDeque<u64>,
    /// The UTC day (days since the epoch) and the orders placed in it.
    orders_day: (u64, u32),
}

/// A user order resting on a book (or being placed).
#[derive(Clone)]
struct UserOrder {
    account: usize,
    wallet: Wallet,
    symbol: String,
    base: String,
    quote: String,
    client_order_id: String,
    side: Side,
    order_type: &'static str,
    time_in_force: &'static str,
    price: Decimal,
    qty: Decimal,
    filled: Decimal,
    quote_filled: Decimal,
    created: u64,
    /// Still locked for this order: quote for buys, base for sells.
    reserved: Decimal,
}

/// A user-data subscription on one WebSocket API connection.
struct Sub {
    conn: u64,
    id: u64,
    account: usize,
    wallet: Wallet,
    /// Ends with `eventStreamTerminated` at this time (listen tokens).
    expires: Option<u64>,
    /// From `session.logon` (ended by `session.logout`).
    logon: bool,
    out: mpsc::UnboundedSender<String>,
}

struct Token {
    account: usize,
    wallet: Wallet,
    expires: u64,
}

#[derive(Default)]
struct State {
    accounts: Vec<Account>,
    by_key: HashMap<String, usize>,
    orders: HashMap<(String, u64), UserOrder>,
    tokens: HashMap<String, Token>,
    subs: Vec<Sub>,
    next_execution_id: u64,
    ledger: ledger::Ledger,
}

/// Every account of the simulator. Cloned handles share the same accounts.
#[derive(Clone)]
pub struct Accounts {
    state: Arc<Mutex<State>>,
    /// Resting user orders, read by the market on every step.
    open_orders: Arc<AtomicUsize>,
    /// How far the exchange's clock is ahead of this machine's (ms).
    skew_ms: Arc<std::sync::atomic::AtomicI64>,
    max_token_validity: Duration,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

/// What `POST /api/v3/order` or `order.place` asks for.
pub(crate) struct OrderRequest {
    pub symbol: String,
    pub side: Side,
    pub order_type: String,
    pub time_in_force: Option<String>,
    pub quantity: Decimal,
    pub price: Option<Decimal>,
    pub client_order_id: Option<String>,
    pub response_type: Option<String>,
}

impl OrderRequest {
    /// From named parameters (REST query or WS API params).
    pub(crate) fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<OrderRequest, ApiErr> {
        let need = |k: &str| get(k).ok_or_else(|| ApiErr::missing(k));
        let decimal = |k: &str, v: String| {
            Decimal::from_str(&v)
                .map_err(|_| ApiErr::illegal(k, "^([0-9]{1,20})(\\.[0-9]{1,20})?$"))
        };
        let side = match need("side")?.as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            other => {
                return Err(ApiErr::new(
                    400,
                    -1100,
                    format!("Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'; got '{other}'."),
                ))
            }
        };
        Ok(OrderRequest {
            symbol: need("symbol")?.to_uppercase(),
            side,
            order_type: need("type")?,
            time_in_force: get("timeInForce"),
            quantity: decimal("quantity", need("quantity")?)?,
            price: get("price").map(|p| decimal("price", p)).transpose()?,
            client_order_id: get("newClientOrderId"),
            response_type: get("newOrderRespType"),
        })
    }
}

/// What `DELETE /api/v3/order` or `order.cancel` asks for.
pub(crate) struct CancelRequest {
    pub symbol: String,
    pub order_id: Option<u64>,
    pub orig_client_order_id: Option<String>,
    pub new_client_order_id: Option<String>,
}

impl CancelRequest {
    /// From named parameters (REST query or WS API params).
    pub(crate) fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<CancelRequest, ApiErr> {
        Ok(CancelRequest {
            symbol: get("symbol")
                .ok_or_else(|| ApiErr::missing("symbol"))?
                .to_uppercase(),
            order_id: get("orderId").and_then(|v| v.parse().ok()),
            orig_client_order_id: get("origClientOrderId"),
            new_client_order_id: get("newClientOrderId"),
        })
    }
}

fn fixed(d: Decimal) -> String {
    crate::notation::Notation::Spot.text(d)
}

fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Events made under the lock, sent after it.
type Outbox = Vec<(usize, Wallet, String)>;

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
        let mut out = Outbox::new();
        {
            let mut state = self.state.lock().unwrap();
            let Some(&account) = state.by_key.get(api_key) else {
                return false;
            };
            let now = now_ms();
            let entry = state.balance(account, wallet, asset);
            if entry.0 + delta < Decimal::ZERO {
                return false;
            }
            entry.0 += delta;
            let event =
                json!({"e": "balanceUpdate", "E": now, "a": asset, "d": fixed(delta), "T": now});
            out.push((account, wallet.clone(), event.to_string()));
            out.push(state.position(account, wallet, &[asset], now));
            state.deliver(out);
        }
        true
    }

    /// Lock (or, when negative, unlock) part of a spot balance as an
    /// external system would (margin collateral): subscribers get
    /// `externalLockUpdate` and `outboundAccountPosition`. False for an
    /// unknown key or more than is free (or locked, to unlock).
    pub fn external_lock(&self, api_key: &str, asset: &str, delta: Decimal) -> bool {
        let mut state = self.state.lock().unwrap();
        let Some(&account) = state.by_key.get(api_key) else {
            return false;
        };
        let now = now_ms();
        let entry = state.balance(account, &Wallet::Spot, asset);
        if entry.0 - delta < Decimal::ZERO || entry.1 + delta < Decimal::ZERO {
            return false;
        }
        entry.0 -= delta;
        entry.1 += delta;
        let event =
            json!({"e": "externalLockUpdate", "E": now, "a": asset, "d": fixed(delta), "T": now});
        let out = vec![
            (account, Wallet::Spot, event.to_string()),
            state.position(account, &Wallet::Spot, &[asset], now),
        ];
        state.deliver(out);
        true
    }

    /// End every user-data subscription with `eventStreamTerminated` (as a
    /// revoked key or an expired token would); how many ended.
    pub fn end_subscriptions(&self) -> usize {
        let conns: Vec<u64> = {
            let state = self.state.lock().unwrap();
            let mut conns: Vec<u64> = state.subs.iter().map(|s| s.conn).collect();
            conns.sort_unstable();
            conns.dedup();
            conns
        };
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
        self.state.lock().unwrap().tokens.insert(
            token.clone(),
            Token {
                account,
                wallet,
                expires,
            },
        );
        json!({ "token": token, "expirationTime": expires })
    }

    /// Subscribe a connection to an account's wallet; the subscription ends
    /// at `expires`. `-2035` when that connection already has one for it.
    pub(crate) fn subscribe(
        &self,
        conn: u64,
        id: u64,
        target: SubTarget,
        out: &mpsc::UnboundedSender<String>,
    ) -> Result<(), ApiErr> {
        let mut state = self.state.lock().unwrap();
        let (account, wallet, expires, logon) = match target {
            SubTarget::Account { account, logon } => (account, Wallet::Spot, None, logon),
            SubTarget::Token(token) => {
                let now = self.server_time();
                state.tokens.retain(|_, t| t.expires > now);
                let t = state
                    .tokens
                    .get(&token)
                    .ok_or_else(|| ApiErr::new(400, -1209, "Invalid listenToken."))?;
                (t.account, t.wallet.clone(), Some(t.expires), false)
            }
        };
        if expires.is_none()
            && state
                .subs
                .iter()
                .any(|s| s.conn == conn && s.account == account && s.wallet == wallet)
        {
            return Err(ApiErr::new(
                400,
                -2035,
                "User Data Stream subscription already active.",
            ));
        }
        state.subs.push(Sub {
            conn,
            id,
            account,
            wallet,
            expires,
            logon,
            out: out.clone(),
        });
        Ok(())
    }

    /// End subscriptions of a connection (all, one id, or the logon one),
    /// each with `eventStreamTerminated`; how many ended.
    pub(crate) fn unsubscribe(&self, conn: u64, which: Unsubscribe) -> usize {
        let mut state = self.state.lock().unwrap();
        let now = now_ms();
        let mut ended = 0;
        state.subs.retain(|s| {
            let hit = s.conn == conn
                && match which {
                    Unsubscribe::All => true,
                    Unsubscribe::Id(id) => s.id == id,
                    Unsubscribe::Logon => s.logon,
                    Unsubscribe::Silently => true,
                };
            if hit {
                ended += 1;
                if which != Unsubscribe::Silently {
                    let _ = s.out.send(terminated(s.id, now));
                }
            }
            !hit
        });
        ended
    }

    /// Subscription ids of a connection.
    pub(crate) fn subscription_ids(&self, conn: u64) -> Vec<u64> {
        let state = self.state.lock().unwrap();
        state
            .subs
            .iter()
            .filter(|s| s.conn == conn)
            .map(|s| s.id)
            .collect()
    }

    /// End the subscriptions whose listen token expired.
    pub(crate) fn expire(&self) {
        let now = self.server_time();
        let mut state = self.state.lock().unwrap();
        state.subs.retain(|s| match s.expires {
            Some(t) if t <= now => {
                let _ = s.out.send(terminated(s.id, now));
                false
            }
            _ => true,
        });
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

    /// Place a user order: balance checked and locked, matched against the
    /// book (its trades go out on the market streams), events to the
    /// account's subscribers; the response in the `FULL` form (or `ACK`,
    /// `RESULT` when asked).
    pub(crate) fn place(
        &self,
        market: &Market,
        hub: &Hub,
        account: usize,
        wallet: Wallet,
        req: OrderRequest,
    ) -> Result<Value, ApiErr> {
        let symbol_market = market
            .symbol(&req.symbol)
            .ok_or_else(|| ApiErr::new(400, -1121, "Invalid symbol."))?;
        let (order, order_type, tif) = engine_order(&req)?;
        let now = now_ms();
        let mut out = Outbox::new();
        let mut m = symbol_market.lock().unwrap();
        let spec: SymbolSpec = m.engine().spec().clone();
        if let Some(entry) = market.exchange_info().get(&spec.symbol) {
            let open_orders = {
                let state = self.state.lock().unwrap();
                state
                    .orders
                    .iter()
                    .filter(|((s, _), o)| *s == spec.symbol && o.account == account)
                    .count()
            };
            let order = crate::filters::Order {
                side: req.side,
                market: order_type == "MARKET",
                price: req.price.filter(|_| order_type != "MARKET"),
                qty: req.quantity,
                avg_price: m.stats().avg_price(now).map(|a| a.price),
                open_orders,
            };
            crate::filters::check(entry, &order)?;
        }
        // Reserve the funds first; refuse without touching the book.
        let reserve = match (req.side, req.price) {
            (Side::Sell, _) => req.quantity,
            (Side::Buy, Some(price)) if order_type != "MARKET" => {
                price.checked_mul(req.quantity).ok_or_else(|| {
                    ApiErr::new(
                        400,
                        -1013,
                        "Filter failure: NOTIONAL (price × quantity out of range)",
                    )
                })?
            }
            (Side::Buy, _) => {
                let book = m.engine().depth(usize::MAX);
                let mut left = req.quantity;
                let mut cost = Decimal::ZERO;
                for (p, q) in &book.asks {
                    let take = left.min(*q);
                    cost += take * p;
                    left -= take;
                    if left.is_zero() {
                        break;
                    }
                }
                cost
            }
        };
        let reserve_asset = match req.side {
            Side::Buy => spec.quote_asset.clone(),
            Side::Sell => spec.base_asset.clone(),
        };
        {
            let mut state = self.state.lock().unwrap();
            let balance = state.balance(account, &wallet, &reserve_asset);
            if balance.0 < reserve {
                return Err(ApiErr::insufficient());
            }
            balance.0 -= reserve;
            balance.1 += reserve;
        }
        let result = match m.submit_user(order, now, hub) {
            Ok(result) => result,
            Err(e) => {
                let mut state = self.state.lock().unwrap();
                let balance = state.balance(account, &wallet, &reserve_asset);
                balance.0 += reserve;
                balance.1 -= reserve;
                let code = e.binance_code();
                let msg = match e {
                    OrderError::WouldImmediatelyMatch => {
                        "Order would immediately match and take.".to_owned()
                    }
                    other => other.to_string(),
                };
                return Err(ApiErr::new(400, code.into(), msg));
            }
        };
        let mut state = self.state.lock().unwrap();
        let client_order_id = req.client_order_id.clone().unwrap_or_else(|| random_id(22));
        let mut user = UserOrder {
            account,
            wallet: wallet.clone(),
            symbol: spec.symbol.clone(),
            base: spec.base_asset.clone(),
            quote: spec.quote_asset.clone(),
            client_order_id: client_order_id.clone(),
            side: req.side,
            order_type,
            time_in_force: tif,
            price: req
                .price
                .filter(|_| order_type != "MARKET")
                .unwrap_or_default(),
            qty: req.quantity,
            filled: Decimal::ZERO,
            quote_filled: Decimal::ZERO,
            created: now,
            reserved: reserve,
        };
        let resting = matches!(
            result.status,
            crate::engine::OrderStatus::New | crate::engine::OrderStatus::PartiallyFilled
        );
        let working = resting || result.fills.is_empty();
        out.push((
            account,
            wallet.clone(),
            state.report(
                &user,
                result.order_id,
                "NEW",
                "NEW",
                None,
                now,
                working && resting,
            ),
        ));
        // Fills against other user orders first (their owners' side), then ours.
        state.maker_fills(&result.fills, &spec.symbol, now, &mut out);
        for fill in &result.fills {
            state.taker_fill(&mut user, result.order_id, fill, now, resting, &mut out);
        }
        let status = result.status.as_str();
        if status == "EXPIRED" {
            out.push((
                account,
                wallet.clone(),
                state.report(
                    &user,
                    result.order_id,
                    "EXPIRED",
                    "EXPIRED",
                    None,
                    now,
                    false,
                ),
            ));
        }
        if !resting {
            state.release(&mut user);
        }
        out.push(state.position(
            account,
            &wallet,
            &[&spec.base_asset, &spec.quote_asset],
            now,
        ));
        let fills: Vec<Value> = result
            .fills
            .iter()
            .map(|f| {
                json!({"price": fixed(f.price), "qty": fixed(f.qty), "commission": "0.00000000",
                       "commissionAsset": if req.side == Side::Buy { &spec.base_asset } else { &spec.quote_asset },
                       "tradeId": f.trade_id})
            })
            .collect();
        state.remember(&user, result.order_id, status, now);
        if resting {
            state
                .orders
                .insert((spec.symbol.clone(), result.order_id), user.clone());
            self.open_orders
                .store(state.orders.len(), Ordering::Relaxed);
        }
        state.deliver(out);
        drop(state);
        drop(m);
        // Margin orders say which margin account they are in; spot ones carry `orderListId`.
        let is_isolated = match &wallet {
            Wallet::Spot => None,
            other => Some(matches!(other, Wallet::Isolated(_))),
        };
        let mut response = match is_isolated {
            None => json!({
                "symbol": spec.symbol, "orderId": result.order_id, "orderListId": -1,
                "clientOrderId": client_order_id, "transactTime": now,
            }),
            Some(isolated) => json!({
                "symbol": spec.symbol, "orderId": result.order_id,
                "clientOrderId": client_order_id, "isIsolated": isolated, "transactTime": now,
            }),
        };
        if req.response_type.as_deref() != Some("ACK") {
            let extra = json!({
                "price": fixed(user.price), "origQty": fixed(user.qty),
                "executedQty": fixed(user.filled), "origQuoteOrderQty": "0.00000000",
                "cummulativeQuoteQty": fixed(user.quote_filled), "status": status,
                "timeInForce": tif, "type": order_type, "side": req.side.as_str(),
                "workingTime": if resting || !result.fills.is_empty() { now as i64 } else { -1 },
                "selfTradePreventionMode": "NONE",
            });
            merge(&mut response, extra);
            if let (Some(isolated), Value::Object(m)) = (is_isolated, &mut response) {
                // After `side` in the RESULT and FULL forms.
                m.shift_remove("isIsolated");
                *m = std::mem::take(m)
                    .into_iter()
                    .flat_map(|(k, v)| {
                        let flag =
                            (k == "side").then(|| ("isIsolated".to_owned(), isolated.into()));
                        std::iter::once((k, v)).chain(flag)
                    })
                    .collect();
            }
            if req.response_type.as_deref() != Some("RESULT") {
                response["fills"] = Value::Array(fills);
            }
        }
        Ok(response)
    }

    /// Cancel a resting user order by id or client order id.
    pub(crate) fn cancel(
        &self,
        market: &Market,
        hub: &Hub,
        account: usize,
        req: CancelRequest,
    ) -> Result<Value, ApiErr> {
        let CancelRequest {
            symbol,
            order_id,
            orig_client_order_id,
            new_client_order_id,
        } = req;
        let orig_client_order_id = orig_client_order_id.as_deref();
        let symbol_market = market
            .symbol(&symbol)
            .ok_or_else(|| ApiErr::new(400, -1121, "Invalid symbol."))?;
        if order_id.is_none() && orig_client_order_id.is_none() {
            return Err(ApiErr::new(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            ));
        }
        let unknown = || ApiErr::new(400, -2011, "Unknown order sent.");
        let now = now_ms();
        let mut m = symbol_market.lock().unwrap();
        let mut state = self.state.lock().unwrap();
        let key = state
            .orders
            .iter()
            .find(|((s, id), o)| {
                *s == symbol
                    && o.account == account
                    && order_id.is_none_or(|want| want == *id)
                    && orig_client_order_id.is_none_or(|c| c == o.client_order_id)
            })
            .map(|(k, _)| k.clone())
            .ok_or_else(unknown)?;
        if m.cancel_user(key.1, now, hub).is_none() {
            return Err(unknown());
        }
        let mut order = state.orders.remove(&key).expect("found above");
        self.open_orders
            .store(state.orders.len(), Ordering::Relaxed);
        let orig = order.client_order_id.clone();
        let new_id = new_client_order_id.unwrap_or_else(|| random_id(22));
        let mut out = Outbox::new();
        let mut canceled = order.clone();
        canceled.client_order_id = new_id.clone();
        out.push((
            account,
            order.wallet.clone(),
            state.report(
                &canceled,
                key.1,
                "CANCELED",
                "CANCELED",
                Some(&orig),
                now,
                false,
            ),
        ));
        state.release(&mut order);
        state.remember(&order, key.1, "CANCELED", now);
        out.push(state.position(account, &order.wallet, &[&order.base, &order.quote], now));
        state.deliver(out);
        drop(state);
        drop(m);
        Ok(json!({
            "symbol": symbol, "origClientOrderId": orig, "orderId": key.1, "orderListId": -1,
            "clientOrderId": new_id, "transactTime": now, "price": fixed(order.price),
            "origQty": fixed(order.qty), "executedQty": fixed(order.filled),
            "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": fixed(order.quote_filled),
            "status": "CANCELED", "timeInForce": order.time_in_force, "type": order.order_type,
            "side": order.side.as_str(), "selfTradePreventionMode": "NONE",
        }))
    }

    /// Whether any user order rests on a book (checked on every market step).
    pub(crate) fn has_open_orders(&self) -> bool {
        self.open_orders.load(Ordering::Relaxed) > 0
    }

    /// Synthetic flow filled resting user orders: their owners' events.
    pub(crate) fn on_market_fills(&self, symbol: &str, fills: &[Fill], now: u64) {
        let mut out = Outbox::new();
        {
            let mut state = self.state.lock().unwrap();
            state.maker_fills(fills, symbol, now, &mut out);
            self.open_orders
                .store(state.orders.len(), Ordering::Relaxed);
            state.deliver(out);
        }
    }
}

impl State {
    /// Hand events to their wallets' subscribers, under the lock, so every
    /// subscriber sees them in the order they happened.
    fn deliver(&self, out: Outbox) {
        let state = self;
        for (account, wallet, event) in out {
            for sub in state
                .subs
                .iter()
                .filter(|s| s.account == account && s.wallet == wallet)
            {
                let _ = sub.out.send(format!(
                    r#"{{"subscriptionId":{},"event":{event}}}"#,
                    sub.id
                ));
            }
        }
    }
}

/// Who a subscription is for.
pub(crate) enum SubTarget {
    /// The spot wallet of an authenticated account.
    Account {
        /// The account.
        account: usize,
        /// Made through `session.logon`.
        logon: bool,
    },
    /// The wallet of a listen token.
    Token(String),
}

/// Which subscriptions of a connection to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsubscribe {
    All,
    Id(u64),
    Logon,
    /// The connection closed: no event to send.
    Silently,
}

fn terminated(id: u64, now: u64) -> String {
    format!(r#"{{"subscriptionId":{id},"event":{{"e":"eventStreamTerminated","E":{now}}}}}"#)
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

/// The engine order, Binance's `type` and `timeInForce` for a request.
fn engine_order(req: &OrderRequest) -> Result<(NewOrder, &'static str, &'static str), ApiErr> {
    let price = || req.price.ok_or_else(|| ApiErr::missing("price"));
    match req.order_type.as_str() {
        "MARKET" => Ok((NewOrder::market(req.side, req.quantity), "MARKET", "GTC")),
        "LIMIT" => {
            let (tif, name) = match req.time_in_force.as_deref() {
                Some("GTC") => (TimeInForce::Gtc, "GTC"),
                Some("IOC") => (TimeInForce::Ioc, "IOC"),
                Some("FOK") => (TimeInForce::Fok, "FOK"),
                None => return Err(ApiErr::missing("timeInForce")),
                Some(_) => return Err(ApiErr::illegal("timeInForce", "GTC, IOC, FOK")),
            };
            Ok((
                NewOrder::limit(req.side, price()?, req.quantity, tif),
                "LIMIT",
                name,
            ))
        }
        "LIMIT_MAKER" => Ok((
            NewOrder::limit_maker(req.side, price()?, req.quantity),
            "LIMIT_MAKER",
            "GTC",
        )),
        _ => Err(ApiErr::new(
            400,
            -1116,
            "Invalid orderType. The simulator takes MARKET, LIMIT and LIMIT_MAKER.",
        )),
    }
}

fn check_time(signed: &Signed<'_>, now: u64) -> Result<(), ApiErr> {
    let timestamp = signed
        .get("timestamp")
        .ok_or_else(|| ApiErr::missing("timestamp"))?;
    let timestamp: u64 = timestamp
        .parse()
        .map_err(|_| ApiErr::illegal("timestamp", "an integer of ms or µs"))?;
    // Microsecond timestamps are accepted as Binance does.
    let timestamp_ms = if timestamp >= 100_000_000_000_000 {
        timestamp / 1000
    } else {
        timestamp
    };
    let window: Decimal = match signed.get("recvWindow") {
        None => Decimal::from(5000),
        Some(w) => {
            Decimal::from_str(&w).map_err(|_| ApiErr::illegal("recvWindow", "0 to 60000"))?
        }
    };
    if window > Decimal::from(60_000) || window.is_sign_negative() {
        return Err(ApiErr::new(
            400,
            -1131,
            "recvWindow must be less than 60000",
        ));
    }
    if timestamp_ms > now + 1000 {
        return Err(ApiErr::new(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if Decimal::from(now.saturating_sub(timestamp_ms)) > window {
        return Err(ApiErr::new(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

impl State {
    /// An account's (free, locked) of an asset in a wallet.
    fn balance(&mut self, account: usize, wallet: &Wallet, asset: &str) -> &mut (Decimal, Decimal) {
        self.accounts[account]
            .wallets
            .entry(wallet.clone())
            .or_default()
            .entry(asset.to_owned())
            .or_default()
    }

    /// `outboundAccountPosition` for these assets of a wallet.
    fn position(
        &self,
        account: usize,
        wallet: &Wallet,
        assets: &[&str],
        now: u64,
    ) -> (usize, Wallet, String) {
        let balances = self.accounts[account].wallets.get(wallet);
        let list: Vec<Value> = assets
            .iter()
            .map(|a| {
                let (f, l) = balances
                    .and_then(|b| b.get(*a))
                    .copied()
                    .unwrap_or_default();
                json!({"a": a, "f": fixed(f), "l": fixed(l)})
            })
            .collect();
        let event = json!({"e": "outboundAccountPosition", "E": now, "u": now, "B": list});
        (account, wallet.clone(), event.to_string())
    }

    /// An `executionReport` for an order's current state.
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        o: &UserOrder,
        order_id: u64,
        execution: &str,
        status: &str,
        orig_client_id: Option<&str>,
        now: u64,
        working: bool,
    ) -> String {
        self.fill_report(
            o,
            order_id,
            execution,
            status,
            orig_client_id,
            now,
            working,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn fill_report(
        &mut self,
        o: &UserOrder,
        order_id: u64,
        execution: &str,
        status: &str,
        orig_client_id: Option<&str>,
        now: u64,
        working: bool,
        fill: Option<(&Fill, bool)>,
    ) -> String {
        self.next_execution_id += 1;
        let (l, lp, t, maker, y) = match fill {
            Some((f, maker)) => (f.qty, f.price, f.trade_id as i64, maker, f.quote_qty),
            None => (Decimal::ZERO, Decimal::ZERO, -1, false, Decimal::ZERO),
        };
        let mut event = json!({
            "e": "executionReport", "E": now, "s": o.symbol, "c": o.client_order_id,
            "S": o.side.as_str(), "o": o.order_type, "f": o.time_in_force,
            "q": fixed(o.qty), "p": fixed(o.price), "P": "0.00000000", "F": "0.00000000",
            "g": -1, "C": orig_client_id.unwrap_or(""), "x": execution, "X": status, "r": "NONE",
            "i": order_id, "l": fixed(l), "z": fixed(o.filled), "L": fixed(lp),
            "n": "0", "N": null, "T": now, "t": t, "I": self.next_execution_id,
            "w": working, "m": maker, "M": false, "O": o.created,
            "Z": fixed(o.quote_filled), "Y": fixed(y), "Q": "0.00000000",
        });
        if working || fill.is_some() {
            event["W"] = o.created.into();
        }
        event["V"] = "NONE".into();
        event.to_string()
    }

    /// Fills of resting user orders (makers): balances, reports, positions.
    fn maker_fills(&mut self, fills: &[Fill], symbol: &str, now: u64, out: &mut Outbox) {
        for fill in fills {
            let key = (symbol.to_owned(), fill.maker_order_id);
            let Some(mut order) = self.orders.remove(&key) else {
                continue;
            };
            order.filled += fill.qty;
            order.quote_filled += fill.quote_qty;
            self.settle(&mut order, fill, true);
            let done = order.filled >= order.qty;
            let status = if done { "FILLED" } else { "PARTIALLY_FILLED" };
            let report = self.fill_report(
                &order,
                fill.maker_order_id,
                "TRADE",
                status,
                None,
                now,
                !done,
                Some((fill, true)),
            );
            out.push((order.account, order.wallet.clone(), report));
            if done {
                self.release(&mut order);
            }
            self.remember(&order, fill.maker_order_id, status, now);
            out.push(self.position(
                order.account,
                &order.wallet,
                &[&order.base, &order.quote],
                now,
            ));
            if !done {
                self.orders.insert(key, order);
            }
        }
    }

    /// One fill of the order being placed (the taker).
    fn taker_fill(
        &mut self,
        order: &mut UserOrder,
        order_id: u64,
        fill: &Fill,
        now: u64,
        resting: bool,
        out: &mut Outbox,
    ) {
        order.filled += fill.qty;
        order.quote_filled += fill.quote_qty;
        self.settle(order, fill, false);
        let status = if order.filled >= order.qty {
            "FILLED"
        } else {
            "PARTIALLY_FILLED"
        };
        let report = self.fill_report(
            order,
            order_id,
            "TRADE",
            status,
            None,
            now,
            resting && order.filled < order.qty,
            Some((fill, false)),
        );
        out.push((order.account, order.wallet.clone(), report));
    }

    /// Move the funds of one fill.
    fn settle(&mut self, order: &mut UserOrder, fill: &Fill, maker: bool) {
        self.remember_trade(order, fill, maker);
        let wallet = self.accounts[order.account]
            .wallets
            .entry(order.wallet.clone())
            .or_default();
        match order.side {
            Side::Buy => {
                // Limit buys reserved the limit price; market buys the estimated cost.
                let used = if order.order_type == "MARKET" {
                    fill.quote_qty.min(order.reserved)
                } else {
                    (order.price * fill.qty).min(order.reserved)
                };
                order.reserved -= used;
                let quote = wallet.entry(order.quote.clone()).or_default();
                quote.1 -= used;
                quote.0 += used - fill.quote_qty;
                wallet.entry(order.base.clone()).or_default().0 += fill.qty;
            }
            Side::Sell => {
                order.reserved -= fill.qty;
                wallet.entry(order.base.clone()).or_default().1 -= fill.qty;
                wallet.entry(order.quote.clone()).or_default().0 += fill.quote_qty;
            }
        }
    }

    /// Unlock what an order still holds (it left the book).
    fn release(&mut self, order: &mut UserOrder) {
        let asset = match order.side {
            Side::Buy => order.quote.clone(),
            Side::Sell => order.base.clone(),
        };
        let balance = self.balance(order.account, &order.wallet, &asset);
        balance.0 += order.reserved;
        balance.1 -= order.reserved;
        order.reserved = Decimal::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_vector_verifies_and_a_changed_payload_does_not() {
        let v = Verifier::Hmac(
            b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j".to_vec(),
        );
        let payload = b"apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&timestamp=1649729878532";
        let sig = "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed";
        assert!(v.verify(payload, sig));
        assert!(
            v.verify(payload, &sig.to_uppercase()),
            "hex is case-insensitive"
        );
        assert!(!v.verify(b"apiKey=x&timestamp=1649729878532", sig));
    }

    #[test]
    fn spki_of_both_key_kinds_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../binance-ws/tests/keys/");
        let ed = std::fs::read_to_string(format!("{dir}test-ed25519.pub.pem")).unwrap();
        let rsa = std::fs::read_to_string(format!("{dir}test-rsa.pub.pem")).unwrap();
        assert!(
            matches!(Verifier::from_public_pem(&ed), Ok(Verifier::Ed25519(k)) if k.len() == 32)
        );
        assert!(matches!(
            Verifier::from_public_pem(&rsa),
            Ok(Verifier::Rsa(_))
        ));
        let err = Verifier::from_public_pem("not a pem").err().unwrap();
        assert!(err.contains("PUBLIC KEY"), "{err}");
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn accounts_file_reads_every_wallet_and_names_what_is_wrong() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../binance-ws/tests/keys/test-ed25519.pub.pem"
        ))
        .unwrap();
        let text = serde_json::json!([
            {"apiKey": "a", "secretKey": "s", "balances": {"BTC": "1.5", "USDT": 100},
             "marginBalances": {"USDT": "7"}, "isolatedBalances": {"btcusdt": {"BTC": "0.1"}}},
            {"apiKey": "b", "publicKey": pem}
        ])
        .to_string();
        let specs = AccountSpec::from_json(&text).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].balances[&Wallet::Spot]["BTC"], Decimal::new(15, 1));
        assert_eq!(specs[0].balances[&Wallet::Spot]["USDT"], Decimal::from(100));
        assert_eq!(specs[0].balances[&Wallet::Margin]["USDT"], Decimal::from(7));
        assert_eq!(
            specs[0].balances[&Wallet::Isolated("BTCUSDT".into())]["BTC"],
            Decimal::new(1, 1)
        );
        assert!(matches!(specs[1].key, KeyKind::Ed25519 { .. }));
        assert!(!format!("{:?}", specs[0]).contains("\"s\""));

        let err = AccountSpec::from_json(r#"[{"apiKey": "a"}]"#).unwrap_err();
        assert!(
            err.contains("account 0") && err.contains("secretKey"),
            "{err}"
        );
        let err = AccountSpec::from_json(
            r#"[{"apiKey": "a", "secretKey": "s", "balances": {"BTC": "lots"}}]"#,
        )
        .unwrap_err();
        assert!(err.contains("`lots` is not a decimal"), "{err}");
    }
}
