//! A price-level order book: a REST snapshot, then diffs with absolute
//! quantities. Sequencing (which diff may be applied when) is the depth
//! cache's job; this is the data structure it keeps.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::Fast;

/// One price level: `["price", "quantity"]` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    /// Price.
    pub price: Decimal,
    /// Quantity at that price; zero means "remove the level" in a diff.
    pub quantity: Decimal,
}

impl Level {
    /// A level.
    pub fn new(price: Decimal, quantity: Decimal) -> Self {
        Level { price, quantity }
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.price, self.quantity).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (price, quantity) = <(Fast, Fast)>::deserialize(d)?;
        Ok(Level {
            price: price.0,
            quantity: quantity.0,
        })
    }
}

/// Bid or ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookSide {
    /// Buy orders; best is highest.
    Bid,
    /// Sell orders; best is lowest.
    Ask,
}

/// A local order book.
#[derive(Clone, Default)]
pub struct OrderBook {
    bids: BTreeMap<Reverse<Decimal>, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    last_update_id: u64,
    max_depth: Option<usize>,
    checksum: u64,
}

impl OrderBook {
    /// An empty book with no depth bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty book that keeps at most `levels` levels a side (the worst are
    /// dropped). Inside the bound it stays exact as long as the levels that
    /// move into it are sent again, which Binance does for each change.
    pub fn with_max_depth(levels: usize) -> Self {
        OrderBook {
            max_depth: Some(levels),
            ..Self::default()
        }
    }

    /// Replace the whole book with a snapshot.
    pub fn load_snapshot(&mut self, last_update_id: u64, bids: &[Level], asks: &[Level]) {
        self.bids.clear();
        self.asks.clear();
        self.checksum = 0;
        self.apply(last_update_id, bids, asks);
    }

    /// Apply changed levels (absolute quantities; zero removes) and set the
    /// book's update id.
    pub fn apply(&mut self, update_id: u64, bids: &[Level], asks: &[Level]) {
        for level in bids {
            self.set(BookSide::Bid, level.price, level.quantity);
        }
        for level in asks {
            self.set(BookSide::Ask, level.price, level.quantity);
        }
        self.last_update_id = update_id;
        self.trim();
    }

    /// Set one level (zero quantity removes it).
    pub fn set(&mut self, side: BookSide, price: Decimal, quantity: Decimal) {
        let old = match (side, quantity.is_zero()) {
            (BookSide::Bid, true) => self.bids.remove(&Reverse(price)),
            (BookSide::Bid, false) => self.bids.insert(Reverse(price), quantity),
            (BookSide::Ask, true) => self.asks.remove(&price),
            (BookSide::Ask, false) => self.asks.insert(price, quantity),
        };
        if let Some(old) = old {
            self.checksum = self.checksum.wrapping_sub(level_hash(side, price, old));
        }
        if !quantity.is_zero() {
            self.checksum = self
                .checksum
                .wrapping_add(level_hash(side, price, quantity));
        }
    }

    fn trim(&mut self) {
        let Some(max) = self.max_depth else { return };
        while self.bids.len() > max {
            if let Some((Reverse(price), qty)) = self.bids.pop_last() {
                self.checksum = self
                    .checksum
                    .wrapping_sub(level_hash(BookSide::Bid, price, qty));
            }
        }
        while self.asks.len() > max {
            if let Some((price, qty)) = self.asks.pop_last() {
                self.checksum = self
                    .checksum
                    .wrapping_sub(level_hash(BookSide::Ask, price, qty));
            }
        }
    }

