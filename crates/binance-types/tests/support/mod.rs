//! Where the shared ground truth lives.

use std::path::PathBuf;

/// `shared/` beside the repository (override with `BINANCE_SHARED_DIR`).
pub fn shared() -> PathBuf {
    if let Ok(dir) = std::env::var("BINANCE_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = here.join("../../../shared");
    assert!(
        dir.join("vectors").is_dir(),
        "shared/ not found at {}; set BINANCE_SHARED_DIR",
        dir.display()
    );
    dir
}

/// Every `.json` file in a directory (not recursive), sorted.
#[allow(dead_code)] // not every test binary reads vectors
pub fn json_files(dir: &str) -> Vec<PathBuf> {
    let dir = shared().join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    files
}
