use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use super::*;

const SYMBOL: &str = "BTCUSDT";
/// 2024-02-29T00:00:00Z.
const LEAP_DAY: u64 = 1_709_164_800_000;
const HOUR: u64 = 60 * MINUTE_MS;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn fill(trade_id: u64, time_ms: u64, price: &str, qty: &str, taker_buy: bool) -> Fill {
    let (price, qty) = (dec(price), dec(qty));
    Fill {
        trade_id,
        price,
        qty,
        quote_qty: price * qty,
        time_ms,
        buyer_is_maker: !taker_buy,
        taker_order_id: trade_id * 2,
        maker_order_id: trade_id * 2 + 1,
        buyer_order_id: trade_id * 2,
        seller_order_id: trade_id * 2 + 1,
        update_id: trade_id,
    }
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Fills with prices of 2 decimals, qtys of up to 5, gaps from 0 ms to hours.
fn random_fills(seed: u64, count: u64, start_ms: u64) -> Vec<Fill> {
    let mut rng = Rng(seed);
    let mut time = start_ms;
    (1..=count)
        .map(|id| {
            time += match rng.below(100) {
                0 => rng.below(3 * HOUR),
                1..=10 => rng.below(2 * MINUTE_MS),
                _ => rng.below(4_000),
            };
            let price = format!("{}.{:02}", 60_000 + rng.below(500), rng.below(100));
            let qty = format!("0.{:05}", 1 + rng.below(99_999));
            fill(id, time, &price, &qty, rng.below(2) == 0)
        })
        .collect()
}

#[derive(Debug, Default, PartialEq)]
struct Totals {
    volume: Decimal,
    quote: Decimal,
    count: u64,
    taker_volume: Decimal,
    taker_quote: Decimal,
}

impl Totals {
    fn of_fills(fills: &[Fill]) -> Self {
        let mut t = Totals::default();
        for f in fills {
            t.volume += f.qty;
            t.quote += f.quote_qty;
            t.count += 1;
            if !f.buyer_is_maker {
                t.taker_volume += f.qty;
                t.taker_quote += f.quote_qty;
            }
        }
        t
    }

    fn add(&mut self, k: &Kline) {
        self.volume += k.volume;
        self.quote += k.quote_volume;
        self.count += k.trade_count;
        self.taker_volume += k.taker_buy_base_volume;
        self.taker_quote += k.taker_buy_quote_volume;
    }
}

/// Feed `fills`, pushing the kline stream every 0.5–3 s with pauses of up to
/// 10 min; returns every event pushed, the last push at `end_ms`.
fn stream_klines(
    fills: &[Fill],
    interval: KlineInterval,
    timezone: KlineTimezone,
    start_ms: u64,
    end_ms: u64,
) -> Vec<Vec<KlineEvent>> {
    let mut stats = SymbolStats::new(SYMBOL, start_ms);
    let mut rng = Rng(7);
    let mut pushes = vec![stats.kline_events(interval, timezone, start_ms)];
    let mut next_push = start_ms;
    for f in fills {
        while next_push < f.time_ms {
            pushes.push(stats.kline_events(interval, timezone, next_push));
            next_push += match rng.below(50) {
                0 => rng.below(10 * MINUTE_MS),
                _ => 500 + rng.below(2_500),
            };
        }
        stats.record(f);
    }
    pushes.push(stats.kline_events(interval, timezone, end_ms));
    pushes
}

#[test]
fn kline_volumes_add_up_to_the_fills() {
    let start = LEAP_DAY + 12_345;
    let fills = random_fills(42, 3_000, start);
    let end = fills.last().unwrap().time_ms + 500;
    let expected = Totals::of_fills(&fills);
    for (interval, timezone) in [
        (KlineInterval::S1, KlineTimezone::Utc),
        (KlineInterval::M1, KlineTimezone::Utc),
        (KlineInterval::H1, KlineTimezone::Utc),
        (KlineInterval::H12, KlineTimezone::Utc8),
        (KlineInterval::D1, KlineTimezone::Utc8),
        (KlineInterval::W1, KlineTimezone::Utc),
        // The fills run past 2024-03-01 on both clocks.
        (KlineInterval::Mo1, KlineTimezone::Utc8),
    ] {
        let pushes = stream_klines(&fills, interval, timezone, start, end);
        let mut totals = Totals::default();
        let mut next_id = 1;
        for k in pushes.iter().flatten().map(|e| &e.kline) {
            if k.is_closed {
                totals.add(k);
                if k.trade_count > 0 {
                    assert_eq!(k.first_trade_id, next_id, "{interval} {k:?}");
                    next_id = k.last_trade_id + 1;
                }
            }
        }
        let last_open = &pushes.last().unwrap().last().unwrap().kline;
        if interval == KlineInterval::Mo1 {
            assert_eq!(last_open.open_time.get(), LEAP_DAY + 16 * HOUR);
        }
        assert!(!last_open.is_closed);
        assert_eq!(last_open.last_trade_id, fills.len() as i64);
        totals.add(last_open);
        assert_eq!(totals, expected, "{interval} {timezone:?}");
    }
}

#[test]
fn kline_events_emit_each_closed_candle_once_in_order() {
    let start = LEAP_DAY + 12_345;
    let fills = random_fills(9, 2_000, start);
    let end = fills.last().unwrap().time_ms + 500;
    for interval in [KlineInterval::S1, KlineInterval::M1, KlineInterval::M5] {
        let pushes = stream_klines(&fills, interval, KlineTimezone::Utc, start, end);
        let mut expect_open: Option<u64> = None;
        let mut closed = 0;
        for push in &pushes {
            let Some((open, done)) = push.split_last() else {
                assert!(
                    expect_open.is_none(),
                    "only pushes before any trade are empty"
                );
                continue;
            };
            assert!(!open.kline.is_closed);
            for e in done {
                let k = &e.kline;
                assert!(k.is_closed);
                if let Some(t) = expect_open {
                    assert_eq!(k.open_time.get(), t, "{interval}: gap or repeat");
                }
                assert_eq!(
                    k.close_time.get() + 1 - k.open_time.get(),
                    interval.millis()
                );
                if k.trade_count == 0 {
                    assert_eq!((k.first_trade_id, k.last_trade_id), (-1, -1));
                    assert!(k.open == k.close && k.high == k.low && k.open == k.high);
                    assert!(k.volume.is_zero());
                }
                expect_open = Some(k.close_time.get() + 1);
                closed += 1;
            }
            // The open candle follows the closed ones.
            if let Some(t) = expect_open {
                assert_eq!(open.kline.open_time.get(), t, "{interval}");
            }
        }
        assert!(closed > 10, "{interval}: only {closed} closed candles");
    }
}

#[test]
fn empty_candles_carry_the_previous_close() {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    let m1 = KlineInterval::M1;
    let utc = KlineTimezone::Utc;
    assert!(stats.kline(m1, utc, LEAP_DAY).is_none());
    assert!(stats.kline_events(m1, utc, LEAP_DAY).is_empty());
    stats.record(&fill(1, LEAP_DAY + 1_000, "100.5", "2", true));
    stats.record(&fill(2, LEAP_DAY + 2_000, "101.25", "1", false));
    let events = stats.kline_events(m1, utc, LEAP_DAY + 3 * MINUTE_MS + 5);
    let closes: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.kline.close.to_string(),
                e.kline.trade_count,
                e.kline.is_closed,
            )
        })
        .collect();
    assert_eq!(
        closes,
        [
            ("101.25".to_owned(), 2, true),
            ("101.25".to_owned(), 0, true),
            ("101.25".to_owned(), 0, true),
            ("101.25".to_owned(), 0, false),
        ]
    );
    let first = &events[0].kline;
    assert_eq!(first.open, dec("100.5"));
    assert_eq!((first.first_trade_id, first.last_trade_id), (1, 2));
    assert_eq!(first.volume, dec("3"));
    assert_eq!(first.quote_volume, dec("302.25"));
    assert_eq!(first.taker_buy_base_volume, dec("2"));
    assert_eq!(first.taker_buy_quote_volume, dec("201.0"));
    assert_eq!(first.ignore, "0");
    // A second push in the same minute has no closed candle left.
    assert_eq!(
        stats
            .kline_events(m1, utc, LEAP_DAY + 3 * MINUTE_MS + 9)
            .len(),
        1
    );
}

