//! What a frame is, from its first bytes, without decoding it.
//!
//! Every read loop asks this once per frame: a market connection to tell
//! data from control answers and `serverShutdown`, a WebSocket API
//! connection to tell responses from user-data events. Binance writes the
//! key that says what a frame is first (`"stream"`, `"subscriptionId"`,
//! `"event"`, `"e"`, `"result"`, `"id"`); a frame laid out otherwise is read
//! once as a JSON tree to place it, never guessed.
//!
//! ```
//! use binance_types::peek::{peek, order_key, Peek};
//! let frame = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":42,"p":"1","q":"1","T":1,"m":true,"M":true}}"#;
//! assert_eq!(peek(frame), Peek::Data { stream: Some("btcusdt@trade") });
//! assert_eq!(order_key(frame), Some(42));
//! assert_eq!(peek(br#"{"result":null,"id":1}"#), Peek::Answer);
//! assert_eq!(peek(br#"{"e":"serverShutdown","E":1}"#), Peek::ServerShutdown);
//! ```

use serde::Deserialize;

use crate::sniff::{self, skip_ws, Value};

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek<'a> {
    /// Market data: a combined frame (`{"stream":…,"data":…}`) with its
    /// stream name, or a raw (`/ws`) payload (`stream: None`).
    Data {
        /// The stream name of a combined frame.
        stream: Option<&'a str>,
    },
    /// A WebSocket API user-data event (`{"subscriptionId":N,"event":…}`).
    UserEvent {
        /// The subscription it belongs to.
        subscription_id: u64,
    },
    /// `serverShutdown` in any envelope (raw, combined, WebSocket API): the
    /// server will close this connection soon.
    ServerShutdown,
    /// An answer to a request: a live-subscription control answer
    /// (`{"result":…,"id":…}`, `{"error":…}`) or a WebSocket API response
    /// (`{"id":…,"status":…}`).
    Answer,
    /// A WebSocket API event for the whole connection (no subscription),
    /// other than `serverShutdown`.
    ConnectionEvent,
    /// Not a frame this can place (not JSON, or not an object or array):
    /// decode it for the error.
    Unknown,
}

/// What `bytes` is (see [`Peek`]).
pub fn peek(bytes: &[u8]) -> Peek<'_> {
    let pos = skip_ws(bytes, 0);
    match bytes.get(pos) {
        Some(b'{') => {}
        Some(b'[') => return Peek::Data { stream: None },
        _ => return Peek::Unknown,
    }
    let Some((key, value)) = sniff::first_member(bytes, pos) else {
        return slow(bytes);
    };
    match (key, value) {
        ("stream", Value::Str(stream, end)) => {
            let Some(data) = sniff::next_member(bytes, end, "data") else {
                return slow(bytes);
            };
            match event_type(bytes, data) {
                Some("serverShutdown") => Peek::ServerShutdown,
                _ => Peek::Data {
                    stream: Some(stream),
                },
            }
        }
        ("subscriptionId", Value::Other(at)) => match sniff::unsigned(bytes, at) {
            Some((subscription_id, _)) => Peek::UserEvent { subscription_id },
            None => slow(bytes),
        },
        // A subscription id may follow the event: only the tree says.
        ("event", Value::Other(at)) => match event_type(bytes, at) {
            Some("serverShutdown") => Peek::ServerShutdown,
            _ => slow(bytes),
        },
        ("e", Value::Str("serverShutdown", _)) => Peek::ServerShutdown,
        ("e" | "u" | "lastUpdateId", _) => Peek::Data { stream: None },
        ("result" | "error" | "id" | "code" | "status", _) => Peek::Answer,
        _ => slow(bytes),
    }
}

/// The `"e"` of the object at `pos`, when it comes first.
fn event_type(bytes: &[u8], pos: usize) -> Option<&str> {
    match sniff::first_member(bytes, pos)? {
        ("e", Value::Str(e, _)) => Some(e),
        _ => None,
    }
}

