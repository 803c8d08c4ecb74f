//! API keys: HMAC secrets, and Ed25519 and RSA public keys read from PEM
//! (a small DER reader finds the key in its SubjectPublicKeyInfo), and the
//! check of a request's signature.

use std::fmt;

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;

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

/// Checks signatures of one key.
pub(super) enum Verifier {
    Hmac(Vec<u8>),
    Ed25519(Vec<u8>),
    Rsa(Vec<u8>),
}

impl Verifier {
    pub(super) fn new(kind: &KeyKind) -> Result<Verifier, String> {
        match kind {
            KeyKind::Hmac { secret } => Ok(Verifier::Hmac(secret.as_bytes().to_vec())),
            KeyKind::Ed25519 { public_key_pem } | KeyKind::Rsa { public_key_pem } => {
                Self::from_public_pem(public_key_pem)
            }
        }
    }

    /// An Ed25519 or RSA public key from PEM (`PUBLIC KEY`, i.e. SPKI).
    pub(super) fn from_public_pem(pem: &str) -> Result<Verifier, String> {
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

    pub(super) fn verify(&self, payload: &[u8], signature: &str) -> bool {
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
