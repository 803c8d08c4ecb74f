//! The stream server (`/ws/<name>`, `/ws`, `/stream?streams=…`, `/stream`):
//! the names a connection asks for, checked as Binance checks them, and its
//! [`Protocol`]: hub frames out, live-subscription requests in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use binance_types::control::{ControlError, ControlRequest, ControlResponse, RequestId};
use binance_types::futures::FuturesStream;
use binance_types::market::ServerShutdown;
use binance_types::venue::{Route, Venue};
use binance_types::{Millis, StreamName, Time};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::api_error::{binance_error, retry_after};
use crate::faults::ConnKind;
use crate::futures::FuturesMarket;
use crate::futures_user::FuturesUsers;
use crate::hub::{Inbox, Published};
use crate::market::Market;
use crate::options::{OptionStream, OptionsMarket};
use crate::session::{self, Notice, Outbox, Protocol};
use crate::shared::{percent_decode, stream_query, ConnMeta, Shared, Unit};

/// `GET /ws`, `/ws/<names>`, `/stream`: upgrade to a stream connection.
pub(crate) async fn upgrade(
    State(s): State<Shared>,
    Extension(meta): Extension<ConnMeta>,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    open(s, meta, uri.path(), uri.query(), ws, Names::Spot).await
}

/// Open a stream connection on `path` (the stream-server path, without a
/// futures route) whose names are checked by `names`.
pub(crate) async fn open(
    s: Shared,
    meta: ConnMeta,
    path: &str,
    query: Option<&str>,
    ws: WebSocketUpgrade,
    names_kind: Names,
) -> Response {
    let query = stream_query(query.map(str::to_owned));
    let Some((names, combined)) = requested(path, &query) else {
        return crate::rest::not_found().await;
    };
    if let Some((status, retry)) = s.faults.upgrade_rejection() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        return retry_after(
            status,
            retry,
            -1003,
            "Too many requests; current limit is exceeded.",
        );
    }
    if let Some(refused) = s.over_attempt_limit(meta.peer.ip()) {
        return refused;
    }
    let unit = match (&names_kind, Unit::from_query(&query)) {
        (Names::Spot, Ok(unit)) => unit,
        // Futures streams have no timeUnit: always milliseconds.
        (Names::Futures { .. } | Names::Options { .. }, _) => Unit::Millis,
        (Names::Spot, Err(other)) => {
            return binance_error(
                StatusCode::BAD_REQUEST,
                -1194,
                &format!("Invalid time unit `{other}`; valid: MILLISECOND, MICROSECOND."),
            )
        }
    };
    if names.len() > s.limits.max_streams {
        return binance_error(StatusCode::BAD_REQUEST, -1, "Too many streams requested.");
    }
    let mut canonical = Vec::with_capacity(names.len());
    for name in &names {
        match names_kind.check(s.exchange.market(), name) {
            Ok((checked, fed)) => canonical.push((checked, fed, name.clone())),
            // No `@`: what Binance reads as a listen key (`/ws/<listenKey>`);
            // one it does not know, such as ccxt's connection index in
            // `/ws/0`, opens a connection that carries nothing until SUBSCRIBE.
            Err(_) if !name.contains('@') && !name.starts_with('!') => {}
            Err(msg) => return binance_error(StatusCode::BAD_REQUEST, -1121, &msg),
        }
    }
    if let (Some(flood), [(name, true, _)], Names::Spot) = (s.flood, &canonical[..], &names_kind) {
        if let Ok(StreamName::Trade(symbol)) = name.parse::<StreamName>() {
            return ws.on_upgrade(move |socket| crate::flood::run(socket, symbol, flood, unit));
        }
    }
    ws.max_message_size(s.limits.max_incoming_frame)
        .on_upgrade(move |socket| {
            session::run(socket, s.clone(), meta, move |conn| {
                Streams::start(s, conn, canonical, combined, unit, names_kind)
            })
        })
}

/// Which names a stream connection takes, and which of them it is fed.
pub(crate) enum Names {
    /// Spot's ([`StreamName`]).
    Spot,
    /// A futures venue's ([`FuturesStream::parse_on`]), on a routed path
    /// (USD-M; `None`: a legacy path, which gets `/public` data) or none
    /// (COIN-M).
    Futures {
        /// The venue's contracts.
        market: Arc<FuturesMarket>,
        /// The venue's listen keys.
        users: Arc<FuturesUsers>,
        /// The route of the connection's path.
        route: Option<Route>,
    },
    /// The options market's ([`OptionStream::parse`]), on a routed path
    /// (`None`: a legacy path, which gets `/public` data).
    Options {
        /// The option books.
        market: Arc<OptionsMarket>,
        /// The route of the connection's path.
        route: Option<Route>,
    },
}

