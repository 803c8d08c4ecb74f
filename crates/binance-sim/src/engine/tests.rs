//! Tests of the market engine.

use std::collections::HashSet;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn btc() -> SymbolSpec {
    SymbolSpec::builtin()
        .into_iter()
        .find(|s| s.symbol == "BTCUSDT")
        .unwrap()
}

fn seeded(seed: u64) -> Engine {
    Engine::new(btc(), FlowConfig::default(), seed)
}

fn empty() -> Engine {
    Engine::new_empty(btc(), FlowConfig::default(), 7)
}

fn on_grid(x: Decimal, unit: Decimal) -> bool {
    (x % unit).is_zero()
}

/// Book-wide invariants: sorted, on the grid, in range, positive, uncrossed.
fn check_book(engine: &Engine, snap: &BookSnapshot) {
    let spec = engine.spec();
    for (side, levels) in [(Side::Buy, &snap.bids), (Side::Sell, &snap.asks)] {
        for (price, qty) in levels.iter() {
            assert!(
                on_grid(*price, spec.tick_size),
                "{side:?} price {price} off tick"
            );
            assert!(on_grid(*qty, spec.step_size), "{side:?} qty {qty} off step");
            assert!(*qty > Decimal::ZERO, "empty level {price} kept");
            assert!(*price >= spec.min_price && *price <= spec.max_price);
        }
        for pair in levels.windows(2) {
            match side {
                Side::Buy => assert!(pair[0].0 > pair[1].0, "bids not descending"),
                Side::Sell => assert!(pair[0].0 < pair[1].0, "asks not ascending"),
            }
        }
    }
    if let (Some(bid), Some(ask)) = (snap.bids.first(), snap.asks.first()) {
        assert!(
            bid.0 < ask.0,
            "book crossed: bid {} >= ask {}",
            bid.0,
            ask.0
        );
    }
}

fn qty_at(snap: &BookSnapshot, side: Side, price: Decimal) -> Decimal {
    let levels = match side {
        Side::Buy => &snap.bids,
        Side::Sell => &snap.asks,
    };
    levels
        .iter()
        .find(|(p, _)| *p == price)
        .map_or(Decimal::ZERO, |(_, q)| *q)
}

fn gtc(side: Side, price: &str, qty: &str) -> NewOrder {
    NewOrder::limit(side, d(price), d(qty), TimeInForce::Gtc)
}

/// Runs a scripted mix of steps and user calls, returning everything visible.
fn script(seed: u64, steps: u64) -> (Vec<String>, BookSnapshot, Vec<Fill>) {
    let mut engine = seeded(seed);
    let mut log = vec![format!("{:?}", engine.depth(usize::MAX))];
    for i in 0..steps {
        let now = 1_700_000_000_000 + i * 10;
        log.push(format!("{:?}", engine.step(now)));
        if i % 250 == 0 {
            let res = engine.submit(NewOrder::market(Side::Buy, d("0.01000")), now);
            log.push(format!("{res:?}"));
            let (bid, _) = engine.best_bid().unwrap();
            let res = engine.submit(
                NewOrder::limit(Side::Buy, bid, d("0.00100"), TimeInForce::Gtc),
                now,
            );
            log.push(format!("{res:?}"));
            if let Ok(r) = res {
                log.push(format!("{:?}", engine.cancel(r.order_id, now)));
            }
        }
    }
    (log, engine.depth(usize::MAX), engine.trades().to_vec())
}

#[test]
fn same_seed_gives_identical_outputs() {
    let (log_a, depth_a, trades_a) = script(42, 3_000);
    let (log_b, depth_b, trades_b) = script(42, 3_000);
    assert!(!trades_a.is_empty());
    // Debug strings also compare decimal scales, not just numeric values.
    assert_eq!(log_a, log_b);
    assert_eq!(depth_a, depth_b);
    assert_eq!(trades_a, trades_b);
}

#[test]
fn different_seeds_differ() {
    let (log_a, depth_a, trades_a) = script(1, 500);
    let (log_b, depth_b, trades_b) = script(2, 500);
    assert_ne!(log_a[0], log_b[0], "initial books should differ");
    assert_ne!(log_a, log_b);
    assert_ne!(depth_a, depth_b);
    assert_ne!(trades_a, trades_b);
}