    /// The update id of the last snapshot or diff applied.
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// The highest bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids
            .first_key_value()
            .map(|(Reverse(p), q)| Level::new(*p, *q))
    }

    /// The lowest ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first_key_value().map(|(p, q)| Level::new(*p, *q))
    }

    /// Bids, best first.
    pub fn bids(&self) -> impl Iterator<Item = Level> + '_ {
        self.bids.iter().map(|(Reverse(p), q)| Level::new(*p, *q))
    }

    /// Asks, best first.
    pub fn asks(&self) -> impl Iterator<Item = Level> + '_ {
        self.asks.iter().map(|(p, q)| Level::new(*p, *q))
    }

    /// The best `n` levels of each side.
    pub fn top(&self, n: usize) -> (Vec<Level>, Vec<Level>) {
        (self.bids().take(n).collect(), self.asks().take(n).collect())
    }

    /// Number of bid and ask levels.
    pub fn len(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }

    /// True when neither side has a level.
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// True when the best bid is at or above the best ask: a book that cannot
    /// be right.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// A checksum of every level, kept up to date in O(1) per change; two
    /// books with the same levels (whatever the decimal scale) have the same
    /// checksum.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }
}

impl PartialEq for OrderBook {
    fn eq(&self, other: &Self) -> bool {
        self.last_update_id == other.last_update_id
            && self.bids == other.bids
            && self.asks == other.asks
    }
}

impl fmt::Debug for OrderBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (bids, asks) = self.top(5);
        f.debug_struct("OrderBook")
            .field("last_update_id", &self.last_update_id)
            .field("levels", &self.len())
            .field("top_bids", &bids)
            .field("top_asks", &asks)
            .finish()
    }
}

/// A level's contribution to the checksum (splitmix64 over the normalised
/// decimal parts, so `0.10` and `0.1` hash alike).
fn level_hash(side: BookSide, price: Decimal, qty: Decimal) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let words = |d: Decimal| {
        let b = d.normalize().serialize();
        let lo = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
        let hi = u64::from_le_bytes(b[8..16].try_into().unwrap_or_default());
        mix(lo ^ mix(hi))
    };
    let side = match side {
        BookSide::Bid => 1,
        BookSide::Ask => 2,
    };
    mix(side ^ mix(words(price) ^ mix(words(qty))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn lv(p: &str, q: &str) -> Level {
        Level::new(d(p), d(q))
    }

    #[test]
    fn snapshot_then_diffs() {
        let mut book = OrderBook::new();
        book.load_snapshot(
            10,
            &[lv("1.0", "5"), lv("0.9", "1")],
            &[lv("1.1", "2"), lv("1.2", "3")],
        );
        assert_eq!(book.best_bid(), Some(lv("1.0", "5")));
        book.apply(
            11,
            &[lv("1.0", "0.00000000"), lv("1.05", "7")],
            &[lv("1.1", "0")],
        );
        assert_eq!(book.best_bid(), Some(lv("1.05", "7")));
        assert_eq!(book.best_ask(), Some(lv("1.2", "3")));
        assert_eq!(book.len(), (2, 1));
        assert_eq!(book.last_update_id(), 11);
        assert!(!book.is_crossed());
        book.apply(12, &[lv("1.3", "1")], &[]);
        assert!(book.is_crossed());
    }

    #[test]
    fn depth_bound_keeps_the_best() {
        let mut book = OrderBook::with_max_depth(2);
        book.load_snapshot(
            1,
            &[lv("3", "1"), lv("2", "1"), lv("1", "1")],
            &[lv("4", "1"), lv("5", "1"), lv("6", "1")],
        );
        let (bids, asks) = book.top(10);
        assert_eq!(bids, vec![lv("3", "1"), lv("2", "1")]);
        assert_eq!(asks, vec![lv("4", "1"), lv("5", "1")]);
    }

    #[test]
    fn checksum_follows_content_not_history_or_scale() {
        let mut a = OrderBook::new();
        a.load_snapshot(1, &[lv("1.0", "5")], &[lv("2", "1")]);
        a.apply(2, &[lv("0.5", "1")], &[]);
        a.apply(3, &[lv("0.5", "0")], &[]);
        let mut b = OrderBook::new();
        b.load_snapshot(3, &[lv("1.00", "5.0")], &[lv("2.000", "1")]);
        assert_eq!(a.checksum(), b.checksum());
        b.apply(4, &[], &[lv("2", "2")]);
        assert_ne!(a.checksum(), b.checksum());
    }
}