/// A frame whose head does not say what it is: read its top level once.
fn slow(bytes: &[u8]) -> Peek<'_> {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        stream: Option<&'a str>,
        data: Option<Inner<'a>>,
        event: Option<Inner<'a>>,
        #[serde(rename = "subscriptionId")]
        subscription_id: Option<u64>,
        e: Option<&'a str>,
        id: Option<serde::de::IgnoredAny>,
        result: Option<serde::de::IgnoredAny>,
        error: Option<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct Inner<'a> {
        #[serde(borrow)]
        e: Option<&'a str>,
    }
    let Ok(head) = serde_json::from_slice::<Head<'_>>(bytes) else {
        return Peek::Unknown;
    };
    let shutdown = |inner: &Option<Inner<'_>>| {
        inner
            .as_ref()
            .is_some_and(|i| i.e == Some("serverShutdown"))
    };
    if let (Some(stream), Some(_)) = (head.stream, &head.data) {
        return match shutdown(&head.data) {
            true => Peek::ServerShutdown,
            false => Peek::Data {
                stream: Some(stream),
            },
        };
    }
    if head.event.is_some() {
        return match (shutdown(&head.event), head.subscription_id) {
            (true, _) => Peek::ServerShutdown,
            (false, Some(subscription_id)) => Peek::UserEvent { subscription_id },
            (false, None) => Peek::ConnectionEvent,
        };
    }
    match head.e {
        Some("serverShutdown") => Peek::ServerShutdown,
        Some(_) => Peek::Data { stream: None },
        None if head.id.is_some() || head.result.is_some() || head.error.is_some() => Peek::Answer,
        None => Peek::Data { stream: None },
    }
}

/// A market frame's per-stream increasing key, read without decoding it:
/// the id where Binance numbers the stream (trade `t`, aggTrade `a`, diff
/// depth and bookTicker `u`, partial depth `lastUpdateId`), the event time
/// `E` for streams pushed on a clock (klines, tickers, `avgPrice`; the
/// latest of an array's). `None` for anything else.
///
/// Two frames of one stream with the same key carry the same event, so a
/// reader fed by two connections passes a frame only if its key is newer.
/// On an all-market stream (`!bookTicker`, `!forceOrder@arr`) the key only
/// grows per symbol: see [`order_key_of`].
pub fn order_key(bytes: &[u8]) -> Option<u64> {
    order_key_of(bytes).map(|key| key.value)
}

/// A frame's order key ([`order_key`]) and the symbol (`s`) of a one-symbol
/// event: an all-market stream interleaves symbols whose keys each grow on
/// their own (futures `!bookTicker` is keyed by `u`, per symbol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey<'a> {
    /// The key.
    pub value: u64,
    /// `s`, for an object (not an array) that names one.
    pub symbol: Option<&'a str>,
}

/// [`order_key`] with the event's symbol.
pub fn order_key_of(bytes: &[u8]) -> Option<OrderKey<'_>> {
    let pos = skip_ws(bytes, 0);
    let payload = match sniff::first_member(bytes, pos) {
        Some(("stream", Value::Str(_, end))) => sniff::next_member(bytes, end, "data")?,
        Some(_) => pos,
        None if bytes.get(pos) == Some(&b'[') => pos,
        None => return None,
    };
    match bytes.get(payload)? {
        b'[' => {
            let mut latest = None;
            let mut at = skip_ws(bytes, payload + 1);
            if bytes.get(at) == Some(&b']') {
                return None;
            }
            loop {
                let (key, end) = object_key(bytes, at)?;
                if !key.clocked {
                    return None;
                }
                latest = latest.max(Some(key.value));
                at = skip_ws(bytes, end);
                match bytes.get(at)? {
                    b',' => at = skip_ws(bytes, at + 1),
                    b']' => {
                        return latest.map(|value| OrderKey {
                            value,
                            symbol: None,
                        })
                    }
                    _ => return None,
                }
            }
        }
        b'{' => object_key(bytes, payload).map(|(key, _)| OrderKey {
            value: key.value,
            symbol: key.symbol,
        }),
        _ => None,
    }
}

/// An object's order key, whether it is an event time, and its symbol.
struct Key<'a> {
    value: u64,
    clocked: bool,
    symbol: Option<&'a str>,
}