#[test]
fn initial_book_is_seeded_two_sided_with_nonzero_update_id() {
    let engine = seeded(3);
    let snap = engine.depth(usize::MAX);
    check_book(&engine, &snap);
    assert!(snap.last_update_id > 0);
    let target = engine.flow().target_depth;
    assert!(snap.bids.len() > target * 3 / 4 && snap.bids.len() <= target);
    assert!(snap.asks.len() > target * 3 / 4 && snap.asks.len() <= target);
    assert_eq!(engine.best_bid().unwrap().0, d("60000.00"));
    assert!(engine.trades().is_empty());
    assert_eq!(engine.depth(5).bids.len(), 5);
    assert_eq!(engine.depth(5).asks, snap.asks[..5].to_vec());
}

#[test]
fn ten_thousand_steps_keep_invariants() {
    let mut engine = seeded(11);
    let spec = engine.spec().clone();
    let target = engine.flow().target_depth;
    let mut mirror = engine.depth(usize::MAX);
    let mut last_id = engine.last_update_id();
    let mut next_trade_id = 1;
    let mut seen = [0usize; 3];
    for i in 0..10_000u64 {
        let now = 1_000 + i;
        let out = engine.step(now);
        assert_eq!(out.time_ms, now);
        // Every synthetic step changes the book and takes exactly one id.
        assert_eq!(out.update_ids, Some((last_id + 1, last_id + 1)), "step {i}");
        last_id += 1;
        assert_eq!(engine.last_update_id(), last_id);
        assert!(!out.changes.is_empty());

        let mut levels = HashSet::new();
        for c in &out.changes {
            assert_eq!(c.update_id, last_id);
            assert!(levels.insert((c.side, c.price)), "level reported twice");
            assert!(on_grid(c.price, spec.tick_size) && on_grid(c.qty, spec.step_size));
            assert!(c.qty >= Decimal::ZERO);
        }
        for f in &out.fills {
            assert_eq!(f.update_id, last_id);
            assert_eq!(f.trade_id, next_trade_id);
            next_trade_id += 1;
            assert_eq!(f.time_ms, now);
            assert!(on_grid(f.price, spec.tick_size) && on_grid(f.qty, spec.step_size));
            assert!(f.qty > Decimal::ZERO);
            assert_eq!(f.quote_qty, f.price * f.qty);
        }

        let before = mirror.clone();
        for c in &out.changes {
            mirror.apply(c);
        }
        match out.action {
            StepAction::Add {
                side, price, qty, ..
            } => {
                seen[0] += 1;
                assert!(out.fills.is_empty());
                assert_eq!(out.changes.len(), 1);
                assert_eq!(
                    qty_at(&mirror, side, price),
                    qty_at(&before, side, price) + qty
                );
                assert!(qty >= spec.min_qty);
            }
            StepAction::Cancel {
                side, price, qty, ..
            } => {
                seen[1] += 1;
                // One resting order gone: its level shrinks by its open qty.
                assert!(out.fills.is_empty());
                assert_eq!(out.changes.len(), 1);
                assert_eq!(
                    qty_at(&mirror, side, price),
                    qty_at(&before, side, price) - qty
                );
            }
            StepAction::Take { side, qty, .. } => {
                seen[2] += 1;
                assert!(out.fills.iter().all(|f| f.taker_side() == side));
                assert_eq!(out.fills.iter().map(|f| f.qty).sum::<Decimal>(), qty);
            }
            StepAction::Idle => panic!("idle step"),
        }

        let (bid, _) = engine.best_bid().expect("bids never empty");
        let (ask, _) = engine.best_ask().expect("asks never empty");
        assert!(bid < ask, "crossed after step {i}: {bid} >= {ask}");
        if i % 1_000 == 999 {
            let depth = engine.depth(usize::MAX);
            check_book(&engine, &depth);
            assert_eq!(mirror, depth);
        }
    }
    assert!(seen.iter().all(|&n| n > 500), "action mix {seen:?}");
    let depth = engine.depth(usize::MAX);
    for levels in [&depth.bids, &depth.asks] {
        assert!(
            levels.len() >= target / 2 && levels.len() <= target * 3 / 2,
            "depth drifted to {} levels",
            levels.len()
        );
    }
}

