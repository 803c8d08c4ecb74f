//! API keys and request signing: HMAC-SHA256, Ed25519 and RSA, the
//! server-time offset timestamps are corrected by, and signed parameters
//! for the WebSocket API and REST.
//!
//! No key, secret or signature ever reaches a `Debug` output, a log line or
//! an error message.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use serde_json::{Map, Value};

use crate::error::Error;

/// The kind of an API key, as Binance names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// HMAC-SHA256 with a secret (hex signatures).
    Hmac,
    /// Ed25519 (base64 signatures); the only kind `session.logon` takes.
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256 (base64 signatures).
    Rsa,
}

enum Key {
    Hmac(Vec<u8>),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// An API key and what signs for it. Cheap to clone.
///
/// `Debug` shows only the key type.
#[derive(Clone)]
pub struct Credentials {
    api_key: Arc<str>,
    key: Arc<Key>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("type", &self.key_type())
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// The environment variables [`Credentials::from_env`] reads.
pub const ENV_API_KEY: &str = "BINANCE_API_KEY";
/// The HMAC secret's variable.
pub const ENV_API_SECRET: &str = "BINANCE_API_SECRET";
/// The variable naming a PEM private key file (Ed25519 or RSA).
pub const ENV_PRIVATE_KEY_FILE: &str = "BINANCE_PRIVATE_KEY_FILE";

impl Credentials {
    /// An HMAC key: the API key and its secret.
    pub fn hmac(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            api_key: Arc::from(api_key.into()),
            key: Arc::new(Key::Hmac(secret.into().into_bytes())),
        }
    }

    /// An Ed25519 or RSA key: the API key and the private key as PEM
    /// (`BEGIN PRIVATE KEY`, PKCS#8, as `openssl genpkey` writes it; or
    /// `BEGIN RSA PRIVATE KEY`, PKCS#1). The kind is read from the key.
    pub fn from_pem(api_key: impl Into<String>, pem: &str) -> Result<Self, Error> {
        let bad = || {
            Error::config(
                "private key: not an Ed25519 or RSA key in PEM (want PKCS#8 `BEGIN PRIVATE KEY` \
                 or PKCS#1 `BEGIN RSA PRIVATE KEY`)",
            )
        };
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| bad())?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(p) => {
                let bytes = p.secret_pkcs8_der();
                match Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes) {
                    Ok(k) => Key::Ed25519(k),
                    Err(_) => Key::Rsa(RsaKeyPair::from_pkcs8(bytes).map_err(|_| bad())?),
                }
            }
            PrivateKeyDer::Pkcs1(p) => {
                Key::Rsa(RsaKeyPair::from_der(p.secret_pkcs1_der()).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        Ok(Credentials {
            api_key: Arc::from(api_key.into()),
            key: Arc::new(key),
        })
    }

    /// An Ed25519 or RSA key read from a PEM file.
    pub fn from_key_file(
        api_key: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("private key file {}: {e}", path.display())))?;
        Self::from_pem(api_key, &pem)
            .map_err(|e| Error::config(format!("private key file {}: {e}", path.display())))
    }

    /// From the environment: `BINANCE_API_KEY` with `BINANCE_API_SECRET`
    /// (HMAC) or `BINANCE_PRIVATE_KEY_FILE` (a PEM file, Ed25519 or RSA).
    pub fn from_env() -> Result<Self, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(api_key) = var(ENV_API_KEY) else {
            return Err(Error::config(format!(
                "no API key: set {ENV_API_KEY} and {ENV_API_SECRET} (HMAC) or \
                 {ENV_PRIVATE_KEY_FILE} (Ed25519 or RSA PEM), or give the builder Credentials"
            )));
        };
        match (var(ENV_API_SECRET), var(ENV_PRIVATE_KEY_FILE)) {
            (Some(secret), None) => Ok(Self::hmac(api_key, secret)),
            (None, Some(path)) => Self::from_key_file(api_key, path),
            (Some(_), Some(_)) => Err(Error::config(format!(
                "both {ENV_API_SECRET} and {ENV_PRIVATE_KEY_FILE} are set; set one"
            ))),
            (None, None) => Err(Error::config(format!(
                "{ENV_API_KEY} is set but neither {ENV_API_SECRET} (HMAC) nor \
                 {ENV_PRIVATE_KEY_FILE} (Ed25519 or RSA PEM) is"
            ))),
        }
    }

    /// The kind of key.
    pub fn key_type(&self) -> KeyType {
        match *self.key {
            Key::Hmac(_) => KeyType::Hmac,
            Key::Ed25519(_) => KeyType::Ed25519,
            Key::Rsa(_) => KeyType::Rsa,
        }
    }

    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Binance's signature of `payload`: lowercase hex for HMAC, base64 for
    /// Ed25519 and RSA.
    pub fn sign(&self, payload: &[u8]) -> String {
        match &*self.key {
            Key::Hmac(secret) => binance_types::sign::hmac_sha256_hex(secret, payload),
            Key::Ed25519(pair) => {
                base64::engine::general_purpose::STANDARD.encode(pair.sign(payload).as_ref())
            }
            Key::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    payload,
                    &mut signature,
                )
                .expect("RSA signing fails only on a wrong-size output buffer");
                base64::engine::general_purpose::STANDARD.encode(signature)
            }
        }
    }
}

/// The server clock as seen from here: local time plus a measured offset.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicI64,
    synced: std::sync::Mutex<Option<Instant>>,
}