impl Names {
    /// The canonical name and whether this connection is fed it (a USD-M
    /// stream of another route is accepted and stays silent, §5.1); the
    /// reason when the name is refused.
    fn check(&self, spot: &Market, name: &str) -> Result<(String, bool), String> {
        match self {
            Names::Spot => check_stream(spot, name).map(|n| (n, true)),
            Names::Futures {
                market,
                users,
                route,
            } => {
                let venue = market.venue();
                // A listen key's stream: fed on `/private` (USD-M) or any
                // path (COIN-M), silent elsewhere.
                if users.is_user_stream(name) {
                    let fed = venue != Venue::UsdM || *route == Some(Route::Private);
                    return Ok((name.to_owned(), fed));
                }
                let stream = FuturesStream::parse_on(venue, name).map_err(|e| e.to_string())?;
                if !market.supports(&stream) {
                    return Err(format!("stream `{name}` is not simulated (unknown symbol)"));
                }
                let fed = match stream.route_on(venue) {
                    None => true,
                    Some(needed) => needed == route.unwrap_or(Route::Public),
                };
                Ok((stream.to_string(), fed))
            }
            Names::Options { market, route } => {
                let stream = OptionStream::parse(name)?;
                if !market.supports(&stream) {
                    return Err(format!(
                        "stream `{name}` is not simulated (unknown option symbol, underlying or expiry)"
                    ));
                }
                let fed = stream.route() == route.unwrap_or(Route::Public);
                Ok((stream.to_string(), fed))
            }
        }
    }

    /// Futures servers take only unsigned integer ids (§5.1).
    fn id_allowed(&self, id: &RequestId) -> bool {
        match self {
            Names::Spot => true,
            Names::Futures { .. } | Names::Options { .. } => {
                matches!(id, RequestId::Int(n) if *n >= 0)
            }
        }
    }
}

