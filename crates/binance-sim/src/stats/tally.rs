//! What a run of consecutive trades adds up to: the one aggregate behind
//! candles, minute buckets and ticker windows.

use binance_types::Decimal;

use crate::engine::Fill;
use crate::notation::fixed_scale;

/// Open/high/low/close, volumes and trade ids of consecutive trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Trades counted; 0 for an empty tally, whose ids mean nothing.
    pub count: u64,
    pub first_id: u64,
    pub last_id: u64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub quote_volume: Decimal,
    /// Volumes of the trades whose taker bought (`buyer_is_maker == false`).
    pub taker_buy_volume: Decimal,
    pub taker_buy_quote_volume: Decimal,
}

impl Tally {
    /// The tally of one trade.
    pub fn of(fill: &Fill) -> Self {
        let taker_buy = !fill.buyer_is_maker;
        Tally {
            count: 1,
            first_id: fill.trade_id,
            last_id: fill.trade_id,
            open: fill.price,
            high: fill.price,
            low: fill.price,
            close: fill.price,
            volume: fill.qty,
            quote_volume: fill.quote_qty,
            taker_buy_volume: if taker_buy { fill.qty } else { Decimal::ZERO },
            taker_buy_quote_volume: if taker_buy {
                fill.quote_qty
            } else {
                Decimal::ZERO
            },
        }
    }

    /// No trade: every price is `price` (the last one before), volumes are 0.
    pub fn empty(price: Decimal) -> Self {
        Tally {
            count: 0,
            first_id: 0,
            last_id: 0,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: Decimal::ZERO,
            quote_volume: Decimal::ZERO,
            taker_buy_volume: Decimal::ZERO,
            taker_buy_quote_volume: Decimal::ZERO,
        }
    }

    /// Append the tally of trades that came after the ones counted.
    pub fn merge(&mut self, later: &Tally) {
        if later.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = later.clone();
            return;
        }
        self.count += later.count;
        self.last_id = later.last_id;
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume += later.volume;
        self.quote_volume += later.quote_volume;
        self.taker_buy_volume += later.taker_buy_volume;
        self.taker_buy_quote_volume += later.taker_buy_quote_volume;
    }

    /// First and last trade id as Binance sends them: -1 when there was none.
    pub fn wire_ids(&self) -> (i64, i64) {
        if self.count == 0 {
            return (-1, -1);
        }
        let id = |id: u64| i64::try_from(id).unwrap_or(i64::MAX);
        (id(self.first_id), id(self.last_id))
    }

    /// `quote volume / base volume` rounded to `scale` decimals and shown with
    /// exactly that many; 0 when nothing traded.
    pub fn weighted_avg_price(&self, scale: u32) -> Decimal {
        let avg = self
            .quote_volume
            .checked_div(self.volume)
            .unwrap_or(Decimal::ZERO);
        fixed_scale(avg, scale)
    }
}
