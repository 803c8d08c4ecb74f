//! The little REST the client needs (depth snapshots), over the same
//! transport as the streams: TLS roots, proxies and all.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::error::{Error, ErrorKind};
use crate::transport::{self, Network};

/// A REST answer: status, `Retry-After`, body.
pub(crate) struct Response {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// `GET url` (http:// or https://), one request per connection.
pub(crate) async fn get(url: &str, net: &Network) -> Result<Response, Error> {
    send("GET", url, &[], net).await
}

/// `method url` with extra headers (http:// or https://), one request per connection.
pub(crate) async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    net: &Network,
) -> Result<Response, Error> {
    let ws_url = url
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let (host, path) = split(url)?;
    let work = async {
        let stream = transport::open(&ws_url, net).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Connect, format!("REST {host}: {e}")).with_source(e)
            })?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .header(
                "user-agent",
                concat!("binance-ws/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| Error::config(format!("REST request: {e}")))?;
        let response = sender.send_request(request).await.map_err(|e| {
            Error::new(ErrorKind::Connect, format!("REST {host}: {e}")).with_source(e)
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Connect, format!("REST {host}: {e}")).with_source(e)
            })?
            .to_bytes();
        Ok(Response {
            status,
            retry_after,
            body,
        })
    };
    tokio::time::timeout(net.connect_timeout * 3, work)
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Connect,
                format!("REST {host}: no answer in time"),
            )
        })?
}

fn split(url: &str) -> Result<(&str, &str), Error> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::config(format!("REST URL `{url}` is not http(s)://…")))?;
    let at = rest.find('/').unwrap_or(rest.len());
    Ok((&rest[..at], if at < rest.len() { &rest[at..] } else { "/" }))
}