#[test]
fn replaying_changes_reproduces_depth_and_book_at() {
    let mut engine = seeded(5);
    let initial = engine.depth(usize::MAX);
    let initial_id = initial.last_update_id;
    let mut mirror = initial.clone();
    let mut samples = Vec::new();
    for i in 0..5_000u64 {
        let changes = if i % 700 == 0 {
            let r = engine
                .submit(NewOrder::market(Side::Sell, d("0.05000")), i)
                .unwrap();
            r.changes
        } else {
            engine.step(i).changes
        };
        for c in &changes {
            mirror.apply(c);
        }
        if i % 613 == 0 || engine.last_update_id() % 1024 == 0 {
            samples.push(mirror.clone());
        }
    }
    assert_eq!(mirror, engine.depth(usize::MAX));
    assert!(samples.len() > 8);
    assert!(samples.iter().any(|s| s.last_update_id % 1024 == 0));
    for snap in &samples {
        assert_eq!(engine.book_at(snap.last_update_id).as_ref(), Some(snap));
    }
    assert_eq!(engine.book_at(initial_id), Some(initial.clone()));
    assert_eq!(
        engine.book_at(engine.last_update_id()),
        Some(engine.depth(usize::MAX))
    );
    assert_eq!(engine.book_at(engine.last_update_id() + 1), None);
    assert_eq!(
        engine.book_at(0),
        Some(BookSnapshot {
            last_update_id: 0,
            ..BookSnapshot::default()
        })
    );

    // The stored history gives the same replay as the live outputs.
    let mut replay = initial;
    for c in engine
        .changes_between(initial_id + 1, engine.last_update_id())
        .expect("inside the history window")
    {
        replay.apply(&c);
    }
    assert_eq!(replay, engine.depth(usize::MAX));
}

#[test]
fn taken_quantity_equals_level_decreases() {
    let mut engine = seeded(9);
    let mut mirror = engine.depth(usize::MAX);
    let mut steps_with_fills = 0;
    for i in 0..10_000 {
        let out = engine.step(i);
        let before = mirror.clone();
        for c in &out.changes {
            mirror.apply(c);
        }
        let Some(first) = out.fills.first() else {
            continue;
        };
        steps_with_fills += 1;
        let taken = first.taker_side().opposite();
        let decrease: Decimal = out
            .changes
            .iter()
            .filter(|c| c.side == taken)
            .map(|c| {
                let old = qty_at(&before, taken, c.price);
                assert!(c.qty < old, "taken level {} grew", c.price);
                old - c.qty
            })
            .sum();
        let filled: Decimal = out.fills.iter().map(|f| f.qty).sum();
        assert_eq!(decrease, filled, "step {i}");
        // Each fill is at a maker price that was on the book.
        for f in &out.fills {
            assert!(qty_at(&before, taken, f.price) > Decimal::ZERO);
        }
    }
    assert!(steps_with_fills > 1_000);
}

#[test]
fn price_time_priority_fills_better_price_then_oldest_first() {
    let mut engine = empty();
    let a = engine
        .submit(gtc(Side::Sell, "100.00", "1.00000"), 1)
        .unwrap();
    let b = engine
        .submit(gtc(Side::Sell, "100.00", "1.00000"), 2)
        .unwrap();
    let c = engine
        .submit(gtc(Side::Sell, "100.01", "1.00000"), 3)
        .unwrap();
    let best = engine
        .submit(gtc(Side::Sell, "99.99", "1.00000"), 4)
        .unwrap();
    assert_eq!(engine.best_ask(), Some((d("99.99"), d("1"))));

    let taker = engine
        .submit(NewOrder::market(Side::Buy, d("2.50000")), 5)
        .unwrap();
    let makers: Vec<(u64, Decimal, Decimal)> = taker
        .fills
        .iter()
        .map(|f| (f.maker_order_id, f.price, f.qty))
        .collect();
    assert_eq!(
        makers,
        vec![
            (best.order_id, d("99.99"), d("1")),
            (a.order_id, d("100.00"), d("1")),
            (b.order_id, d("100.00"), d("0.5")),
        ]
    );
    assert_eq!(taker.status, OrderStatus::Filled);
    assert_eq!(engine.open_order(a.order_id), None);
    let rest_b = engine.open_order(b.order_id).unwrap();
    assert_eq!(
        (rest_b.executed_qty, rest_b.remaining_qty),
        (d("0.5"), d("0.5"))
    );
    assert_eq!(engine.open_order(c.order_id).unwrap().executed_qty, d("0"));
    assert!(taker.fills.iter().all(|f| !f.buyer_is_maker
        && f.buyer_order_id == taker.order_id
        && f.seller_order_id == f.maker_order_id));
}

