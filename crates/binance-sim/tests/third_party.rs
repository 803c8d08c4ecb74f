//! Unmodified third-party clients against the simulator, pointed at it by
//! their URL settings alone, as users point their bots: "real clients work"
//! is a test, not a hope.
//!
//! python-binance lives in `target/pydeps` (`BNWS_PYDEPS` names another
//! folder): `.ci/run` installs it there, and this test does when it is
//! missing, so `cargo test --workspace` works on a fresh machine.

use binance_sim::cli::{demo_account, DEMO_API_KEY, DEMO_SECRET};
use binance_sim::{Sim, SimConfig};

/// The python-binance version run (the latest when this test was written).
const PYTHON_BINANCE: &str = "python-binance==1.0.37";

/// Where python-binance and its dependencies are installed.
fn pydeps() -> String {
    std::env::var("BNWS_PYDEPS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/pydeps").into())
}

/// Install python-binance into [`pydeps`] unless it is there.
fn ensure_python_binance() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import binance"])
        .env("PYTHONPATH", pydeps())
        .output()
        .is_ok_and(|o| o.status.success());
    if importable {
        return;
    }
    let installed = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-warn-conflicts", "--target", &pydeps(), PYTHON_BINANCE])
        .status()
        .expect("python3 runs");
    assert!(
        installed.success(),
        "cannot install {PYTHON_BINANCE} into {}: python3 -m pip install --target {} {PYTHON_BINANCE}",
        pydeps(),
        pydeps()
    );
}

/// Run `script` (in `tests/python`) with `args` under python3, with
/// python-binance importable (installed first if it is missing).
async fn python(script: &str, args: Vec<String>) -> std::process::Output {
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        ensure_python_binance();
        std::process::Command::new("python3")
            .arg(script)
            .args(args)
            .env("PYTHONPATH", pydeps())
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'binance'"),
        "python-binance is not installed in {}: python3 -m pip install --target target/pydeps {PYTHON_BINANCE}",
        pydeps()
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_binance_works_by_its_url_settings_alone() {
    let sim = Sim::start(SimConfig {
        accounts: vec![demo_account()],
        ..SimConfig::default()
    })
    .await
    .expect("sim starts");
    let addr = sim.addr().to_string();
    let output = python(
        "python_binance.py",
        vec![addr, DEMO_API_KEY.into(), DEMO_SECRET.into()],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every check ran: the REST calls, each socket, the user socket.
    for check in [
        "order_book",
        "market_order",
        "trade_socket",
        "depth_socket_diff",
        "user_socket",
    ] {
        assert!(
            stdout.contains(&format!("ok {check}\n")),
            "{check}: {stdout}"
        );
    }
}

/// python-binance's futures sockets (every one it has), its futures REST
/// calls and its `FuturesDepthCacheManager`, pointed at the simulator's
/// USD-M and COIN-M ports by `FSTREAM_URL`, `DSTREAM_URL`, `FUTURES_URL` and
/// `FUTURES_COIN_URL` alone. Every message it received is decoded here by
/// the futures decoder: none malformed, none of an unknown type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_binance_futures_work_by_their_url_settings_alone() {
    use binance_types::futures::{decode_futures, FuturesEvent};
    use binance_types::venue::Venue;
    let sim = Sim::start(SimConfig::default()).await.expect("sim starts");
    let host = |venue| {
        sim.venue_ws_url(venue)
            .trim_start_matches("ws://")
            .to_owned()
    };
    let (spot, usdm, coinm) = (host(Venue::Spot), host(Venue::UsdM), host(Venue::CoinM));
    let output = python("python_binance_futures.py", vec![spot, usdm, coinm]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let checks: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("msg ")).collect();
    println!("{}", checks.join("\n"));
    assert!(output.status.success(), "{}\n{stderr}", checks.join("\n"));
    let sockets = [
        "aggtrade_futures_socket",
        "aggtrade_futures_socket_coinm",
        "kline_futures_socket",
        "kline_futures_socket_coinm",
        "symbol_mark_price_socket",
        "symbol_mark_price_socket_coinm",
        "all_mark_price_socket",
        "futures_depth_socket",
        "futures_depth_socket_coinm",
        "futures_rpi_depth_socket",
        "symbol_ticker_futures_socket",
        "individual_symbol_ticker_futures_socket",
        "all_ticker_futures_socket",
        "futures_ticker_socket",
        "futures_coin_ticker_socket",
        "index_price_socket",
        "futures_multiplex_socket",
    ];
    // A gap is what the script's KNOWN_GAPS says the simulator lacks (it
    // fails once a gap works, so the list stays true).
    let gaps: Vec<&str> = checks
        .iter()
        .filter_map(|l| l.strip_prefix("gap "))
        .filter_map(|l| l.split(':').next())
        .collect();
    for check in sockets.iter().chain(&[
        "futures_order_book",
        "futures_coin_order_book",
        "futures_depth_cache_manager",
    ]) {
        assert!(
            stdout.contains(&format!("ok {check}\n")) || gaps.contains(check),
            "{check}: {stdout}"
        );
    }
    // Two messages a socket, each well-formed by our own decoder.
    let mut decoded = 0;
    for line in stdout.lines().filter_map(|l| l.strip_prefix("msg ")) {
        let (socket, json) = line.split_once(' ').unwrap();
        let frame = decode_futures(json.as_bytes())
            .unwrap_or_else(|e| panic!("{socket}: not a futures frame: {e}: {json}"));
        assert!(
            !matches!(frame.event, FuturesEvent::Unknown(_)),
            "{socket}: an unknown event: {json}"
        );
        decoded += 1;
    }
    assert_eq!(decoded, 2 * (sockets.len() - gaps.len()), "{gaps:?}");
}