#[test]
fn long_pause_keeps_trades_and_bounds_empty_candles() {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    let s1 = KlineInterval::S1;
    let utc = KlineTimezone::Utc;
    stats.kline_events(s1, utc, LEAP_DAY);
    let fills: Vec<_> = (1..=1_500)
        .map(|id| fill(id, LEAP_DAY + id * 40 * 1_000, "10.00", "1", true))
        .collect();
    for f in &fills {
        stats.record(f);
    }
    // One push after 16 h: the newest 1000 candles with trades (the last
    // trade's is still open), and empty ones only for the last 1000 seconds.
    let now_open = LEAP_DAY + 60_000_000;
    let events = stats.kline_events(s1, utc, now_open + 1);
    let (open, closed) = events.split_last().unwrap();
    assert_eq!(open.kline.open_time.get(), now_open);
    let traded: Vec<_> = closed.iter().filter(|e| e.kline.trade_count > 0).collect();
    assert_eq!(traded.len(), klines::MAX_BACKLOG);
    assert_eq!(traded[0].kline.first_trade_id, 500, "the oldest went first");
    let recent = &closed[closed.len() - klines::MAX_BACKLOG..];
    for (i, e) in recent.iter().enumerate() {
        let expect = now_open - 1_000_000 + i as u64 * 1_000;
        assert_eq!(e.kline.open_time.get(), expect);
    }
    assert_eq!(closed.len(), klines::MAX_BACKLOG + traded.len() - 25);
    assert!(closed
        .windows(2)
        .all(|w| w[0].kline.open_time < w[1].kline.open_time));
}

