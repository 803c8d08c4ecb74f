//! How a Binance market writes its numbers: one decision per market, made
//! here and nowhere else.
//!
//! Spot writes every price, quantity and volume with eight decimals
//! (`"0.35130000"`, `"6195.00000000"`, a removed level `"0.00000000"`: the
//! recorded frames in `shared/captures/BINANCE.ws.1.0` and the snapshots in
//! `BINANCE.http.0.0`), percentages with three (`"priceChangePercent":
//! "-95.960"` in Binance's REST documentation). Clients rely on it: a depth
//! cache that drops levels whose quantity is the string `"0.00000000"` keeps
//! every level the simulator wrote as `"0"`.
//!
//! The wire structs of `binance-types` keep whatever scale a decimal has, so
//! every event the hub sends passes through [`Written`]
//! first, and REST bodies use [`Notation::text`].

use binance_types::market::{
    AggTrade, AvgPrice, BookTicker, DepthUpdate, KlineEvent, MiniTicker, PartialDepth,
    ReferencePrice, RollingTicker, Ticker, Trade,
};
use binance_types::user::{
    BalanceUpdate, ExecutionReport, ExternalLockUpdate, OutboundAccountPosition,
};
use binance_types::Level;
use rust_decimal::Decimal;

/// A market's way of writing numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notation {
    /// Binance spot (`api.binance.com`, `stream.binance.com`).
    Spot,
}

impl Notation {
    /// Decimals of a price, quantity or volume.
    pub const fn places(self) -> u32 {
        match self {
            Notation::Spot => 8,
        }
    }

    /// Decimals of a percentage (`priceChangePercent`).
    pub const fn percent_places(self) -> u32 {
        match self {
            Notation::Spot => 3,
        }
    }

    /// A price, quantity or volume as the market writes it.
    pub fn amount(self, value: Decimal) -> Decimal {
        fixed_scale(value, self.places())
    }

    /// A percentage as the market writes it.
    pub fn percent(self, value: Decimal) -> Decimal {
        fixed_scale(value, self.percent_places())
    }

    /// A price, quantity or volume as JSON string text (REST bodies).
    pub fn text(self, value: Decimal) -> String {
        self.amount(value).to_string()
    }
}

/// `value` rounded to `scale` decimals and shown with exactly that many
/// (`round_dp` alone keeps `250` as `"250"`); never `-0`.
pub fn fixed_scale(value: Decimal, scale: u32) -> Decimal {
    let mut out = value.round_dp(scale);
    out.rescale(scale);
    if out.is_zero() {
        out.set_sign_positive(true);
    }
    out
}

/// A wire value whose numbers can be written in a market's notation.
pub trait Written {
    /// The value with every price, quantity, volume and percentage written
    /// as `notation` writes them.
    fn written(self, notation: Notation) -> Self;
}

impl<T: Written> Written for Vec<T> {
    fn written(self, n: Notation) -> Self {
        self.into_iter().map(|t| t.written(n)).collect()
    }
}

impl Written for Level {
    fn written(self, n: Notation) -> Self {
        Level::new(n.amount(self.price), n.amount(self.quantity))
    }
}

/// Rewrite the named fields of `$v` as amounts.
macro_rules! amounts {
    ($v:ident, $n:ident; $($f:ident),*) => {{
        $( $v.$f = $n.amount($v.$f); )*
        $v
    }};
}

impl Written for Trade {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; price, quantity)
    }
}

impl Written for AggTrade {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; price, quantity)
    }
}

impl Written for BookTicker {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; best_bid, best_bid_qty, best_ask, best_ask_qty)
    }
}

impl Written for AvgPrice {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; price)
    }
}

impl Written for ReferencePrice {
    fn written(mut self, n: Notation) -> Self {
        self.reference_price = self.reference_price.map(|p| n.amount(p));
        self
    }
}

impl Written for MiniTicker {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; close, open, high, low, volume, quote_volume)
    }
}

impl Written for Ticker {
    fn written(mut self, n: Notation) -> Self {
        self.price_change_percent = n.percent(self.price_change_percent);
        amounts!(self, n; price_change, weighted_avg_price, prev_close, last_price,
            last_quantity, best_bid, best_bid_qty, best_ask, best_ask_qty, open, high, low,
            volume, quote_volume)
    }
}

impl Written for RollingTicker {
    fn written(mut self, n: Notation) -> Self {
        self.price_change_percent = n.percent(self.price_change_percent);
        amounts!(self, n; price_change, open, high, low, last_price, weighted_avg_price,
            volume, quote_volume)
    }
}

impl Written for KlineEvent {
    fn written(mut self, n: Notation) -> Self {
        let k = &mut self.kline;
        for v in [
            &mut k.open,
            &mut k.close,
            &mut k.high,
            &mut k.low,
            &mut k.volume,
            &mut k.quote_volume,
            &mut k.taker_buy_base_volume,
            &mut k.taker_buy_quote_volume,
        ] {
            *v = n.amount(*v);
        }
        self
    }
}

impl Written for DepthUpdate {
    fn written(mut self, n: Notation) -> Self {
        self.bids = self.bids.written(n);
        self.asks = self.asks.written(n);
        self
    }
}

impl Written for PartialDepth {
    fn written(mut self, n: Notation) -> Self {
        self.bids = self.bids.written(n);
        self.asks = self.asks.written(n);
        self
    }
}

impl Written for ExecutionReport {
    /// Every amount but the commission, which Binance writes as it is (`"0"`).
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; quantity, price, stop_price, iceberg_quantity, last_executed_quantity,
            cumulative_filled_quantity, last_executed_price, cumulative_quote_quantity,
            last_quote_quantity, quote_order_quantity)
    }
}

impl Written for OutboundAccountPosition {
    fn written(mut self, n: Notation) -> Self {
        for b in &mut self.balances {
            b.free = n.amount(b.free);
            b.locked = n.amount(b.locked);
        }
        self
    }
}

impl Written for BalanceUpdate {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; delta)
    }
}

impl Written for ExternalLockUpdate {
    fn written(mut self, n: Notation) -> Self {
        amounts!(self, n; delta)
    }
}

#[cfg(test)]
mod tests {
    use super::Notation;
    use rust_decimal::Decimal;

    #[test]
    fn spot_writes_eight_decimals_and_three_for_percentages() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let spot = Notation::Spot;
        assert_eq!(spot.text(d("60000.11")), "60000.11000000");
        assert_eq!(spot.text(d("0.00003")), "0.00003000");
        assert_eq!(spot.text(Decimal::ZERO), "0.00000000");
        assert_eq!(spot.text(d("-0.000000001")), "0.00000000");
        assert_eq!(spot.percent(d("-95.96")).to_string(), "-95.960");
    }
}
