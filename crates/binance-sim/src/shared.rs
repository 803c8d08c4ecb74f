//! What every connection and handler shares: the market, the hub, the
//! accounts, the fault switches and the limits; the peer of a request; the
//! request-weight ledger; and the query-string reading every endpoint uses.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Extension, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use binance_types::{Micros, Retime};
use serde::Serialize;

use crate::accounts::Accounts;
use crate::api_error::{retry_after, ApiErr};
use crate::clock::now_ms;
use crate::config::{Flood, Limits};
use crate::exchange::Exchange;
use crate::faults::FaultState;
use crate::futures::FuturesMarket;
use crate::futures_user::FuturesUsers;
use crate::hub::Hub;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub exchange: Arc<Exchange>,
    pub hub: Arc<Hub>,
    pub faults: Arc<FaultState>,
    pub limits: Arc<Limits>,
    pub weights: Arc<Weights>,
    pub flood: Option<Flood>,
    attempts: Arc<Mutex<HashMap<IpAddr, VecDeque<Instant>>>>,
}

impl Shared {
    pub fn new(
        exchange: Arc<Exchange>,
        hub: Arc<Hub>,
        faults: Arc<FaultState>,
        limits: Limits,
        flood: Option<Flood>,
        weights: Arc<Weights>,
    ) -> Self {
        faults.attach_hub(&hub);
        Shared {
            exchange,
            flood,
            hub,
            faults,
            limits: Arc::new(limits),
            weights,
            attempts: Arc::default(),
        }
    }

    /// The accounts.
    pub fn accounts(&self) -> &Accounts {
        self.exchange.accounts()
    }

    /// Count a connection attempt from `ip`; Binance's `-1003` answer with
    /// the wait before the next one is allowed when over the limit.
    pub(crate) fn over_attempt_limit(&self, ip: IpAddr) -> Option<Response> {
        let now = Instant::now();
        let window = self.limits.connection_attempt_window;
        let mut attempts = self.attempts.lock().unwrap();
        let times = attempts.entry(ip).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= self.limits.max_connection_attempts as usize {
            let oldest = *times.front()?;
            return Some(retry_after(
                StatusCode::TOO_MANY_REQUESTS,
                window.saturating_sub(now.duration_since(oldest)),
                -1003,
                "Too many connection attempts; current limit is 300 per 5 minutes.",
            ));
        }
        times.push_back(now);
        None
    }

    /// Charge the weight, run the handler, stamp the used weight.
    pub(crate) async fn weighed<F: std::future::Future<Output = Response>>(
        &self,
        meta: &ConnMeta,
        weight: u32,
        answer: F,
    ) -> Response {
        let limit = self.limits.rest_weight_per_minute;
        match self.weights.charge(meta.peer.ip(), weight, limit) {
            Err(wait) => {
                let e = ApiErr::too_much_weight(limit);
                retry_after(StatusCode::TOO_MANY_REQUESTS, wait, e.code, &e.msg)
            }
            Ok(used) => {
                let mut response = answer.await;
                response
                    .headers_mut()
                    .insert("x-mbx-used-weight-1m", HeaderValue::from(used));
                response
            }
        }
    }
}

/// What a futures venue's handlers share: the server state (its hub, its
/// limits, the fault switches, its weight ledger), its contracts and its
/// user data.
#[derive(Clone)]
pub(crate) struct VenueState {
    pub shared: Shared,
    pub market: Arc<FuturesMarket>,
    pub users: Arc<FuturesUsers>,
}

/// A server state whose handlers charge and answer through a [`Shared`]
/// (a futures venue's, the options server's), so they can share handlers.
pub(crate) trait HasShared: Clone + Send + Sync + 'static {
    /// The server's shared state.
    fn shared(&self) -> &Shared;
}