#[test]
fn kline_alignment_known_dates() {
    let utc = KlineTimezone::Utc;
    let utc8 = KlineTimezone::Utc8;
    let noon = LEAP_DAY + 12 * HOUR;
    // 1M: 2024-02-01T00:00Z .. 2024-02-29T23:59:59.999Z.
    let (open, next) = kline_bounds(KlineInterval::Mo1, utc, noon);
    assert_eq!((open, next - 1), (1_706_745_600_000, 1_709_251_199_999));
    // December rolls into January; a non-leap February has 28 days.
    let dec_15_2023 = 1_702_598_400_000;
    assert_eq!(
        kline_bounds(KlineInterval::Mo1, utc, dec_15_2023),
        (1_701_388_800_000, 1_704_067_200_000)
    );
    let feb_10_2023 = 1_675_987_200_000;
    let (open, next) = kline_bounds(KlineInterval::Mo1, utc, feb_10_2023);
    assert_eq!((open, (next - open) / DAY_MS), (1_675_209_600_000, 28));
    // 1w: Monday 2024-02-26; the epoch was a Thursday.
    assert_eq!(
        kline_bounds(KlineInterval::W1, utc, noon),
        (1_708_905_600_000, 1_708_905_600_000 + 7 * DAY_MS)
    );
    for t in [0, 5 * DAY_MS, noon, noon + 3 * DAY_MS, 1_700_000_000_000] {
        let (open, _) = kline_bounds(KlineInterval::W1, utc, t + 4 * DAY_MS);
        assert_eq!((open / DAY_MS + 3) % 7, 0, "weeks start on Monday");
    }
    // 3d: epoch multiples of 3 days.
    let (open, next) = kline_bounds(KlineInterval::D3, utc, noon);
    assert_eq!((open % (3 * DAY_MS), next - open), (0, 3 * DAY_MS));
    // UTC+8: the day of 2024-02-29T20:00Z opens at 2024-02-29T16:00Z.
    let eight_pm = LEAP_DAY + 20 * HOUR;
    assert_eq!(
        kline_bounds(KlineInterval::D1, utc8, eight_pm),
        (LEAP_DAY + 16 * HOUR, LEAP_DAY + 40 * HOUR)
    );
    assert_eq!(
        kline_bounds(KlineInterval::D1, utc, eight_pm),
        (LEAP_DAY, LEAP_DAY + 24 * HOUR)
    );
    // UTC+8 month: March starts at 2024-02-29T16:00Z.
    assert_eq!(
        kline_bounds(KlineInterval::Mo1, utc8, eight_pm).0,
        LEAP_DAY + 16 * HOUR
    );
    // Below a day UTC+8 changes nothing for intervals dividing 8 h…
    assert_eq!(
        kline_bounds(KlineInterval::H4, utc8, eight_pm),
        kline_bounds(KlineInterval::H4, utc, eight_pm)
    );
    // …but 12h candles open at 00:00/12:00 on the UTC+8 clock.
    assert_eq!(
        kline_bounds(KlineInterval::H12, utc8, eight_pm).0,
        LEAP_DAY + 16 * HOUR
    );
}