/// The order key of the object at `pos` and the position after it.
fn object_key(bytes: &[u8], pos: usize) -> Option<(Key<'_>, usize)> {
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    let mut e: Option<&str> = None;
    let mut symbol: Option<&str> = None;
    let (mut big_e, mut t, mut a, mut u, mut last) = (None, None, None, None, None);
    if bytes.get(skip_ws(bytes, pos + 1)) == Some(&b'}') {
        return None;
    }
    let after = members(bytes, pos, |name, value| {
        let slot = match name {
            "E" => Some(&mut big_e),
            "t" => Some(&mut t),
            "a" => Some(&mut a),
            "u" => Some(&mut u),
            "lastUpdateId" => Some(&mut last),
            _ => None,
        };
        let end = match (name, slot) {
            ("e", _) => {
                let (text, end) = string(bytes, value)?;
                e = Some(text);
                end
            }
            ("s", _) => match string(bytes, value) {
                Some((text, end)) => {
                    symbol = Some(text);
                    end
                }
                None => skip_value(bytes, value)?,
            },
            // A futures `forceOrder` names its symbol in its order.
            ("o", _) if bytes.get(value) == Some(&b'{') => {
                symbol = symbol.or_else(|| nested_symbol(bytes, value));
                skip_value(bytes, value)?
            }
            (_, Some(slot)) => match sniff::unsigned(bytes, value) {
                Some((n, end)) if end > value => {
                    *slot = Some(n);
                    end
                }
                _ => skip_value(bytes, value)?,
            },
            _ => skip_value(bytes, value)?,
        };
        Some(end)
    })?;
    let id = |value: Option<u64>| {
        value.map(|value| Key {
            value,
            clocked: false,
            symbol,
        })
    };
    let clock = |value: Option<u64>| {
        value.map(|value| Key {
            value,
            clocked: true,
            symbol,
        })
    };
    let key = match e {
        Some("trade") => id(t),
        Some("aggTrade") => id(a),
        Some("depthUpdate" | "bookTicker") => id(u),
        Some(
            "kline" | "24hrMiniTicker" | "24hrTicker" | "1hTicker" | "4hTicker" | "1dTicker"
            | "avgPrice"
            // Futures events pushed on a clock, one per symbol and push.
            | "markPriceUpdate" | "continuous_kline" | "indexPriceUpdate" | "markPrice_kline"
            | "indexPrice_kline" | "compositeIndex" | "forceOrder" | "contractInfo"
            | "assetIndexUpdate"
            // Options events pushed on a clock (trades are keyed by `t`,
            // depth and book tickers by `u`, as futures).
            | "markPrice" | "indexPrice" | "openInterest" | "optionSymbol",
        ) => clock(big_e),
        Some(_) => None,
        None => id(u.or(last)),
    }?;
    Some((key, after))
}

