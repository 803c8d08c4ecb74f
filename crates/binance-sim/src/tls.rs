//! TLS with a certificate made at start-up, for `localhost` and `127.0.0.1`.

use std::sync::Arc;

use tokio_rustls::rustls;

/// An acceptor with a fresh self-signed certificate, and that certificate as PEM.
pub(crate) fn self_signed() -> std::io::Result<(tokio_rustls::TlsAcceptor, String)> {
    let err = |e: &dyn std::fmt::Display| std::io::Error::other(format!("TLS set-up: {e}"));
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).map_err(|e| err(&e))?;
    let pem = cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::try_from(signing_key.serialize_der())
        .map_err(|e| err(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .map_err(|e| err(&e))?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem))
}