#[test]
fn kline_of_the_utc8_day_counts_its_trades() {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    stats.record(&fill(1, LEAP_DAY + 15 * HOUR, "1.0", "1", true));
    stats.record(&fill(2, LEAP_DAY + 17 * HOUR, "2.0", "1", true));
    let at = LEAP_DAY + 20 * HOUR;
    let utc8 = stats
        .kline(KlineInterval::D1, KlineTimezone::Utc8, at)
        .unwrap();
    assert_eq!(
        (utc8.open_time.get(), utc8.trade_count),
        (LEAP_DAY + 16 * HOUR, 1)
    );
    let utc = stats
        .kline(KlineInterval::D1, KlineTimezone::Utc, at)
        .unwrap();
    assert_eq!((utc.open_time.get(), utc.trade_count), (LEAP_DAY, 2));
    let month = stats
        .kline(KlineInterval::Mo1, KlineTimezone::Utc, at)
        .unwrap();
    assert_eq!(month.close_time.get(), 1_709_251_199_999);
}

/// Four trades in three minutes, then the ticker an hour later.
fn ticker_fixture() -> SymbolStats {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    let t0 = LEAP_DAY + 10 * HOUR + 30_000;
    stats.record(&fill(1, t0, "100.00", "1", true));
    stats.record(&fill(2, t0 + 20_000, "104.00", "2", false));
    stats.record(&fill(3, t0 + 70_000, "98.00", "1", true));
    stats.record(&fill(4, t0 + 130_000, "102.50", "0.5", true));
    stats
}