/// Walk the members of the object at `pos` (which must be `{`): `each`
/// gets a member's name and the position of its value and returns where
/// the value ends. The position after the closing `}`; `None` for an
/// object cut short or not well formed.
fn members<'a>(
    bytes: &'a [u8],
    pos: usize,
    mut each: impl FnMut(&'a str, usize) -> Option<usize>,
) -> Option<usize> {
    let mut at = skip_ws(bytes, pos + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    loop {
        let (name, value) = member_key(bytes, at)?;
        at = skip_ws(bytes, each(name, value)?);
        match bytes.get(at)? {
            b',' => at = skip_ws(bytes, at + 1),
            b'}' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// Where an event sits in its stream's sequence, for a gap check: read
/// from bytes like [`order_key`], without decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence<'a> {
    /// Ids that follow one another without holes: a trade's `t`, an
    /// aggregate trade's `a` (`first == last`), a spot diff's `U`..`u`.
    Ids {
        /// The event's first id.
        first: u64,
        /// Its last id.
        last: u64,
    },
    /// A futures (or options) diff: `pu` must be the previous event's `u`.
    Chained {
        /// `pu`.
        previous: u64,
        /// `u`.
        last: u64,
    },
    /// A closed kline (`k.x` true): its open time and interval
    /// (`1m`, `1h`, …); the next closed one opens one interval later.
    Closed {
        /// `k.t`, in the stream's time unit.
        open: u64,
        /// `k.i`.
        interval: &'a str,
    },
}

/// The [`Sequence`] of a trade, aggregate trade, diff depth or closed kline
/// frame (raw or combined); `None` for any other frame, for a kline that is
/// not closed yet, and for an event cut short (the object is read to its
/// end, so a broken frame never moves a sequence).
pub fn sequence_of(bytes: &[u8]) -> Option<Sequence<'_>> {
    let pos = skip_ws(bytes, 0);
    let payload = match sniff::first_member(bytes, pos) {
        Some(("stream", Value::Str(_, end))) => sniff::next_member(bytes, end, "data")?,
        Some(_) => pos,
        None => return None,
    };
    let fields = Fields::read(bytes, payload)?;
    match fields.e? {
        "trade" => fields.t.map(|id| Sequence::Ids {
            first: id,
            last: id,
        }),
        "aggTrade" => fields.a.map(|id| Sequence::Ids {
            first: id,
            last: id,
        }),
        "depthUpdate" => match (fields.first, fields.u, fields.pu) {
            (_, Some(last), Some(previous)) => Some(Sequence::Chained { previous, last }),
            (Some(first), Some(last), None) => Some(Sequence::Ids { first, last }),
            _ => None,
        },
        "kline" | "continuous_kline" => {
            let kline = Fields::read(bytes, fields.k?)?;
            match (kline.closed, kline.t, kline.interval) {
                (true, Some(open), Some(interval)) => Some(Sequence::Closed { open, interval }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The members of one object a [`Sequence`] is read from.
#[derive(Default)]
struct Fields<'a> {
    e: Option<&'a str>,
    t: Option<u64>,
    a: Option<u64>,
    first: Option<u64>,
    u: Option<u64>,
    pu: Option<u64>,
    /// Where `k`'s object starts.
    k: Option<usize>,
    closed: bool,
    interval: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn read(bytes: &'a [u8], pos: usize) -> Option<Fields<'a>> {
        if bytes.get(pos) != Some(&b'{') {
            return None;
        }
        let mut fields = Fields::default();
        members(bytes, pos, |name, value| {
            let slot = match name {
                "t" => Some(&mut fields.t),
                "a" => Some(&mut fields.a),
                "U" => Some(&mut fields.first),
                "u" => Some(&mut fields.u),
                "pu" => Some(&mut fields.pu),
                _ => None,
            };
            let end = match (name, slot) {
                ("e", _) | ("i", _) => {
                    let (text, end) = string(bytes, value)?;
                    match name {
                        "e" => fields.e = Some(text),
                        _ => fields.interval = Some(text),
                    }
                    end
                }
                ("x", _) => {
                    fields.closed = bytes[value..].starts_with(b"true");
                    skip_value(bytes, value)?
                }
                ("k", _) => {
                    fields.k = Some(value);
                    skip_value(bytes, value)?
                }
                (_, Some(slot)) => match sniff::unsigned(bytes, value) {
                    Some((n, end)) if end > value => {
                        *slot = Some(n);
                        end
                    }
                    _ => skip_value(bytes, value)?,
                },
                _ => skip_value(bytes, value)?,
            };
            Some(end)
        })?;
        Some(fields)
    }
}

/// The `s` member of the object at `pos`, if it is a plain string.
fn nested_symbol(bytes: &[u8], pos: usize) -> Option<&str> {
    let mut at = skip_ws(bytes, pos + 1);
    loop {
        let (name, value) = member_key(bytes, at)?;
        if name == "s" {
            return string(bytes, value).map(|(text, _)| text);
        }
        at = skip_ws(bytes, skip_value(bytes, value)?);
        match bytes.get(at)? {
            b',' => at = skip_ws(bytes, at + 1),
            _ => return None,
        }
    }
}

/// `"name":` at `pos`: the name and the position of its value.
fn member_key(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    let (name, end) = string(bytes, pos)?;
    let colon = skip_ws(bytes, end);
    (bytes.get(colon) == Some(&b':')).then(|| (name, skip_ws(bytes, colon + 1)))
}

/// A string without escapes at `pos` and the position after it.
fn string(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    sniff::plain_string(bytes, pos)
}

/// Where the JSON value at `pos` ends: the `,`, `}` or `]` after it (not
/// validated, only skipped: strings with their escapes, nested objects and
/// arrays).
fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = pos;
    loop {
        match *bytes.get(at)? {
            b'"' => {
                at += 1;
                loop {
                    match *bytes.get(at)? {
                        b'\\' => at += 2,
                        b'"' => break,
                        _ => at += 1,
                    }
                }
                at += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                at += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    return Some(at);
                }
                depth -= 1;
                at += 1;
            }
            b',' if depth == 0 => return Some(at),
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_every_envelope() {
        let cases: &[(&str, Peek<'_>)] = &[
            (
                r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","u":5}}"#,
                Peek::Data {
                    stream: Some("btcusdt@depth"),
                },
            ),
            (r#"{"e":"trade","t":1}"#, Peek::Data { stream: None }),
            (r#"{"u":1,"s":"X"}"#, Peek::Data { stream: None }),
            (r#"[{"e":"24hrMiniTicker"}]"#, Peek::Data { stream: None }),
            (r#"{"result":null,"id":3}"#, Peek::Answer),
            (r#"{"error":{"code":2,"msg":"x"},"id":3}"#, Peek::Answer),
            (r#"{"id":"a","status":200,"result":{}}"#, Peek::Answer),
            (
                r#"{"subscriptionId":7,"event":{"e":"executionReport"}}"#,
                Peek::UserEvent { subscription_id: 7 },
            ),
            (
                r#"{"event":{"e":"serverShutdown","E":1}}"#,
                Peek::ServerShutdown,
            ),
            (r#"{"e":"serverShutdown","E":1}"#, Peek::ServerShutdown),
            (
                r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}"#,
                Peek::ServerShutdown,
            ),
            (r#"{"event":{"e":"other"}}"#, Peek::ConnectionEvent),
            // Other layouts are read as a tree.
            (
                r#"{"data":{"e":"serverShutdown"},"stream":"!serverShutdown"}"#,
                Peek::ServerShutdown,
            ),
            (
                r#"{"data":{"e":"trade"},"stream":"a@trade"}"#,
                Peek::Data {
                    stream: Some("a@trade"),
                },
            ),
            (
                r#"{"event":{"e":"x"},"subscriptionId":2}"#,
                Peek::UserEvent { subscription_id: 2 },
            ),
            (r#" {"E":1,"e":"serverShutdown"}"#, Peek::ServerShutdown),
            (r#"{"x":1,"id":4,"result":null}"#, Peek::Answer),
            ("not json", Peek::Unknown),
            (r#"{"stream":"cut"#, Peek::Unknown),
        ];
        for (text, want) in cases {
            assert_eq!(peek(text.as_bytes()), *want, "{text}");
        }
    }

    #[test]
    fn order_keys() {
        let cases: &[(&str, Option<u64>)] = &[
            (r#"{"e":"trade","E":9,"t":4,"p":"1"}"#, Some(4)),
            (r#"{"e":"aggTrade","E":9,"a":5,"s":"A\"}"}"#, Some(5)),
            (
                r#"{"stream":"x","data":{"e":"depthUpdate","E":9,"U":2,"u":6,"b":[["1","2"]]}}"#,
                Some(6),
            ),
            (r#"{"u":7,"s":"X","b":"1"}"#, Some(7)),
            (r#"{"lastUpdateId":8,"bids":[],"asks":[]}"#, Some(8)),
            (r#"{"e":"kline","E":10,"k":{"t":1,"T":2}}"#, Some(10)),
            (
                r#"[{"e":"24hrMiniTicker","E":3},{"e":"24hrMiniTicker","E":11}]"#,
                Some(11),
            ),
            (r#"{"e":"blockTrade","E":1}"#, None),
            (r#"[]"#, None),
            (r#"{"e":"trade","t":"x"}"#, None),
            ("nope", None),
        ];
        for (text, want) in cases {
            assert_eq!(order_key(text.as_bytes()), *want, "{text}");
        }
    }

    /// Futures: clock-pushed events keyed by `E`, and the symbol that an
    /// all-market stream's keys grow per (`!bookTicker` by `u`,
    /// `!forceOrder@arr` by `E`, its symbol inside `o`).
    #[test]
    fn futures_order_keys_and_symbols() {
        type Want = Option<(u64, Option<&'static str>)>;
        let cases: &[(&str, Want)] = &[
            (
                r#"{"stream":"!bookTicker","data":{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#,
                Some((400900217, Some("BNBUSDT"))),
            ),
            (
                r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15","i":"11784.62","P":"11784.25","r":"0.00038","T":1562306400000}"#,
                Some((1562305380000, Some("BTCUSDT"))),
            ),
            (
                r#"{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","q":"0.014"}}"#,
                Some((1568014460893, Some("BTCUSDT"))),
            ),
            (
                r#"{"e":"continuous_kline","E":1607443058651,"ps":"BTCUSDT","ct":"PERPETUAL","k":{"t":1}}"#,
                Some((1607443058651, None)),
            ),
            (
                r#"[{"e":"markPriceUpdate","E":5,"s":"A"},{"e":"markPriceUpdate","E":6,"s":"B"}]"#,
                Some((6, None)),
            ),
            (
                r#"{"e":"indexPriceUpdate","E":7,"i":"BTCUSD","p":"1"}"#,
                Some((7, None)),
            ),
        ];
        for (text, want) in cases {
            let got = order_key_of(text.as_bytes()).map(|k| (k.value, k.symbol));
            assert_eq!(got, *want, "{text}");
        }
    }

    #[test]
    fn reads_where_an_event_sits_in_its_sequence() {
        let cases: &[(&str, Option<Sequence<'_>>)] = &[
            (
                r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":12,"p":"1","q":"1","T":1,"m":true,"M":true}}"#,
                Some(Sequence::Ids {
                    first: 12,
                    last: 12,
                }),
            ),
            (
                r#"{"e":"aggTrade","E":1,"s":"BTCUSDT","a":7,"p":"1","q":"1","f":3,"l":4,"T":1,"m":true,"M":true}"#,
                Some(Sequence::Ids { first: 7, last: 7 }),
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"BNBBTC","U":157,"u":160,"b":[],"a":[]}"#,
                Some(Sequence::Ids {
                    first: 157,
                    last: 160,
                }),
            ),
            (
                r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[],"a":[]}"#,
                Some(Sequence::Chained {
                    previous: 149,
                    last: 160,
                }),
            ),
            (
                r#"{"e":"kline","E":1,"s":"BNBBTC","k":{"t":60000,"T":119999,"s":"BNBBTC","i":"1m","f":1,"L":2,"o":"1","c":"1","h":"1","l":"1","v":"1","n":2,"x":true,"q":"1","V":"1","Q":"1","B":"0"}}"#,
                Some(Sequence::Closed {
                    open: 60000,
                    interval: "1m",
                }),
            ),
            (
                r#"{"e":"kline","E":1,"s":"BNBBTC","k":{"t":60000,"i":"1m","x":false}}"#,
                None,
            ),
            (
                r#"{"u":400900217,"s":"BNBUSDT","b":"1","B":"1","a":"1","A":"1"}"#,
                None,
            ),
            (r#"{"e":"24hrTicker","E":1,"s":"X"}"#, None),
            (r#"[{"e":"trade","t":1}]"#, None),
            // Cut short: read to the end, so a broken frame never moves a
            // sequence.
            (
                r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"#,
                None,
            ),
        ];
        for (frame, want) in cases {
            assert_eq!(sequence_of(frame.as_bytes()), *want, "{frame}");
        }
    }

    /// Options: trades by `t`, depth and book tickers by `u`, the clock
    /// events (mark prices with a decimal `t` theta, index prices, open
    /// interest, new symbols) by `E`.
    #[test]
    fn options_order_keys() {
        type Want = Option<(u64, Option<&'static str>)>;
        let cases: &[(&str, Want)] = &[
            (
                r#"{"e":"trade","E":1762856064204,"T":1762856064203,"s":"BTC-251123-126000-C","t":4,"p":"1300.000","q":"0.1000","X":"MARKET","S":"BUY","m":false}"#,
                Some((4, Some("BTC-251123-126000-C"))),
            ),
            (
                r#"{"e":"depthUpdate","E":9,"T":8,"s":"BTC-251123-126000-C","U":465,"u":466,"pu":464,"b":[],"a":[]}"#,
                Some((466, Some("BTC-251123-126000-C"))),
            ),
            (
                r#"{"e":"bookTicker","u":2472,"s":"BTC-251226-110000-C","b":"5000.000","B":"0.2000","a":"5100.000","A":"0.1000","T":1,"E":2}"#,
                Some((2472, Some("BTC-251226-110000-C"))),
            ),
            (
                r#"{"stream":"btcusdt@optionMarkPrice","data":[{"s":"A","mp":"1","E":5,"e":"markPrice","t":"-164.2","a":"0.9"},{"s":"B","mp":"1","E":6,"e":"markPrice","t":"-1.0","a":"0.9"}]}"#,
                Some((6, None)),
            ),
            (
                r#"[{"e":"indexPrice","E":11,"s":"ETHUSDT","p":"3224.5"}]"#,
                Some((11, None)),
            ),
            (
                r#"[{"e":"openInterest","E":12,"s":"ETH-221125-2700-C","o":"1580.87","h":"1912992.17"}]"#,
                Some((12, None)),
            ),
            (
                r#"{"e":"optionSymbol","E":13,"s":"BTC-250926-140000-C","ps":"BTCUSDT","u":1}"#,
                Some((13, Some("BTC-250926-140000-C"))),
            ),
        ];
        for (text, want) in cases {
            let got = order_key_of(text.as_bytes()).map(|k| (k.value, k.symbol));
            assert_eq!(got, *want, "{text}");
        }
    }
}
