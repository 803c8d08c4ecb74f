//! The accounts a simulator starts with: API key, key kind, balances by
//! wallet, in code or from a JSON file.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use super::keys::{KeyKind, Verifier};

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