#[test]
fn ticker_matches_hand_computed_values() {
    let stats = ticker_fixture();
    let now = LEAP_DAY + 11 * HOUR + 5_000;
    let bid = (dec("102.49"), dec("3"));
    let ask = (dec("102.51"), dec("4"));
    let t = stats.ticker(now, bid, ask).unwrap();
    assert_eq!(t.open, dec("100.00"));
    assert_eq!(t.high, dec("104.00"));
    assert_eq!(t.low, dec("98.00"));
    assert_eq!(t.last_price.to_string(), "102.50");
    assert_eq!(t.price_change.to_string(), "2.50");
    assert_eq!(t.price_change_percent.to_string(), "2.500");
    assert_eq!(t.volume, dec("4.5"));
    assert_eq!(t.quote_volume, dec("457.25"));
    // 457.25 / 4.5 = 101.6111…
    assert_eq!(t.weighted_avg_price.to_string(), "101.61");
    assert_eq!(
        t.prev_close,
        dec("100.00"),
        "no trade before: the first price"
    );
    assert_eq!(t.last_quantity, dec("0.5"));
    assert_eq!(
        (t.first_trade_id, t.last_trade_id, t.trade_count),
        (1, 4, 4)
    );
    assert_eq!(
        (t.best_bid, t.best_bid_qty, t.best_ask, t.best_ask_qty),
        (bid.0, bid.1, ask.0, ask.1)
    );
    // 24 h before 11:00:05 is 11:00:05 the day before: the window opens at 11:00.
    assert_eq!(t.open_time.get(), LEAP_DAY - 13 * HOUR);
    assert_eq!(t.close_time.get(), now);

    let mini = stats.mini_ticker(now).unwrap();
    assert_eq!(
        (
            mini.open,
            mini.high,
            mini.low,
            mini.close,
            mini.volume,
            mini.quote_volume
        ),
        (
            t.open,
            t.high,
            t.low,
            t.last_price,
            t.volume,
            t.quote_volume
        )
    );
}

#[test]
fn ticker_drops_trades_older_than_the_window() {
    let stats = ticker_fixture();
    // The first minute (10:00:30, 10:00:50) is just outside once the window
    // opens at 10:01 the next day.
    let now = LEAP_DAY + 34 * HOUR + MINUTE_MS + 1;
    let t = stats
        .ticker(now, (dec("1"), dec("1")), (dec("2"), dec("1")))
        .unwrap();
    assert_eq!(t.open_time.get(), LEAP_DAY + 10 * HOUR + MINUTE_MS);
    assert_eq!(
        (t.first_trade_id, t.last_trade_id, t.trade_count),
        (3, 4, 2)
    );
    assert_eq!(
        (t.open, t.high, t.low),
        (dec("98.00"), dec("102.50"), dec("98.00"))
    );
    assert_eq!(
        t.prev_close,
        dec("104.00"),
        "close of the minute before the window"
    );
    assert_eq!(t.price_change_percent.to_string(), "4.592"); // 4.5 / 98 = 4.5918…
    assert_eq!(t.volume, dec("1.5"));
    // One minute earlier the first minute was still in.
    let before = stats.ticker(now - MINUTE_MS, (dec("1"), dec("1")), (dec("2"), dec("1")));
    assert_eq!(before.unwrap().trade_count, 4);

    // Once every trade is older than the window, it is empty at the last price.
    let idle = stats
        .ticker(now + HOUR, (dec("1"), dec("1")), (dec("2"), dec("1")))
        .unwrap();
    assert_eq!(
        (idle.first_trade_id, idle.last_trade_id, idle.trade_count),
        (-1, -1, 0)
    );
    assert_eq!(
        (idle.open, idle.high, idle.low),
        (dec("102.50"), dec("102.50"), dec("102.50"))
    );
    assert_eq!(idle.prev_close, dec("102.50"));
    assert!(idle.volume.is_zero());
    assert_eq!(idle.price_change_percent.to_string(), "0.000");
    assert_eq!(idle.weighted_avg_price.to_string(), "0.00");
}