impl HasShared for VenueState {
    fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// The peer and a second handle on its TCP socket, for each request.
#[derive(Clone)]
pub(crate) struct ConnMeta {
    pub peer: SocketAddr,
    pub(crate) raw: Arc<std::net::TcpStream>,
}

/// Request weight used per address in the current minute.
#[derive(Default)]
pub(crate) struct Weights {
    used: Mutex<HashMap<IpAddr, (u64, u32)>>,
    /// Requests answered 429 so far.
    pub refused: AtomicU64,
}

impl Weights {
    /// Charge `weight` to `ip`; the weight used this minute, or the wait
    /// until the next minute when over `limit`.
    pub(crate) fn charge(&self, ip: IpAddr, weight: u32, limit: u32) -> Result<u32, Duration> {
        let now = now_ms();
        let minute = now / 60_000;
        let mut used = self.used.lock().unwrap();
        let entry = used.entry(ip).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 + weight > limit {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Duration::from_millis((minute + 1) * 60_000 - now));
        }
        entry.1 += weight;
        Ok(entry.1)
    }

    /// Weight used by `ip` this minute.
    pub(crate) fn used(&self, ip: IpAddr) -> u32 {
        let minute = now_ms() / 60_000;
        match self.used.lock().unwrap().get(&ip) {
            Some(&(m, used)) if m == minute => used,
            _ => 0,
        }
    }
}

/// Query parameters with `%XX` decoded but `+` kept: stream names such as
/// `btcusdt@kline_1d@+08:00` are written into URLs as they are.
pub(crate) fn stream_query(raw: Option<String>) -> HashMap<String, String> {
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

/// `%XX` decoded, everything else (`+` too) kept.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Time unit of a stream connection, from its `timeUnit` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millis,
    Micros,
}

impl Unit {
    /// The unit a query asks for; the value when it names none Binance knows.
    pub(crate) fn from_query(query: &HashMap<String, String>) -> Result<Unit, String> {
        match query.get("timeUnit").map(String::as_str) {
            None | Some("MILLISECOND" | "millisecond") => Ok(Unit::Millis),
            Some("MICROSECOND" | "microsecond") => Ok(Unit::Micros),
            Some(other) => Err(other.to_owned()),
        }
    }

    /// The hub key for a stream in this unit: microsecond subscribers get
    /// their own key so the market encodes each unit once.
    pub(crate) fn hub_key(self, stream: &str) -> String {
        match self {
            Unit::Millis => stream.to_owned(),
            Unit::Micros => format!("{stream}{}", crate::hub::MICROS_SUFFIX),
        }
    }

    /// An event (in milliseconds) encoded in this unit.
    pub(crate) fn encode<T>(self, event: T) -> String
    where
        T: Serialize + Retime<Micros>,
        T::Output: Serialize,
    {
        match self {
            Unit::Millis => serde_json::to_string(&event),
            Unit::Micros => serde_json::to_string(&event.retime()),
        }
        .expect("events serialise")
    }
}

/// A REST request as the handlers read it: the server's state (spot's
/// [`Shared`], a futures venue's [`VenueState`]), the peer and the query
/// parameters (decoded as forms are: `+` is a space).
pub(crate) struct Request<S = Shared> {
    pub s: S,
    pub meta: ConnMeta,
    pub q: HashMap<String, String>,
}

impl<S: Clone + Send + Sync + 'static> FromRequestParts<S> for Request<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Extension(meta) = Extension::<ConnMeta>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(q) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Request {
            s: state.clone(),
            meta,
            q,
        })
    }
}

#[cfg(test)]
mod tests {
    use binance_types::market::ServerShutdown;
    use binance_types::{Millis, Time};

    use super::Unit;
    use crate::hub::Published;
    use crate::vectors::vector;

    #[test]
    fn server_shutdown_has_binances_bytes_in_each_unit() {
        let want = vector("spot/serverShutdown.json");
        let ms = want["E"].as_u64().unwrap();
        let event = || ServerShutdown::<Millis> {
            event_time: Time::new(ms),
        };
        assert_eq!(Unit::Millis.encode(event()), want.to_string());
        let mut micros = want.clone();
        micros["E"] = (ms * 1000).into();
        assert_eq!(Unit::Micros.encode(event()), micros.to_string());
        let combined = vector("spot/serverShutdown_combined.json");
        let event = ServerShutdown::<Millis> {
            event_time: Time::new(combined["data"]["E"].as_u64().unwrap()),
        };
        let frame = Published {
            stream: "!serverShutdown".into(),
            json: Unit::Millis.encode(event),
        };
        assert_eq!(frame.frame(true), combined.to_string());
    }
}