pub(crate) fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Clock {
    /// Server time now, in ms.
    pub fn now_ms(&self) -> u64 {
        (local_ms() + self.offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    /// Record a measurement: the server said `server` between local
    /// times `sent` and `received`.
    pub fn set(&self, server: i64, sent: i64, received: i64) {
        self.offset_ms
            .store(server - (sent + received) / 2, Ordering::Relaxed);
        *self.synced.lock().unwrap() = Some(Instant::now());
    }

    /// Whether the offset was ever measured.
    pub fn is_synced(&self) -> bool {
        self.synced.lock().unwrap().is_some()
    }
}

/// A WebSocket API parameter's text as signed.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Signed WebSocket API params: `apiKey`, `timestamp`, `recvWindow` added;
/// the signature covers every param sorted by name, `k=v` joined by `&`
/// (not percent-encoded).
pub(crate) fn sign_params(
    credentials: &Credentials,
    clock: &Clock,
    recv_window: Option<Duration>,
    mut params: Map<String, Value>,
) -> Map<String, Value> {
    params.insert("apiKey".into(), credentials.api_key().into());
    params.insert("timestamp".into(), clock.now_ms().into());
    if let Some(window) = recv_window {
        params.insert("recvWindow".into(), (window.as_millis() as u64).into());
    }
    params.remove("signature");
    let payload = binance_types::sign::signing_payload(
        params
            .iter()
            .map(|(k, v)| (k.clone(), text(v)))
            .collect::<Vec<_>>()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    params.insert(
        "signature".into(),
        credentials.sign(payload.as_bytes()).into(),
    );
    params
}

/// A signed REST query string: the params percent-encoded in order, with
/// `timestamp` (and `recvWindow`), then `&signature=` over all before it.
pub(crate) fn sign_query(
    credentials: &Credentials,
    clock: &Clock,
    recv_window: Option<Duration>,
    params: &[(&str, String)],
) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const VALUE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    if let Some(window) = recv_window {
        pairs.push(("recvWindow".into(), window.as_millis().to_string()));
    }
    pairs.push(("timestamp".into(), clock.now_ms().to_string()));
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, VALUE)))
        .collect::<Vec<_>>()
        .join("&");
    let signature = credentials.sign(query.as_bytes());
    format!(
        "{query}&signature={}",
        utf8_percent_encode(&signature, VALUE)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signatures_match_binance_examples() {
        // `shared/` beside the repository, or BINANCE_SHARED_DIR.
        let shared = std::env::var("BINANCE_SHARED_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
        let text =
            std::fs::read_to_string(format!("{shared}/vectors/wsapi/signing_hmac_examples.json"))
                .expect("signing vectors (set BINANCE_SHARED_DIR)");
        let examples: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(examples.len(), 3);
        for example in examples {
            let credentials = Credentials::hmac("k", example["secretKey"].as_str().unwrap());
            assert_eq!(
                credentials.sign(example["payload"].as_str().unwrap().as_bytes()),
                example["signature"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn keys_from_files_and_the_environment() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");
        let ed = Credentials::from_key_file("k", format!("{dir}/test-ed25519.pem")).unwrap();
        let rsa = Credentials::from_key_file("k", format!("{dir}/test-rsa.pem")).unwrap();
        assert_eq!(
            (ed.key_type(), rsa.key_type()),
            (KeyType::Ed25519, KeyType::Rsa)
        );
        // Ed25519 signatures are deterministic: 64 bytes, base64.
        assert_eq!(ed.sign(b"apiKey=k&timestamp=1").len(), 88);
        assert_eq!(ed.sign(b"x"), ed.sign(b"x"));
        let err = Credentials::from_key_file("k", format!("{dir}/missing.pem")).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let err = Credentials::from_key_file("k", format!("{dir}/test-rsa.pub.pem")).unwrap_err();
        assert!(err.to_string().contains("BEGIN PRIVATE KEY"), "{err}");

        // The environment: one test touches these variables, so no race.
        std::env::set_var(ENV_API_KEY, "env-key");
        std::env::set_var(ENV_API_SECRET, "env-secret");
        std::env::remove_var(ENV_PRIVATE_KEY_FILE);
        assert_eq!(Credentials::from_env().unwrap().key_type(), KeyType::Hmac);
        std::env::set_var(ENV_PRIVATE_KEY_FILE, format!("{dir}/test-ed25519.pem"));
        let err = Credentials::from_env().unwrap_err();
        assert!(err.to_string().contains("set one"), "{err}");
        std::env::remove_var(ENV_API_SECRET);
        assert_eq!(
            Credentials::from_env().unwrap().key_type(),
            KeyType::Ed25519
        );
        std::env::remove_var(ENV_PRIVATE_KEY_FILE);
        let err = Credentials::from_env().unwrap_err();
        assert!(err.to_string().contains(ENV_API_SECRET), "{err}");
        std::env::remove_var(ENV_API_KEY);
        let err = Credentials::from_env().unwrap_err();
        assert!(err.to_string().contains("no API key"), "{err}");
    }

    #[test]
    fn debug_and_errors_never_show_key_material() {
        let credentials = Credentials::hmac("THE-API-KEY", "THE-SECRET");
        let text = format!("{credentials:?}");
        assert!(
            !text.contains("THE-API-KEY") && !text.contains("THE-SECRET"),
            "{text}"
        );
        let pem = "-----BEGIN PRIVATE KEY-----\nTUFURVJJQUwtU0VDUkVU\n-----END PRIVATE KEY-----\n";
        let err = Credentials::from_pem("THE-API-KEY", pem)
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("TUFURVJJQUwtU0VDUkVU") && !err.contains("THE-API-KEY"),
            "{err}"
        );
        assert!(err.contains("PKCS#8"), "{err}");
    }
}
