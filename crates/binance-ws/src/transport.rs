//! TCP (direct or through a proxy), TLS (rustls, the web's roots plus any
//! extra root), and the WebSocket handshake.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::WebSocketStream;

use crate::config::Proxy;
use crate::error::{Error, ErrorKind};

/// An open WebSocket.
pub(crate) type Ws = WebSocketStream<Stream>;

/// A plain or TLS byte stream.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Which proxy to use: set through
/// [`SocketManagerBuilder::proxy`](crate::SocketManagerBuilder::proxy) and
/// [`no_proxy`](crate::SocketManagerBuilder::no_proxy).
#[derive(Debug, Clone, Default)]
pub(crate) enum ProxySetting {
    /// From `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` (default).
    #[default]
    FromEnv,
    /// Connect directly.
    None,
    /// Always this proxy.
    Use(Proxy),
}

/// How connections reach the server.
#[derive(Clone)]
pub(crate) struct Network {
    pub tls: Arc<rustls::ClientConfig>,
    pub proxy: ProxySetting,
    pub connect_timeout: Duration,
}

impl Network {
    /// TLS trusting the web's roots plus `extra_roots_pem` (PEM certificates).
    pub fn new(
        extra_roots_pem: &[String],
        proxy: ProxySetting,
        connect_timeout: Duration,
    ) -> Result<Self, Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for pem in extra_roots_pem {
            use rustls::pki_types::pem::PemObject;
            let mut added = 0;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert =
                    cert.map_err(|e| Error::config(format!("extra root certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::config(format!("extra root certificate: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(Error::config(
                    "extra root certificate: no PEM certificate found",
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Network {
            tls: Arc::new(tls),
            proxy,
            connect_timeout,
        })
    }
}

/// Split `ws[s]://host[:port]/path` into (tls, host, port).
fn target(url: &str) -> Result<(bool, String, u16), Error> {
    let bad = || {
        Error::config(format!(
            "URL `{url}` is not ws://host[:port]/… or wss://host[:port]/…"
        ))
    };
    let (tls, rest) = if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_matches(['[', ']']).to_owned(),
            p.parse().map_err(|_| bad())?,
        ),
        _ => (authority.to_owned(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((tls, host, port))
}

/// A connect failure that keeps `e` as its source.
fn connect_error(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Connect, format!("{what}: {e}")).with_source(e)
}

/// Open a WebSocket to `url`.
pub(crate) async fn connect(url: &str, net: &Network) -> Result<Ws, Error> {
    let (_, host, port) = target(url)?;
    let work = async {
        let stream = open(url, net).await?;
        let (ws, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(handshake_error)?;
        Ok(ws)
    };
    tokio::time::timeout(net.connect_timeout, work)
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Connect,
                format!(
                    "connect to {host}:{port}: no answer within {} ms",
                    net.connect_timeout.as_millis()
                ),
            )
        })?
}

/// TCP (direct or through the proxy) and TLS for `ws[s]://host[:port]/…`.
pub(crate) async fn open(url: &str, net: &Network) -> Result<Stream, Error> {
    let (tls, host, port) = target(url)?;
    let proxy = match &net.proxy {
        ProxySetting::FromEnv => Proxy::from_env(&host),
        ProxySetting::None => None,
        ProxySetting::Use(p) => Some(p.clone()),
    };
    let tcp = match proxy {
        None => TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| connect_error(&format!("connect to {host}:{port}"), e))?,
        Some(Proxy::Http { addr, auth }) => http_connect(&addr, auth.as_ref(), &host, port).await?,
        Some(Proxy::Socks5 { addr, auth }) => {
            let target = (host.as_str(), port);
            let stream = match auth {
                None => tokio_socks::tcp::Socks5Stream::connect(addr.as_str(), target).await,
                Some((user, pass)) => {
                    tokio_socks::tcp::Socks5Stream::connect_with_password(
                        addr.as_str(),
                        target,
                        &user,
                        &pass,
                    )
                    .await
                }
            }
            .map_err(|e| connect_error(&format!("SOCKS5 proxy {addr}"), e))?;
            stream.into_inner()
        }
    };
    let _ = tcp.set_nodelay(true);
    let stream = if tls {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| Error::config(format!("TLS server name `{host}`: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(net.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| connect_error(&format!("TLS with {host}"), e))?;
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(tcp)
    };
    Ok(stream)
}

fn handshake_error(e: tungstenite::Error) -> Error {
    match &e {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
                .unwrap_or_default();
            Error::new(
                ErrorKind::Http {
                    status,
                    retry_after,
                },
                format!("server answered the upgrade with HTTP {status}: {body}"),
            )
            .with_source(e)
        }
        _ => connect_error("WebSocket handshake", e),
    }
}

/// Open a tunnel through an HTTP proxy with `CONNECT`.
async fn http_connect(
    proxy: &str,
    auth: Option<&(String, String)>,
    host: &str,
    port: u16,
) -> Result<TcpStream, Error> {
    let mut tcp = TcpStream::connect(proxy)
        .await
        .map_err(|e| connect_error(&format!("HTTP proxy {proxy}"), e))?;
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some((user, pass)) = auth {
        request.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64(&format!("{user}:{pass}"))
        ));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| connect_error(&format!("HTTP proxy {proxy}"), e))?;
    // Read the proxy's answer head byte by byte so no tunnel byte is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tcp
            .read_u8()
            .await
            .map_err(|e| connect_error(&format!("HTTP proxy {proxy}"), e))?;
        head.push(byte);
        if head.len() > 8192 {
            return Err(Error::new(
                ErrorKind::Connect,
                format!("HTTP proxy {proxy}: answer head too long"),
            ));
        }
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split(' ').nth(1) != Some("200") {
        return Err(Error::new(
            ErrorKind::Connect,
            format!("HTTP proxy {proxy} refused CONNECT: {status_line}"),
        ));
    }
    Ok(tcp)
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets() {
        assert_eq!(
            super::target("wss://stream.binance.com:9443/ws/x").unwrap(),
            (true, "stream.binance.com".into(), 9443)
        );
        assert_eq!(
            super::target("ws://127.0.0.1:9000").unwrap(),
            (false, "127.0.0.1".into(), 9000)
        );
        assert_eq!(
            super::target("wss://data-stream.binance.vision/stream?streams=a")
                .unwrap()
                .2,
            443
        );
        assert!(super::target("http://x").is_err());
    }

    #[tokio::test]
    async fn a_refused_connection_keeps_the_io_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let net = super::Network::new(
            &[],
            super::ProxySetting::None,
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let Err(e) = super::connect(&format!("ws://127.0.0.1:{port}/ws/x"), &net).await else {
            panic!("nothing listens");
        };
        assert!(e.is_reconnectable());
        let source = std::error::Error::source(&e).expect("a source");
        assert!(
            source.downcast_ref::<std::io::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn basic_auth() {
        assert_eq!(super::base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(super::base64("a"), "YQ==");
    }
}
