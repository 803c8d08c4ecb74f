//! Property tests: stream names round-trip; independent book levels commute.

use binance_types::book::BookSide;
use binance_types::stream::{
    DepthLevels, KlineInterval, KlineTimezone, RollingWindow, UpdateSpeed,
};
use binance_types::{Decimal, OrderBook, StreamName, Symbol};
use proptest::prelude::*;
use proptest::sample::select;

fn symbol() -> impl Strategy<Value = Symbol> {
    prop_oneof!["[A-Za-z0-9]{1,12}", "[a-z]{2,6}[币安人生]{1,3}",]
        .prop_map(|s| Symbol::new(&s).unwrap())
}

fn stream_name() -> impl Strategy<Value = StreamName> {
    let speed = select(vec![UpdateSpeed::Ms1000, UpdateSpeed::Ms100]);
    prop_oneof![
        symbol().prop_map(StreamName::Trade),
        symbol().prop_map(StreamName::AggTrade),
        symbol().prop_map(StreamName::BlockTrade),
        symbol().prop_map(StreamName::ReferencePrice),
        (
            symbol(),
            select(KlineInterval::ALL),
            select(vec![KlineTimezone::Utc, KlineTimezone::Utc8])
        )
            .prop_map(|(symbol, interval, timezone)| StreamName::Kline {
                symbol,
                interval,
                timezone
            }),
        (symbol(), speed.clone()).prop_map(|(symbol, speed)| StreamName::Depth { symbol, speed }),
        (symbol(), select(DepthLevels::ALL), speed).prop_map(|(symbol, levels, speed)| {
            StreamName::PartialDepth {
                symbol,
                levels,
                speed,
            }
        }),
        symbol().prop_map(StreamName::MiniTicker),
        Just(StreamName::AllMiniTickers),
        symbol().prop_map(StreamName::Ticker),
        (symbol(), select(RollingWindow::ALL))
            .prop_map(|(symbol, window)| StreamName::RollingTicker { symbol, window }),
        select(RollingWindow::ALL).prop_map(StreamName::AllRollingTickers),
        symbol().prop_map(StreamName::BookTicker),
        symbol().prop_map(StreamName::AvgPrice),
    ]
}

proptest! {
    #[test]
    fn stream_names_round_trip(name in stream_name()) {
        let text = name.to_string();
        if let Some(symbol) = name.symbol() {
            prop_assert!(text.starts_with(&format!("{}@", symbol.to_lowercase())), "{}", text);
        }
        let parsed: StreamName = text.parse().unwrap();
        prop_assert_eq!(&parsed, &name);
        // Any case of the symbol names the same stream.
        if let Some(symbol) = name.symbol() {
            let upper = text.replacen(&symbol.to_lowercase(), symbol.as_str(), 1);
            prop_assert_eq!(upper.parse::<StreamName>().unwrap(), name);
        }
    }

    #[test]
    fn independent_levels_apply_in_any_order(
        levels in proptest::collection::btree_map((any::<bool>(), 1u32..500), 0u32..50, 1..60),
        seed in any::<u64>(),
    ) {
        let changes: Vec<(BookSide, Decimal, Decimal)> = levels
            .into_iter()
            .map(|((bid, tick), lots)| {
                let side = if bid { BookSide::Bid } else { BookSide::Ask };
                (side, Decimal::new(i64::from(tick), 2), Decimal::new(i64::from(lots), 3))
            })
            .collect();
        let mut shuffled = changes.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let build = |order: &[(BookSide, Decimal, Decimal)]| {
            let mut book = OrderBook::new();
            book.load_snapshot(1, &[], &[]);
            for (side, price, qty) in order {
                book.set(*side, *price, *qty);
            }
            book
        };
        let (a, b) = (build(&changes), build(&shuffled));
        prop_assert_eq!(a.checksum(), b.checksum());
        prop_assert_eq!(a.bids().collect::<Vec<_>>(), b.bids().collect::<Vec<_>>());
        prop_assert_eq!(a.asks().collect::<Vec<_>>(), b.asks().collect::<Vec<_>>());
        prop_assert!(a.bids().all(|l| !l.quantity.is_zero()));
    }
}
