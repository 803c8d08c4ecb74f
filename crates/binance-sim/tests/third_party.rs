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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_binance_works_by_its_url_settings_alone() {
    let sim = Sim::start(SimConfig {
        accounts: vec![demo_account()],
        ..SimConfig::default()
    })
    .await
    .expect("sim starts");
    let addr = sim.addr().to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/python_binance.py"
    );
    let output = tokio::task::spawn_blocking(move || {
        ensure_python_binance();
        std::process::Command::new("python3")
            .args([script, &addr, DEMO_API_KEY, DEMO_SECRET])
            .env("PYTHONPATH", pydeps())
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'binance'"),
        "python-binance is not installed in {}: python3 -m pip install --target target/pydeps python-binance==1.0.37",
        pydeps()
    );
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{stderr}");
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