#[test]
fn market_sweep_across_three_levels_fills_at_maker_prices() {
    let mut engine = empty();
    for price in ["100.00", "100.01", "100.02", "100.03"] {
        engine.submit(gtc(Side::Sell, price, "0.50000"), 1).unwrap();
    }
    let id_before = engine.last_update_id();
    let r = engine
        .submit(NewOrder::market(Side::Buy, d("1.20000")), 2)
        .unwrap();
    let fills: Vec<(Decimal, Decimal)> = r.fills.iter().map(|f| (f.price, f.qty)).collect();
    assert_eq!(
        fills,
        vec![
            (d("100.00"), d("0.5")),
            (d("100.01"), d("0.5")),
            (d("100.02"), d("0.2")),
        ]
    );
    assert_eq!(r.update_ids, Some((id_before + 1, id_before + 1)));
    assert!(r.fills.iter().all(|f| f.update_id == id_before + 1));
    let changes: Vec<(Side, Decimal, Decimal)> =
        r.changes.iter().map(|c| (c.side, c.price, c.qty)).collect();
    assert_eq!(
        changes,
        vec![
            (Side::Sell, d("100.00"), d("0")),
            (Side::Sell, d("100.01"), d("0")),
            (Side::Sell, d("100.02"), d("0.3")),
        ]
    );
    assert_eq!(r.cumulative_quote_qty, d("120.009"));
    assert_eq!(engine.best_ask(), Some((d("100.02"), d("0.3"))));
    let ids: Vec<u64> = engine.trades().iter().map(|f| f.trade_id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
}

/// Steps (out of 10,000) whose fills hit at least 3 distinct prices.
fn multi_level_sweeps(flow: FlowConfig) -> usize {
    let mut engine = Engine::new(btc(), flow, 21);
    (0..10_000)
        .filter(|&i| {
            let out = engine.step(i);
            let prices: HashSet<Decimal> = out.fills.iter().map(|f| f.price).collect();
            prices.len() >= 3
        })
        .count()
}

#[test]
fn synthetic_flow_sometimes_sweeps_several_levels() {
    // With 1-lot orders only the sweep mechanism can take 3+ levels at once.
    let tiny = FlowConfig {
        min_lots: 1,
        max_lots: 1,
        ..FlowConfig::default()
    };
    let no_sweeps = FlowConfig {
        sweep_probability: 0.0,
        ..tiny.clone()
    };
    assert!(multi_level_sweeps(tiny) > 20, "no synthetic sweeps");
    assert_eq!(multi_level_sweeps(no_sweeps), 0);
    assert!(multi_level_sweeps(FlowConfig::default()) > 20);
}

#[test]
fn submit_rejects_invalid_orders() {
    let mut spec = btc();
    spec.min_qty = d("0.00100");
    let mut engine = Engine::new(spec, FlowConfig::default(), 1);
    let id = engine.last_update_id();
    let cases = [
        (
            gtc(Side::Buy, "100.005", "0.01000"),
            OrderError::PriceNotOnTick {
                price: d("100.005"),
                tick_size: d("0.01"),
            },
        ),
        (
            gtc(Side::Buy, "100.00", "0.010005"),
            OrderError::QtyNotOnStep {
                qty: d("0.010005"),
                step_size: d("0.00001"),
            },
        ),
        (
            gtc(Side::Buy, "100.00", "0.00050"),
            OrderError::QtyBelowMin {
                qty: d("0.00050"),
                min_qty: d("0.00100"),
            },
        ),
        (
            gtc(Side::Buy, "100.00", "0"),
            OrderError::NonPositiveQty { qty: d("0") },
        ),
        (
            gtc(Side::Sell, "2000000.00", "0.01000"),
            OrderError::PriceOutOfRange {
                price: d("2000000.00"),
                min_price: d("0.01"),
                max_price: d("1000000.00"),
            },
        ),
        (
            NewOrder::market(Side::Buy, d("0.000001")),
            OrderError::QtyNotOnStep {
                qty: d("0.000001"),
                step_size: d("0.00001"),
            },
        ),
        (
            NewOrder::limit_maker(Side::Buy, engine.best_ask().unwrap().0, d("0.01000")),
            OrderError::WouldImmediatelyMatch,
        ),
    ];
    for (order, expected) in cases {
        let err = engine.submit(order, 0).unwrap_err();
        assert_eq!(err, expected);
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(OrderError::WouldImmediatelyMatch.binance_code(), -2010);
    assert_eq!(engine.last_update_id(), id, "rejections change nothing");
    // A valid post-only order still rests.
    let (bid, _) = engine.best_bid().unwrap();
    let ok = engine
        .submit(NewOrder::limit_maker(Side::Buy, bid, d("0.01000")), 0)
        .unwrap();
    assert_eq!(ok.status, OrderStatus::New);
    assert_eq!(engine.last_update_id(), id + 1);
}

#[test]
fn ioc_remainder_expires() {
    let mut engine = empty();
    engine
        .submit(gtc(Side::Sell, "100.00", "0.50000"), 1)
        .unwrap();
    engine
        .submit(gtc(Side::Sell, "100.02", "0.50000"), 1)
        .unwrap();
    let id = engine.last_update_id();
    let ioc = NewOrder::limit(Side::Buy, d("100.01"), d("1.00000"), TimeInForce::Ioc);
    let r = engine.submit(ioc, 2).unwrap();
    assert_eq!(r.status, OrderStatus::Expired);
    assert_eq!(r.executed_qty, d("0.5"));
    assert_eq!(r.remaining_qty, d("0.5"));
    assert_eq!(r.fills.len(), 1);
    assert_eq!(r.update_ids, Some((id + 1, id + 1)));
    assert_eq!(engine.best_bid(), None, "IOC remainder must not rest");
    assert_eq!(engine.open_order(r.order_id), None);
    assert_eq!(engine.best_ask(), Some((d("100.02"), d("0.5"))));

    // Nothing to take: expires without touching the book.
    let r = engine.submit(ioc, 3).unwrap();
    assert_eq!(r.status, OrderStatus::Expired);
    assert!(r.fills.is_empty() && r.changes.is_empty());
    assert_eq!(r.update_ids, None);
    assert_eq!(engine.last_update_id(), id + 1);
}

#[test]
fn fok_that_cannot_fill_fully_expires_without_fills() {
    let mut engine = empty();
    engine
        .submit(gtc(Side::Sell, "100.00", "0.50000"), 1)
        .unwrap();
    engine
        .submit(gtc(Side::Sell, "100.02", "0.50000"), 1)
        .unwrap();
    let before = engine.depth(usize::MAX);
    let fok = |price: &str| NewOrder::limit(Side::Buy, d(price), d("1.00000"), TimeInForce::Fok);

    let r = engine.submit(fok("100.01"), 2).unwrap();
    assert_eq!(r.status, OrderStatus::Expired);
    assert!(r.fills.is_empty() && r.changes.is_empty());
    assert_eq!(r.update_ids, None);
    assert_eq!((r.executed_qty, r.remaining_qty), (d("0"), d("1")));
    assert_eq!(engine.depth(usize::MAX), before);
    assert!(engine.trades().is_empty());

    let r = engine.submit(fok("100.02"), 3).unwrap();
    assert_eq!(r.status, OrderStatus::Filled);
    assert_eq!(r.fills.len(), 2);
    assert_eq!(r.remaining_qty, d("0"));
    assert_eq!(engine.best_ask(), None);
}

#[test]
fn gtc_rests_and_crossing_gtc_rests_its_remainder() {
    let mut engine = seeded(4);
    let (bid, _) = engine.best_bid().unwrap();
    let price = bid - d("0.05");
    let level_before = qty_at(&engine.depth(usize::MAX), Side::Buy, price);
    let id = engine.last_update_id();
    let r = engine
        .submit(
            NewOrder::limit(Side::Buy, price, d("0.25000"), TimeInForce::Gtc),
            1,
        )
        .unwrap();
    assert_eq!(r.status, OrderStatus::New);
    assert!(r.fills.is_empty());
    assert_eq!(r.remaining_qty, d("0.25"));
    assert_eq!(r.update_ids, Some((id + 1, id + 1)));
    let expected = LevelChange {
        side: Side::Buy,
        price,
        qty: level_before + d("0.25"),
        update_id: id + 1,
    };
    assert_eq!(r.changes, vec![expected]);
    assert_eq!(
        qty_at(&engine.depth(usize::MAX), Side::Buy, price),
        level_before + d("0.25")
    );
    assert_eq!(
        engine.open_order(r.order_id).unwrap().remaining_qty,
        d("0.25")
    );

    let mut engine = empty();
    engine
        .submit(gtc(Side::Sell, "100.00", "0.50000"), 1)
        .unwrap();
    let r = engine
        .submit(gtc(Side::Buy, "100.01", "1.00000"), 2)
        .unwrap();
    assert_eq!(r.status, OrderStatus::PartiallyFilled);
    assert_eq!(r.executed_qty, d("0.5"));
    let changes: Vec<(Side, Decimal, Decimal)> =
        r.changes.iter().map(|c| (c.side, c.price, c.qty)).collect();
    assert_eq!(
        changes,
        vec![
            (Side::Sell, d("100.00"), d("0")),
            (Side::Buy, d("100.01"), d("0.5")),
        ]
    );
    assert_eq!(engine.best_bid(), Some((d("100.01"), d("0.5"))));
    assert_eq!(engine.best_ask(), None);
    let open = engine.open_order(r.order_id).unwrap();
    assert_eq!((open.orig_qty, open.executed_qty), (d("1"), d("0.5")));
}

#[test]
fn cancel_removes_a_resting_order_once() {
    let mut engine = seeded(8);
    let (ask, ask_qty) = engine.best_ask().unwrap();
    let r = engine
        .submit(gtc(Side::Sell, &ask.to_string(), "0.30000"), 1)
        .unwrap();
    assert_eq!(engine.best_ask(), Some((ask, ask_qty + d("0.3"))));
    let id = engine.last_update_id();
    let c = engine.cancel(r.order_id, 2).unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(
        (c.side, c.price, c.canceled_qty),
        (Side::Sell, ask, d("0.3"))
    );
    assert_eq!(c.update_id, id + 1);
    assert_eq!(
        c.change,
        LevelChange {
            side: Side::Sell,
            price: ask,
            qty: ask_qty,
            update_id: id + 1
        }
    );
    assert_eq!(engine.best_ask(), Some((ask, ask_qty)));
    assert_eq!(engine.cancel(r.order_id, 3), None);
    assert_eq!(engine.cancel(u64::MAX, 3), None);
    assert_eq!(engine.last_update_id(), id + 1);
}

#[test]
fn user_orders_are_hit_by_synthetic_flow() {
    let mut engine = seeded(13);
    let (ask, _) = engine.best_ask().unwrap();
    // Improves the ask by one tick (spread is at least one tick, so it may join the bid
    // side price only if the spread is exactly one tick; then it rests at the ask).
    let price = (ask - d("0.01")).max(engine.best_bid().unwrap().0 + d("0.01"));
    let r = engine
        .submit(
            NewOrder::limit(Side::Sell, price, d("0.00500"), TimeInForce::Gtc),
            0,
        )
        .unwrap();
    assert_eq!(r.status, OrderStatus::New);
    let hit = (1..20_000).find_map(|i| {
        engine
            .step(i)
            .fills
            .into_iter()
            .find(|f| f.maker_order_id == r.order_id)
    });
    let fill = hit.expect("synthetic takers reach the user order");
    assert_eq!(fill.price, price);
    assert!(!fill.buyer_is_maker);
}

#[test]
fn builtin_symbols_run_cleanly() {
    let specs = SymbolSpec::builtin();
    let names: Vec<&str> = specs.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(
        names,
        ["BTCUSDT", "ETHUSDT", "BNBBTC", "BNBUSDT", "SOLUSDT", "XRPUSDT"]
    );
    for spec in specs {
        assert!(
            on_grid(spec.initial_price, spec.tick_size),
            "{}",
            spec.symbol
        );
        assert!(on_grid(spec.min_qty, spec.step_size), "{}", spec.symbol);
        let mut engine = Engine::new(spec.clone(), FlowConfig::default(), 99);
        for i in 0..2_000 {
            let out = engine.step(i);
            assert!(out.update_ids.is_some());
        }
        let depth = engine.depth(usize::MAX);
        check_book(&engine, &depth);
        assert!(
            depth.bids.len() > 50 && depth.asks.len() > 50,
            "{}",
            spec.symbol
        );
        // Outputs carry the scale of the filters (e.g. 8 decimals for BNBBTC).
        let (price, qty) = depth.bids[0];
        assert_eq!(price.scale(), spec.tick_size.scale(), "{}", spec.symbol);
        assert_eq!(qty.scale(), spec.step_size.scale(), "{}", spec.symbol);
    }
}

#[test]
#[ignore = "timing; run with --release -- --ignored"]
fn step_is_fast() {
    let mut engine = seeded(1);
    for i in 0..20_000 {
        engine.step(i);
    }
    let n = 200_000;
    let start = std::time::Instant::now();
    for i in 0..n {
        std::hint::black_box(engine.step(i));
    }
    let per_step = start.elapsed() / n as u32;
    println!("{per_step:?} per step");
    assert!(per_step < std::time::Duration::from_micros(10));
}

#[test]
fn history_window_stays_bounded_and_answers_inside_it() {
    use std::collections::VecDeque;
    const WINDOW: u64 = 3_000;
    let slack = WINDOW + 2 * history::CHECKPOINT_INTERVAL;
    let mut engine = seeded(12);
    engine.set_history_window(Some(WINDOW));
    let (mut most_changes, mut most_fills) = (1, 1);
    let mut samples = VecDeque::new();
    for i in 0..60_000u64 {
        let out = engine.step(1_700_000_000_000 + i);
        most_changes = most_changes.max(out.changes.len());
        most_fills = most_fills.max(out.fills.len());
        let (last, start) = (engine.last_update_id(), engine.history_start());
        assert!(
            start <= (last + 1).saturating_sub(WINDOW),
            "window cut short"
        );
        assert!(last - start < slack, "history from {start} to {last} kept");
        let (changes, checkpoints) = engine.history.stored();
        assert!(
            changes <= 2 * slack as usize * most_changes,
            "{changes} changes"
        );
        assert!(checkpoints as u64 <= slack / history::CHECKPOINT_INTERVAL + 1);
        assert!(engine.trades.stored() <= 2 * slack as usize * most_fills);
        if i % 500 == 0 {
            samples.push_back(engine.depth(usize::MAX));
            if samples.len() > 8 {
                samples.pop_front();
            }
        }
    }
    let (last, start) = (engine.last_update_id(), engine.history_start());
    assert!(start > 50_000, "started at {start}");
    let inside: Vec<_> = samples
        .iter()
        .filter(|s| s.last_update_id >= start)
        .collect();
    assert!(inside.len() >= 5);
    for snap in inside {
        assert_eq!(engine.book_at(snap.last_update_id).as_ref(), Some(snap));
    }
    for old in [0, 1, start - 1] {
        assert_eq!(engine.book_at(old), None, "book at {old}");
    }
    assert_eq!(engine.changes_between(start - 1, last), None);
    let mut replay = engine.book_at(start).unwrap();
    for c in engine.changes_between(start + 1, last).unwrap() {
        replay.apply(&c);
    }
    assert_eq!(replay, engine.depth(usize::MAX));

    // The trades kept are those of the window, numbered without a gap.
    let trades = engine.trades();
    assert!(trades.len() > 100);
    assert!(trades.iter().all(|f| f.update_id >= start));
    assert_eq!(trades[0].trade_id, engine.first_kept_trade_id());
    assert!(trades
        .windows(2)
        .all(|w| w[1].trade_id == w[0].trade_id + 1));
    let newest = trades.last().unwrap();
    assert_eq!(engine.trade(newest.trade_id), Some(newest));
    assert_eq!(engine.trade(trades[0].trade_id - 1), None);
    let dropped = engine.dropped_trades_until_ms().expect("trades dropped");
    assert!(dropped <= trades[0].time_ms);
}

#[test]
fn without_a_window_history_is_all_kept() {
    let mut engine = seeded(13);
    engine.set_history_window(None);
    for i in 0..5_000 {
        engine.step(i);
    }
    assert_eq!(engine.history_start(), 0);
    assert!(engine.book_at(1).is_some());
    assert_eq!(engine.trades()[0].trade_id, 1);
    assert_eq!(engine.dropped_trades_until_ms(), None);
}
