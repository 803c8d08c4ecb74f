//! Where candles start: Binance's kline alignment, computed from the epoch
//! with integer arithmetic (no calendar crate).

use binance_types::stream::{KlineInterval, KlineTimezone};

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;
/// UTC+8 candles are aligned on the local clock, eight hours ahead of UTC.
const UTC8_MS: i64 = 8 * 3_600_000;
/// 1970-01-05, the first Monday after the epoch (a Thursday): weeks start there.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;

/// The open time of the candle of `interval` that contains `time_ms`, and the
/// open time of the one after it (so its close time `T` is `next - 1`).
///
/// Candles start at multiples of the interval since the epoch, weeks on
/// Monday 00:00 and months on the 1st. With [`KlineTimezone::Utc8`] the
/// alignment is done on the UTC+8 clock; times stay UTC epoch milliseconds.
pub fn kline_bounds(interval: KlineInterval, timezone: KlineTimezone, time_ms: u64) -> (u64, u64) {
    let shift = shift_ms(timezone);
    let local = i64::try_from(time_ms).unwrap_or(i64::MAX) + shift;
    let (open, next) = match interval {
        KlineInterval::Mo1 => month_bounds(local),
        KlineInterval::W1 => {
            let open = (local - FIRST_MONDAY_MS).div_euclid(WEEK_MS) * WEEK_MS + FIRST_MONDAY_MS;
            (open, open + WEEK_MS)
        }
        fixed => {
            let len = i64::try_from(fixed.millis()).unwrap_or(i64::MAX);
            let open = local.div_euclid(len) * len;
            (open, open + len)
        }
    };
    // Only candles around the epoch itself could start before it.
    let utc = |t: i64| u64::try_from(t - shift).unwrap_or(0);
    (utc(open), utc(next))
}

/// The length of every candle of `interval`, or `None` for months.
pub fn fixed_len_ms(interval: KlineInterval) -> Option<u64> {
    (interval != KlineInterval::Mo1).then(|| interval.millis())
}

/// The timezone whose alignment `timezone` really uses for `interval`:
/// shifting by 8 h changes nothing for intervals that divide 8 h (1s … 4h,
/// 8h), so those share UTC's candles.
pub fn effective_timezone(interval: KlineInterval, timezone: KlineTimezone) -> KlineTimezone {
    let shift = shift_ms(timezone);
    match fixed_len_ms(interval).and_then(|len| i64::try_from(len).ok()) {
        Some(len) if shift % len == 0 => KlineTimezone::Utc,
        _ => timezone,
    }
}

fn shift_ms(timezone: KlineTimezone) -> i64 {
    match timezone {
        KlineTimezone::Utc => 0,
        KlineTimezone::Utc8 => UTC8_MS,
    }
}

/// First millisecond of the calendar month containing `ms`, and of the next.
fn month_bounds(ms: i64) -> (i64, i64) {
    let (year, month, _) = civil_from_days(ms.div_euclid(DAY_MS));
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    (
        days_from_civil(year, month, 1) * DAY_MS,
        days_from_civil(next_year, next_month, 1) * DAY_MS,
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    // Count years from March so the leap day falls at the end of the year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = (march_month + 2) % 12 + 1;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            assert_eq!(days_from_civil(y, m, d), day, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn utc8_shares_utc_candles_only_when_8h_is_a_multiple() {
        use KlineInterval::*;
        for interval in KlineInterval::ALL.iter().copied() {
            let same = effective_timezone(interval, KlineTimezone::Utc8) == KlineTimezone::Utc;
            let expect = matches!(interval, S1 | M1 | M3 | M5 | M15 | M30 | H1 | H2 | H4 | H8);
            assert_eq!(same, expect, "{interval}");
            // Shared or not, the bounds say the same.
            for t in [0, 1_709_236_800_000u64, 1_709_236_800_000 + 13 * 3_600_000] {
                let b = kline_bounds(interval, KlineTimezone::Utc8, t + 5 * DAY_MS as u64);
                let e = kline_bounds(
                    interval,
                    effective_timezone(interval, KlineTimezone::Utc8),
                    t + 5 * DAY_MS as u64,
                );
                assert_eq!(b, e, "{interval} at {t}");
            }
        }
    }
}
