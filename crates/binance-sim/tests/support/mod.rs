//! A plain WebSocket client (tokio-tungstenite, not our client) and a plain
//! HTTP/1.1 GET, against an in-process simulator on loopback.
#![allow(dead_code)] // each test binary uses part of this

mod common;
mod streams;

use std::path::PathBuf;
use std::time::Duration;

pub use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
#[allow(unused_imports)] // not every test binary reads streams
pub use streams::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long any single expected event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .0
}

/// The next text frame (answering pings on the way), parsed.
pub async fn next_json(ws: &mut Ws) -> Value {
    let text = next_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}: {text}"))
}

pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")
            .expect("connection open")
            .expect("frame reads");
        match msg {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// WebSocket API params with `apiKey` (unless given), `timestamp` and an
/// HMAC `signature` made with `secret` over the sorted `k=v&…`.
pub fn ws_signed(mut params: Value, api_key: &str, secret: &str) -> Value {
    let map = params.as_object_mut().unwrap();
    map.entry("apiKey").or_insert(api_key.into());
    map.entry("timestamp").or_insert(now_ms().into());
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let payload = keys
        .iter()
        .map(|k| match &map[*k] {
            Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join("&");
    let signature = binance_types::sign::hmac_sha256_hex(secret.as_bytes(), payload.as_bytes());
    map.insert("signature".into(), signature.into());
    params
}

/// Send a control request and return its reply, skipping data frames.
pub async fn request(ws: &mut Ws, request: Value) -> Value {
    let id = request["id"].clone();
    ws.send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
    loop {
        let v = next_json(ws).await;
        if v.get("id") == Some(&id) || (v.get("error").is_some() && v.get("data").is_none()) {
            return v;
        }
    }
}

/// A WebSocket API request: its answer.
pub async fn call(ws: &mut Ws, id: u64, method: &str, params: Value) -> Value {
    request(
        ws,
        serde_json::json!({"id": id, "method": method, "params": params}),
    )
    .await
}

/// A WebSocket API answer's error: status and code.
pub fn error_code(reply: &Value) -> (u64, i64) {
    (
        reply["status"].as_u64().unwrap(),
        reply["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("an error: {reply}")),
    )
}

/// The frame that ends the connection: a close frame (code, reason) or an
/// I/O error (as text).
pub async fn ending(ws: &mut Ws) -> Result<(u16, String), String> {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("the connection ends in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                return Ok((frame.code.into(), frame.reason.to_string()))
            }
            Some(Ok(Message::Close(None))) => return Ok((1005, String::new())),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed without a close frame".into()),
        }
    }
}

pub async fn get_json(url: &str) -> Value {
    let (status, _, body) = http("GET", url).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub fn vector(name: &str) -> Value {
    any_vector(&format!("spot/{name}"))
}

/// A vector by its path under `vectors/` (`user/wsapi/executionReport.json`).
pub fn any_vector(name: &str) -> Value {
    let path = shared().join("vectors").join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// A REST response example of Binance's docs, kept in `tests/vectors/rest/`.
pub fn rest_vector(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rest")
        .join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Keys and JSON value types, recursively (arrays by their first element).
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// Send a WebSocket upgrade request by hand; returns the socket, the answer's
/// head, and whatever bytes followed it.
pub async fn upgrade(
    addr: std::net::SocketAddr,
    path: &str,
) -> (tokio::net::TcpStream, String, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut chunk))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed during handshake");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end);
    (tcp, head, buf)
}

/// A WebSocket client that does the handshake and then only reads raw
/// frames, never answering anything (so pings go unanswered).
pub struct Silent {
    tcp: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Silent {
    pub async fn connect(addr: std::net::SocketAddr, path: &str) -> Silent {
        let (tcp, head, buf) = upgrade(addr, path).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Silent { tcp, buf }
    }

    /// Every frame until the server closes TCP: (opcode, payload).
    pub async fn frames_until_eof(mut self) -> Vec<(u8, Vec<u8>)> {
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            // A reset ends the stream like a close does.
            let n = tokio::time::timeout(PATIENCE, self.tcp.read(&mut chunk))
                .await
                .expect("server ends in time")
                .unwrap_or_default();
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let mut frames = Vec::new();
        let b = &self.buf;
        let mut i = 0;
        while i + 2 <= b.len() {
            let opcode = b[i] & 0x0f;
            let (len, head) = match b[i + 1] & 0x7f {
                126 => (u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(b[i + 2..i + 10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            if i + head + len > b.len() {
                break;
            }
            frames.push((opcode, b[i + head..i + head + len].to_vec()));
            i += head + len;
        }
        frames
    }
}

/// The close code of a close frame's payload.
pub fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

/// Keys in order, value types, and (`decimals`) the places of numeric strings.
pub fn skeleton(v: &Value, decimals: bool) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", skeleton(v, decimals)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => match items.first() {
            Some(first) => format!("[{}]", skeleton(first, decimals)),
            None => "[]".into(),
        },
        Value::String(s) => {
            let numeric = !s.is_empty()
                && s.trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.');
            match (numeric, decimals) {
                (true, true) => format!("d{}", s.split_once('.').map_or(0, |(_, f)| f.len())),
                (true, false) => "d".into(),
                (false, _) => "s".into(),
            }
        }
        Value::Number(_) => "n".into(),
        Value::Bool(_) => "b".into(),
        Value::Null => "null".into(),
    }
}

/// `ours` has the skeleton of `theirs` (with decimals or without).
pub fn same(what: &str, ours: &Value, theirs: &Value, decimals: bool) {
    assert_eq!(
        skeleton(ours, decimals),
        skeleton(theirs, decimals),
        "{what}\n ours:   {ours}\n theirs: {theirs}"
    );
}

/// The first frame of each stream (depth frames with both sides non-empty).
pub async fn first_frames(
    url: &str,
    streams: &[&str],
) -> std::collections::BTreeMap<String, Value> {
    let mut ws = connect(&format!("{url}?streams={}", streams.join("/"))).await;
    let mut got = std::collections::BTreeMap::new();
    while got.len() < streams.len() {
        let v = next_json(&mut ws).await;
        let Some(stream) = v["stream"].as_str() else {
            continue;
        };
        let data = &v["data"];
        let sides_empty = ["b", "a"].iter().any(|k| {
            data.get(*k)
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
        });
        if data.get("U").is_some() && sides_empty {
            continue;
        }
        got.entry(stream.to_owned()).or_insert_with(|| data.clone());
    }
    got
}
