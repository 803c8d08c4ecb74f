//! Hand-rolled readers for the hottest events, laid out exactly as Binance
//! writes them (same keys, same order, no spaces). Anything else, the first
//! byte that differs, and the reader gives up (`None`) and serde reads the
//! frame instead, so the two paths always agree (tested in `tests/quick.rs`).
//!
//! Why: a serde-derived struct costs about twice what merely skipping the
//! same JSON costs; these readers cost less than the skip.

use rust_decimal::Decimal;

use crate::book::Level;
use crate::event::Event;
use crate::market::{AggTrade, BookTicker, DepthUpdate, PartialDepth, Trade};
use crate::time::{Time, TimeUnit};

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The exact bytes `text`, compared a word at a time: with `N` known at
    /// compile time this unrolls to a few loads instead of a `memcmp` call
    /// (which was a fifth of the cost of reading a trade).
    #[inline(always)]
    fn lit<const N: usize>(&mut self, text: &[u8; N]) -> Option<()> {
        let end = self.pos + N;
        let here = self.bytes.get(self.pos..end)?;
        let word = |b: &[u8], i: usize| {
            u64::from_ne_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        let mut i = 0;
        while i + 8 <= N {
            if word(here, i) != word(text, i) {
                return None;
            }
            i += 8;
        }
        while i < N {
            if here[i] != text[i] {
                return None;
            }
            i += 1;
        }
        self.pos = end;
        Some(())
    }

    fn uint(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.pos) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.pos += 1;
        }
        // JSON forbids leading zeros; leave such oddities to serde.
        let len = self.pos - start;
        (len > 0 && !(len > 1 && self.bytes[start] == b'0')).then_some(value)
    }

    fn time<U: TimeUnit>(&mut self) -> Option<Time<U>> {
        self.uint().map(Time::new)
    }

    /// A string with no escapes and no control characters, quotes included.
    fn str(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let start = self.pos;
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.bytes[start + len] != b'"' {
            return None;
        }
        self.pos = start + len + 1;
        std::str::from_utf8(&self.bytes[start..start + len]).ok()
    }

    /// [`Cursor::str`], owned.
    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn dec(&mut self) -> Option<Decimal> {
        crate::decimal::parse(self.str()?)
    }

    fn bool(&mut self) -> Option<bool> {
        if self.lit(b"true").is_some() {
            Some(true)
        } else {
            self.lit(b"false").map(|()| false)
        }
    }

    fn levels(&mut self) -> Option<Vec<Level>> {
        self.lit(b"[")?;
        let mut levels = Vec::with_capacity(8);
        if self.lit(b"]").is_some() {
            return Some(levels);
        }
        loop {
            self.lit(b"[")?;
            let price = self.dec()?;
            self.lit(b",")?;
            let quantity = self.dec()?;
            self.lit(b"]")?;
            levels.push(Level { price, quantity });
            if self.lit(b"]").is_some() {
                return Some(levels);
            }
            self.lit(b",")?;
        }
    }
}

/// Read the event at `pos` if it is one of the hot kinds laid out exactly;
/// returns it with the position after its closing brace.
pub(crate) fn event<U: TimeUnit>(bytes: &[u8], pos: usize) -> Option<(Event<U>, usize)> {
    let mut c = Cursor { bytes, pos };
    let event = if c.lit(br#"{"e":"trade","E":"#).is_some() {
        Event::Trade(trade(&mut c)?)
    } else if c.lit(br#"{"e":"aggTrade","E":"#).is_some() {
        Event::AggTrade(agg_trade(&mut c)?)
    } else if c.lit(br#"{"e":"depthUpdate","E":"#).is_some() {
        Event::DepthUpdate(depth_update(&mut c)?)
    } else if c.lit(br#"{"lastUpdateId":"#).is_some() {
        Event::PartialDepth(partial_depth(&mut c)?)
    } else if c.lit(br#"{"u":"#).is_some() {
        Event::BookTicker(book_ticker(&mut c)?)
    } else {
        return None;
    };
    c.lit(b"}")?;
    Some((event, c.pos))
}

/// A reader of one layout: the first field (its key was matched with the
/// event type), then each `key => field: reader` in Binance's order.
macro_rules! layout {
    ($c:ident => $ty:ident {
        $first:ident: $read:ident,
        $($key:literal => $field:ident: $reader:ident,)*
    }) => {{
        let $first = $c.$read()?;
        $(
            $c.lit($key)?;
            let $field = $c.$reader()?;
        )*
        Some($ty { $first, $($field),* })
    }};
}

fn trade<U: TimeUnit>(c: &mut Cursor<'_>) -> Option<Trade<U>> {
    layout!(c => Trade {
        event_time: time,
        br#","s":"# => symbol: string,
        br#","t":"# => trade_id: uint,
        br#","p":"# => price: dec,
        br#","q":"# => quantity: dec,
        br#","T":"# => trade_time: time,
        br#","m":"# => buyer_is_maker: bool,
        br#","M":"# => ignore: bool,
    })
}

fn agg_trade<U: TimeUnit>(c: &mut Cursor<'_>) -> Option<AggTrade<U>> {
    layout!(c => AggTrade {
        event_time: time,
        br#","s":"# => symbol: string,
        br#","a":"# => agg_trade_id: uint,
        br#","p":"# => price: dec,
        br#","q":"# => quantity: dec,
        br#","f":"# => first_trade_id: uint,
        br#","l":"# => last_trade_id: uint,
        br#","T":"# => trade_time: time,
        br#","m":"# => buyer_is_maker: bool,
        br#","M":"# => ignore: bool,
    })
}

fn depth_update<U: TimeUnit>(c: &mut Cursor<'_>) -> Option<DepthUpdate<U>> {
    layout!(c => DepthUpdate {
        event_time: time,
        br#","s":"# => symbol: string,
        br#","U":"# => first_update_id: uint,
        br#","u":"# => final_update_id: uint,
        br#","b":"# => bids: levels,
        br#","a":"# => asks: levels,
    })
}

fn book_ticker(c: &mut Cursor<'_>) -> Option<BookTicker> {
    layout!(c => BookTicker {
        update_id: uint,
        br#","s":"# => symbol: string,
        br#","b":"# => best_bid: dec,
        br#","B":"# => best_bid_qty: dec,
        br#","a":"# => best_ask: dec,
        br#","A":"# => best_ask_qty: dec,
    })
}

fn partial_depth(c: &mut Cursor<'_>) -> Option<PartialDepth> {
    layout!(c => PartialDepth {
        last_update_id: uint,
        br#","bids":"# => bids: levels,
        br#","asks":"# => asks: levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Millis;

    #[test]
    fn reads_binance_layouts() {
        let trade = br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.00100000","q":"100.00000000","T":1672515782136,"m":true,"M":true}"#;
        assert!(
            matches!(event::<Millis>(trade, 0), Some((Event::Trade(_), end)) if end == trade.len())
        );
        let depth = br#"{"e":"depthUpdate","E":1,"s":"BNBBTC","U":157,"u":176,"b":[["0.06000000","0.01000000"]],"a":[]}"#;
        assert!(matches!(
            event::<Millis>(depth, 0),
            Some((Event::DepthUpdate(_), _))
        ));
    }
}