#[test]
fn rolling_1h_and_1d_differ_for_trades_older_than_an_hour() {
    let stats = ticker_fixture();
    let now = LEAP_DAY + 11 * HOUR + 1_000;
    let hour = stats.rolling(RollingWindow::H1, now).unwrap();
    let day = stats.rolling(RollingWindow::D1, now).unwrap();
    // At 11:00:01 the hour opens at 10:00: every trade is in both.
    assert_eq!(hour.trade_count, 4);
    assert_eq!(day.trade_count, 4);
    let later = now + HOUR + 2 * MINUTE_MS;
    let hour = stats.rolling(RollingWindow::H1, later).unwrap();
    let four = stats.rolling(RollingWindow::H4, later).unwrap();
    let day = stats.rolling(RollingWindow::D1, later).unwrap();
    assert_eq!(hour.trade_count, 0);
    assert_eq!(hour.last_price, dec("102.50"));
    assert_eq!(four.trade_count, 4);
    assert_eq!(
        (day.trade_count, day.first_trade_id, day.last_trade_id),
        (4, 1, 4)
    );
    assert_eq!(day.window, RollingWindow::D1);
    assert_eq!(hour.open_time.get(), LEAP_DAY + 11 * HOUR + 2 * MINUTE_MS);
    assert_eq!(day.price_change.to_string(), "2.50");
    assert_eq!(day.weighted_avg_price.to_string(), "101.61");
    // The 1h window at 11:01:20 opens at 10:01: trades 3 and 4 only.
    let partial = stats
        .rolling(RollingWindow::H1, LEAP_DAY + 11 * HOUR + 80_000)
        .unwrap();
    assert_eq!((partial.first_trade_id, partial.trade_count), (3, 2));
}

#[test]
fn avg_price_is_the_last_five_minutes_vwap_and_sticks() {
    let stats = ticker_fixture();
    let t0 = LEAP_DAY + 10 * HOUR + 30_000;
    let last_trade = t0 + 130_000;
    let avg = stats.avg_price(t0 + 200_000).unwrap();
    assert_eq!(avg.interval, "5m");
    assert_eq!(avg.price.to_string(), "101.61");
    assert_eq!(avg.last_trade_time.get(), last_trade);
    // 10:07:00 opens at 10:02: only trade 4 (10:02:40).
    let avg = stats
        .avg_price(LEAP_DAY + 10 * HOUR + 7 * MINUTE_MS)
        .unwrap();
    assert_eq!(avg.price.to_string(), "102.50");
    // Nothing for an hour: the average as of the last trade stays.
    let avg = stats.avg_price(t0 + HOUR).unwrap();
    assert_eq!(avg.price.to_string(), "101.61");
    assert!(SymbolStats::new(SYMBOL, 0).avg_price(1).is_none());
}

#[test]
fn percent_has_three_decimals_and_no_negative_zero() {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    stats.record(&fill(1, LEAP_DAY, "30000", "1", true));
    stats.record(&fill(2, LEAP_DAY + 1, "29999.9", "1", true));
    let t = stats.rolling(RollingWindow::H1, LEAP_DAY + 2).unwrap();
    assert_eq!(t.price_change.to_string(), "-0.1");
    assert_eq!(t.price_change_percent.to_string(), "0.000");
    stats.record(&fill(3, LEAP_DAY + 2, "15000", "1", true));
    let t = stats.rolling(RollingWindow::H1, LEAP_DAY + 3).unwrap();
    assert_eq!(t.price_change_percent.to_string(), "-50.000");
    // 74999.9 / 3 = 24999.966…, shown with the prices' one decimal.
    assert_eq!(t.weighted_avg_price.to_string(), "25000.0");
}

#[test]
fn take_changed_reports_new_trades_once() {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    assert!(!stats.take_changed());
    stats.record(&fill(1, LEAP_DAY, "1", "1", true));
    assert!(stats.take_changed());
    assert!(!stats.take_changed());
    assert!(stats.mini_ticker(LEAP_DAY).is_some());
    assert!(!stats.take_changed(), "reading does not count as a change");
}

#[test]
fn nothing_before_the_first_trade() {
    let stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    let bbo = (dec("1"), dec("1"));
    assert!(stats.mini_ticker(LEAP_DAY).is_none());
    assert!(stats.ticker(LEAP_DAY, bbo, bbo).is_none());
    assert!(stats.rolling(RollingWindow::H4, LEAP_DAY).is_none());
    assert!(stats
        .kline(KlineInterval::W1, KlineTimezone::Utc8, LEAP_DAY)
        .is_none());
}