/// The stream names of a stream-server path (`/ws/<name>/<name>…`, `/ws`,
/// `/stream?streams=<name>/<name>…`, `/stream`) and whether frames come
/// combined; `None` for other paths.
pub(crate) fn requested(
    path: &str,
    query: &HashMap<String, String>,
) -> Option<(Vec<String>, bool)> {
    let split = |names: &str| -> Vec<String> {
        names
            .split('/')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match path {
        "/ws" => Some((Vec::new(), false)),
        "/stream" => Some((
            query.get("streams").map(|s| split(s)).unwrap_or_default(),
            true,
        )),
        _ => path
            .strip_prefix("/ws/")
            .map(|names| (split(&percent_decode(names)), false)),
    }
}

/// The stream's canonical name if the market serves it; the reason if not.
pub(crate) fn check_stream(market: &Market, name: &str) -> Result<String, String> {
    let parsed: StreamName = alias(name).parse().map_err(|e| format!("{e}"))?;
    if market.supports(&parsed) {
        Ok(parsed.to_string())
    } else {
        Err(format!(
            "stream `{name}` is not simulated (unknown symbol, or a stream type not simulated)"
        ))
    }
}

/// The documented name of a stream Binance also serves under another
/// spelling: python-binance's `miniticker_socket()` has opened
/// `!miniTicker@arr@1000ms` against production for years, and gets the array.
fn alias(name: &str) -> &str {
    match name {
        "!miniTicker@arr@1000ms" => "!miniTicker@arr",
        other => other,
    }
}

/// A name a SUBSCRIBE asked for: canonical, whether it is fed, as written.
type Checked = (String, (bool, String));

/// One stream connection: its subscriptions in the hub, raw or combined.
struct Streams {
    s: Shared,
    conn: u64,
    inbox: Inbox,
    subscribed: BTreeSet<String>,
    combined: bool,
    unit: Unit,
    names: Names,
    /// Options: the spelling a subscriber wrote for a canonical name,
    /// where they differ; combined frames carry it back.
    spelled: HashMap<String, String>,
}

impl Streams {
    fn start(
        s: Shared,
        conn: u64,
        names: Vec<(String, bool, String)>,
        combined: bool,
        unit: Unit,
        kind: Names,
    ) -> (Self, Outbox<Arc<Published>>) {
        let (inbox, outbox) = mpsc::channel(s.limits.send_queue);
        let mut streams = Streams {
            s,
            conn,
            inbox,
            subscribed: BTreeSet::new(),
            combined,
            unit,
            names: kind,
            spelled: HashMap::new(),
        };
        for (name, fed, written) in names {
            streams.subscribe(name, fed, &written);
        }
        (streams, Outbox::Bounded(outbox))
    }

    /// Hold a subscription; feed it from the hub unless it stays silent.
    fn subscribe(&mut self, name: String, fed: bool, written: &str) {
        if matches!(self.names, Names::Options { .. }) && written != name {
            self.spelled.insert(name.clone(), written.to_owned());
        }
        if fed {
            self.s
                .hub
                .subscribe(&self.unit.hub_key(&name), self.conn, &self.inbox);
        }
        self.subscribed.insert(name);
    }

    /// Answer one control request as Binance does.
    fn control(&mut self, bytes: &[u8]) -> ControlResponse {
        let request = match ControlRequest::parse(bytes) {
            Ok(r) => r,
            Err((id, error)) => {
                return ControlResponse {
                    id,
                    result: Err(error),
                }
            }
        };
        let id = request.id().clone();
        if !self.names.id_allowed(&id) {
            return ControlResponse {
                id,
                result: Err(ControlError::new(
                    2,
                    "Invalid request: request ID must be an unsigned integer",
                )),
            };
        }
        let shared = self.s.clone();
        let market = shared.exchange.market();
        let result = match request {
            ControlRequest::Subscribe { streams, .. } => {
                let canonical: Result<Vec<Checked>, String> = streams
                    .iter()
                    .map(|n| {
                        let (name, fed) = self.names.check(market, n)?;
                        Ok((name, (fed, n.clone())))
                    })
                    .collect();
                match canonical {
                    Err(_) => Err(ControlError::invalid_stream()),
                    Ok(names) => {
                        let new: BTreeMap<String, (bool, String)> = names
                            .into_iter()
                            .filter(|(n, _)| !self.subscribed.contains(n))
                            .collect();
                        if self.subscribed.len() + new.len() > self.s.limits.max_streams {
                            Err(ControlError::new(2, "Invalid request: too many streams"))
                        } else {
                            new.into_iter().for_each(|(name, (fed, written))| {
                                self.subscribe(name, fed, &written)
                            });
                            Ok(Value::Null)
                        }
                    }
                }
            }
            ControlRequest::Unsubscribe { streams, .. } => {
                for name in streams {
                    let name = self.names.check(market, &name).map_or(name, |(n, _)| n);
                    self.s.hub.unsubscribe(&self.unit.hub_key(&name), self.conn);
                    self.subscribed.remove(&name);
                    self.spelled.remove(&name);
                }
                Ok(Value::Null)
            }
            ControlRequest::ListSubscriptions { .. } => Ok(Value::Array(
                self.subscribed.iter().cloned().map(Value::String).collect(),
            )),
            ControlRequest::SetProperty { value, .. } => {
                self.combined = value.as_bool().unwrap_or(self.combined);
                Ok(Value::Null)
            }
            ControlRequest::GetProperty { .. } => Ok(Value::Bool(self.combined)),
            _ => Err(ControlError::new(2, "Invalid request")),
        };
        ControlResponse { id, result }
    }
}

impl Protocol for Streams {
    type Item = Arc<Published>;
    const KIND: ConnKind = ConnKind::Stream;

    fn frame(&self, item: Arc<Published>) -> String {
        match (self.combined, self.spelled.get(&*item.stream)) {
            (true, Some(written)) => Published {
                stream: written.as_str().into(),
                json: item.json.clone(),
            }
            .frame(true),
            _ => item.frame(self.combined),
        }
    }

    fn frame_delay(&self) -> std::time::Duration {
        self.s.faults.frame_delay()
    }

    fn incoming_limit(&self) -> Option<u32> {
        Some(self.s.limits.max_incoming_per_second)
    }

    async fn answer(&mut self, text: String) -> Option<String> {
        let reply = self.control(text.as_bytes());
        Some(serde_json::to_string(&reply).expect("responses serialise"))
    }

    fn notice(&self, notice: Notice) -> String {
        match notice {
            Notice::Malformed => {
                r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"#
                    .to_owned()
            }
            Notice::Oversized(bytes) => {
                format!(r#"{{"e":"oversized","pad":"{}"}}"#, "x".repeat(bytes))
            }
            Notice::ServerShutdown => {
                let event = self.unit.encode(ServerShutdown::<Millis> {
                    event_time: Time::now(),
                });
                match self.combined {
                    true => Published {
                        stream: "!serverShutdown".into(),
                        json: event,
                    }
                    .frame(true),
                    false => event,
                }
            }
        }
    }

    fn close(&mut self) {
        for name in &self.subscribed {
            self.s.hub.unsubscribe(&self.unit.hub_key(name), self.conn);
        }
    }
}
