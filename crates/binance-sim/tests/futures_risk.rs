//! Futures leverage and funding over real sockets: `POST /fapi/v1/leverage`
//! and `/dapi/v1/leverage` answer in Binance's bytes and push
//! `ACCOUNT_CONFIG_UPDATE`; at each funding time every open position pays or
//! receives its funding fee, reported as an `ACCOUNT_UPDATE` (`FUNDING_FEE`)
//! in the key order of Binance's examples (`vectors/futures/user`,
//! `vectors/coinm/user`).

mod support;

use std::time::Duration;

use binance_sim::{AccountSpec, FuturesConfig, Sim, SimConfig, Venue};
use binance_types::futures::user::{decode_futures_user, FuturesUserEvent};
use binance_types::sign::hmac_sha256_hex;
use futures_util::SinkExt;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "risk-test-key";
const SECRET: &str = "risk-test-secret";
/// An account that never trades.
const FLAT_KEY: &str = "flat-test-key";
const FLAT_SECRET: &str = "flat-test-secret";

async fn sim(funding_interval: Duration) -> Sim {
    Sim::start(SimConfig {
        accounts: vec![
            AccountSpec::hmac(KEY, SECRET),
            AccountSpec::hmac(FLAT_KEY, FLAT_SECRET),
        ],
        futures: FuturesConfig {
            actions_per_second: 200,
            funding_interval,
            ..FuturesConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

fn prefix(venue: Venue) -> &'static str {
    match venue {
        Venue::CoinM => "/dapi/v1",
        _ => "/fapi/v1",
    }
}

/// A new listen key of `api_key`.
async fn new_key(sim: &Sim, venue: Venue, api_key: &str) -> String {
    let url = format!("{}{}/listenKey", sim.venue_rest_url(venue), prefix(venue));
    let (status, _, body) = http_with("POST", &url, &[("X-MBX-APIKEY", api_key)]).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    body["listenKey"].as_str().unwrap().to_owned()
}

/// A signed request of the test account on a venue's `endpoint`: status
/// and the body as sent.
async fn signed(sim: &Sim, venue: Venue, endpoint: &str, query: &str) -> (u16, String) {
    let query = format!("{query}&timestamp={}", now_ms());
    let signature = hmac_sha256_hex(SECRET.as_bytes(), query.as_bytes());
    let url = format!(
        "{}{}/{endpoint}?{query}&signature={signature}",
        sim.venue_rest_url(venue),
        prefix(venue)
    );
    let (status, _, body) = http_with("POST", &url, &[("X-MBX-APIKEY", KEY)]).await;
    (status, body)
}

/// The user stream of a listen key.
async fn user_stream(sim: &Sim, venue: Venue, key: &str) -> Ws {
    let path = match venue {
        Venue::CoinM => format!("/ws/{key}"),
        _ => format!("/private/ws/{key}"),
    };
    connect(&format!("{}{path}", sim.venue_ws_url(venue))).await
}

/// Nothing is waiting on `ws`: a `LIST_SUBSCRIPTIONS` sent now is answered
/// by the very next frame.
async fn nothing_waiting(ws: &mut Ws, id: u64) {
    let request = json!({"method": "LIST_SUBSCRIPTIONS", "id": id});
    ws.send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
    let next = next_json(ws).await;
    assert_eq!(next["id"], id, "a frame came before the answer: {next}");
}

/// Keys of `v`, recursively, in order; arrays by their first item.
fn keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Array(m.iter().map(|(k, v)| json!([k, keys(v)])).collect()),
        Value::Array(items) => items.first().map_or(Value::Null, keys),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// `event` has the keys of Binance's example `vector` (under `vectors/`),
/// in its order, with its JSON types; decodes typed and encodes back to the
/// same bytes.
fn like_vector(event: &str, vector: &str) -> FuturesUserEvent {
    let v: Value = serde_json::from_str(event).unwrap();
    assert_eq!(keys(&v), keys(&any_vector(vector)), "{vector}: {event}");
    let typed = decode_futures_user(event.as_bytes()).unwrap();
    assert_eq!(typed.to_json(), event);
    typed
}

fn decimal(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn leverage_answers_as_binance_and_pushes_account_config_update() {
    let sim = sim(futures_default_interval()).await;
    for (venue, symbol, answer, vector) in [
        (
            Venue::UsdM,
            "BTCUSDT",
            r#"{"leverage":21,"maxNotionalValue":"1000000","symbol":"BTCUSDT"}"#,
            "futures/user/ACCOUNT_CONFIG_UPDATE_leverage.json",
        ),
        (
            Venue::CoinM,
            "BTCUSD_PERP",
            r#"{"leverage":21,"maxQty":"1000","symbol":"BTCUSD_PERP"}"#,
            "coinm/user/ACCOUNT_CONFIG_UPDATE.json",
        ),
    ] {
        let key = new_key(&sim, venue, KEY).await;
        let mut ws = user_stream(&sim, venue, &key).await;
        nothing_waiting(&mut ws, 1).await;
        let before = now_ms();
        let (status, body) = signed(
            &sim,
            venue,
            "leverage",
            &format!("symbol={symbol}&leverage=21"),
        )
        .await;
        assert_eq!((status, body.as_str()), (200, answer), "{venue}");

        let event = next_text(&mut ws).await;
        let typed = like_vector(&event, vector);
        let FuturesUserEvent::AccountConfigUpdate(update) = typed else {
            panic!("not ACCOUNT_CONFIG_UPDATE: {event}");
        };
        let ac = update.leverage.expect("ac");
        assert_eq!((ac.symbol.as_str(), ac.leverage), (symbol, 21), "{event}");
        assert!(update.multi_assets.is_none());
        let (e, t) = (update.event_time.get(), update.transaction_time.get());
        assert!(before <= t && t <= e && e <= now_ms(), "{event}");
        assert_eq!(sim.futures_user_events(venue, KEY), vec![event]);

        // Refusals, each with Binance's code, and no event.
        for (query, code, msg) in [
            (
                format!("symbol={symbol}&leverage=0"),
                -4028,
                Some("Leverage 0 is not valid"),
            ),
            (
                format!("symbol={symbol}&leverage=126"),
                -4028,
                Some("Leverage 126 is not valid"),
            ),
            (format!("symbol={symbol}&leverage=-3"), -4028, None),
            (format!("symbol={symbol}&leverage=2x"), -1100, None),
            (format!("symbol={symbol}"), -1102, None),
            ("leverage=5".to_owned(), -1102, None),
            ("symbol=NOPE&leverage=5".to_owned(), -1121, None),
        ] {
            let (status, body) = signed(&sim, venue, "leverage", &query).await;
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                (status, body["code"].as_i64()),
                (400, Some(code)),
                "{query}: {body}"
            );
            if let Some(msg) = msg {
                assert_eq!(body["msg"], msg);
            }
            if code == -1100 {
                let msg = body["msg"].as_str().unwrap();
                assert!(msg.contains("'leverage'") && msg.contains("125"), "{msg}");
            }
        }
        nothing_waiting(&mut ws, 2).await;
        assert_eq!(sim.futures_user_events(venue, KEY).len(), 1);

        // The edges are taken; the position reports the last one.
        for leverage in [1, 125, 7] {
            let (status, body) = signed(
                &sim,
                venue,
                "leverage",
                &format!("symbol={symbol}&leverage={leverage}"),
            )
            .await;
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                (status, &body["leverage"]),
                (200, &json!(leverage)),
                "{body}"
            );
            let event: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
            assert_eq!(event["ac"], json!({"s": symbol, "l": leverage}));
        }
        let quantity = match venue {
            Venue::CoinM => "1",
            _ => "0.002",
        };
        let (status, body) = signed(
            &sim,
            venue,
            "order",
            &format!("symbol={symbol}&side=BUY&type=MARKET&quantity={quantity}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let mut api = connect(&sim.venue_ws_api_url(venue)).await;
        let params = ws_signed(json!({"symbol": symbol}), KEY, SECRET);
        let positions = call(&mut api, 1, "account.position", params).await;
        let position = &positions["result"][0];
        assert_eq!(position["symbol"], symbol, "{positions}");
        assert_eq!(position["leverage"], "7", "{positions}");
    }
}

/// Binance's eight hours, as the default config has it.
fn futures_default_interval() -> Duration {
    FuturesConfig::default().funding_interval
}

#[tokio::test]
async fn the_default_funding_interval_is_eight_hours() {
    assert_eq!(futures_default_interval(), Duration::from_secs(8 * 3600));
    let sim = sim(futures_default_interval()).await;
    let next = sim.next_funding_time(Venue::UsdM, "BTCUSDT").unwrap();
    assert_eq!(next % (8 * 3_600_000), 0, "00:00, 08:00 or 16:00 UTC");
    assert!(next > now_ms() && next <= now_ms() + 8 * 3_600_000);
    assert_eq!(sim.next_funding_time(Venue::CoinM, "BTCUSD_261225"), None);
}

/// Read the user stream until a `FUNDING_FEE` update: it and the wallet
/// balance of `asset` the updates before it left.
async fn next_funding_fee(ws: &mut Ws, asset: &str, mut wallet: Decimal) -> (Value, Decimal) {
    loop {
        let event: Value = serde_json::from_str(&next_text(ws).await).unwrap();
        if event["e"] != "ACCOUNT_UPDATE" {
            continue;
        }
        if event["a"]["m"] == "FUNDING_FEE" {
            return (event, wallet);
        }
        for balance in event["a"]["B"].as_array().unwrap() {
            if balance["a"] == asset {
                wallet = decimal(&balance["wb"]);
            }
        }
    }
}

#[tokio::test]
async fn open_positions_pay_or_receive_funding_at_each_funding_time() {
    let interval = Duration::from_secs(1);
    let sim = sim(interval).await;
    let info = get_json(&format!(
        "{}/dapi/v1/exchangeInfo",
        sim.venue_rest_url(Venue::CoinM)
    ))
    .await;
    let coin_size = info["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == "BTCUSD_PERP")
        .map(|s| Decimal::from(s["contractSize"].as_u64().unwrap()))
        .unwrap();
    // A long on USD-M (pays at a positive rate), a short on COIN-M (receives).
    for (venue, symbol, side, quantity, asset, start, vector) in [
        (
            Venue::UsdM,
            "BTCUSDT",
            "BUY",
            "0.005",
            "USDT",
            100_000,
            "futures/user/ACCOUNT_UPDATE.json",
        ),
        (
            Venue::CoinM,
            "BTCUSD_PERP",
            "SELL",
            "3",
            "BTC",
            10,
            "coinm/user/ACCOUNT_UPDATE.json",
        ),
    ] {
        let key = new_key(&sim, venue, KEY).await;
        let flat_key = new_key(&sim, venue, FLAT_KEY).await;
        let mut ws = user_stream(&sim, venue, &key).await;
        let mut flat = user_stream(&sim, venue, &flat_key).await;
        nothing_waiting(&mut ws, 1).await;
        nothing_waiting(&mut flat, 1).await;
        let (status, body) = signed(
            &sim,
            venue,
            "order",
            &format!("symbol={symbol}&side={side}&type=MARKET&quantity={quantity}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");

        let mut wallet = Decimal::from(start);
        let mut last_time = 0;
        for _ in 0..2 {
            let (event, before) = next_funding_fee(&mut ws, asset, wallet).await;
            let text = event.to_string();
            let typed = like_vector(&text, vector);
            assert!(matches!(typed, FuturesUserEvent::AccountUpdate(_)));
            let time = event["T"].as_u64().unwrap();
            let fundings = sim.fundings(venue, symbol);
            let funding = fundings
                .iter()
                .find(|f| f.time == time)
                .unwrap_or_else(|| panic!("no funding at {time}: {fundings:?}"));
            assert_eq!(time % 1000, 0, "a funding time is a whole interval");
            assert!(time > last_time, "each funding once");
            assert!(funding.rate > Decimal::ZERO);
            let position = &event["a"]["P"][0];
            assert_eq!(position["s"], symbol);
            let amount = decimal(&position["pa"]);
            assert_eq!(
                amount.to_string(),
                format!(
                    "{}{quantity}",
                    match side {
                        "SELL" => "-",
                        _ => "",
                    }
                )
            );
            // The fee, at eight decimals: longs pay a positive rate.
            let fee = match venue {
                Venue::CoinM => amount * coin_size / funding.mark_price * funding.rate,
                _ => amount * funding.mark_price * funding.rate,
            };
            let expected = (-fee).round_dp(8);
            let balance = &event["a"]["B"][0];
            assert_eq!(balance["a"], asset);
            assert_eq!(decimal(&balance["bc"]), expected, "{text}");
            assert_eq!(
                decimal(&balance["bc"]).is_sign_negative(),
                side == "BUY",
                "{text}"
            );
            wallet = decimal(&balance["wb"]);
            assert_eq!(wallet, before + expected, "{text}");
            assert_eq!(decimal(&balance["cw"]), wallet);
            assert_eq!(
                balance["wb"]
                    .as_str()
                    .unwrap()
                    .split_once('.')
                    .unwrap()
                    .1
                    .len(),
                8,
                "{text}"
            );
            assert_eq!(
                sim.futures_user_events(venue, KEY).last(),
                Some(&text),
                "logged as sent"
            );
            last_time = time;
        }
        // The flat account was funded nothing.
        nothing_waiting(&mut flat, 2).await;
        assert_eq!(
            sim.futures_user_events(venue, FLAT_KEY),
            Vec::<String>::new()
        );
        // Fundings are an interval apart; the next one is one interval on.
        let fundings = sim.fundings(venue, symbol);
        assert!(fundings.len() >= 2);
        for pair in fundings.windows(2) {
            assert_eq!(pair[1].time - pair[0].time, 1000, "{fundings:?}");
        }
        let next = sim.next_funding_time(venue, symbol).unwrap();
        assert!(next > fundings.last().unwrap().time);
        assert!(next <= now_ms() + 1000);
    }
}

#[tokio::test]
async fn the_mark_price_stream_shows_the_next_funding_time() {
    let sim = sim(Duration::from_secs(1)).await;
    let mut ws = connect(&format!(
        "{}/market/ws/btcusdt@markPrice@1s",
        sim.venue_ws_url(Venue::UsdM)
    ))
    .await;
    let mut times = Vec::new();
    while times.len() < 3 {
        let update = next_json(&mut ws).await;
        if update.get("e") != Some(&json!("markPriceUpdate")) {
            continue;
        }
        let (e, t) = (update["E"].as_u64().unwrap(), update["T"].as_u64().unwrap());
        assert_eq!(t % 1000, 0, "{update}");
        assert!(e < t && t <= e + 1000, "T is the next funding: {update}");
        times.push(t);
    }
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    let fundings = sim.fundings(Venue::UsdM, "BTCUSDT");
    assert!(
        fundings.iter().any(|f| f.time == times[0]),
        "the time shown was funded at: {times:?} {fundings:?}"
    );
}