/// `shared/` beside the repository (override with `BINANCE_SHARED_DIR`).
fn vector(name: &str) -> Value {
    let shared = std::env::var("BINANCE_SHARED_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let path = shared.join("vectors/spot").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; set BINANCE_SHARED_DIR", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every key path with the JSON type of its value.
fn shape(value: &Value, prefix: &str, out: &mut BTreeSet<(String, &'static str)>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.insert((prefix.to_owned(), kind));
    if let Value::Object(map) = value {
        for (key, v) in map {
            shape(v, &format!("{prefix}.{key}"), out);
        }
    }
}

fn assert_same_shape<T: serde::Serialize>(event: &T, file: &str) {
    let ours = serde_json::to_value(event).unwrap();
    let (mut got, mut want) = (BTreeSet::new(), BTreeSet::new());
    shape(&ours, "", &mut got);
    shape(&vector(file), "", &mut want);
    assert_eq!(got, want, "{file}: {ours}");
}

#[test]
fn events_serialise_with_the_vector_key_sets() {
    let mut stats = ticker_fixture();
    let now = LEAP_DAY + 11 * HOUR;
    let bbo = (dec("102.49"), dec("3"));
    let m1 = KlineInterval::M1;
    let utc = KlineTimezone::Utc;
    // The minute of trade 4, then an empty one.
    stats.kline_events(m1, utc, LEAP_DAY + 10 * HOUR + 2 * MINUTE_MS);
    let events = stats.kline_events(m1, utc, LEAP_DAY + 10 * HOUR + 3 * MINUTE_MS);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kline.trade_count, 1);
    assert_eq!(events[1].kline.trade_count, 0);
    for event in &events {
        assert_same_shape(event, "kline.json");
    }
    assert_same_shape(&stats.mini_ticker(now).unwrap(), "miniTicker.json");
    assert_same_shape(&stats.ticker(now, bbo, bbo).unwrap(), "ticker.json");
    for window in RollingWindow::ALL {
        let rolling = serde_json::to_value(stats.rolling(*window, now).unwrap()).unwrap();
        assert_eq!(rolling["e"], window.event_type());
        let mut as_1h = rolling.clone();
        as_1h["e"] = "1hTicker".into();
        assert_same_shape(&as_1h, "ticker_1h.json");
    }
    assert_same_shape(&stats.avg_price(now).unwrap(), "avgPrice.json");
    assert_eq!(
        serde_json::to_value(stats.mini_ticker(now).unwrap()).unwrap()["e"],
        vector("miniTicker.json")["e"]
    );
}

#[test]
fn minute_buckets_stay_bounded_over_three_days() {
    let mut stats = SymbolStats::new(SYMBOL, LEAP_DAY);
    let price = dec("60000.01");
    let qty = dec("0.001");
    let mut peak = 0;
    for id in 1..=3 * 24 * 36_000 {
        let f = Fill {
            trade_id: id,
            price,
            qty,
            quote_qty: price * qty,
            time_ms: LEAP_DAY + id * 100,
            buyer_is_maker: id % 2 == 0,
            taker_order_id: id,
            maker_order_id: id,
            buyer_order_id: id,
            seller_order_id: id,
            update_id: id,
        };
        stats.record(&f);
        if id % 600 == 0 {
            peak = peak.max(stats.minutes.len());
        }
    }
    assert!(peak <= 1_442, "{peak} buckets");
    assert!(peak >= 1_441, "the whole day is kept: {peak}");
    // At exactly 3 days the window opens at exactly 2 days.
    let now = LEAP_DAY + 3 * DAY_MS;
    let t = stats.ticker(now, (price, qty), (price, qty)).unwrap();
    assert_eq!(
        (t.first_trade_id, t.last_trade_id),
        (2 * 864_000, 3 * 864_000)
    );
    assert_eq!(t.trade_count, 864_001);
}
