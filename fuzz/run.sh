#!/usr/bin/env bash
# Run every fuzz target (or those named) for a fixed time each; exit 1 if any
# finds a crash, a hang (an input taking over 10 s) or an out-of-memory.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, all targets)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Builds in fuzz/target; new inputs go to fuzz/corpus/<target>/ (seeded from
# fuzz/seeds/<target>/), failing inputs to fuzz/artifacts/<target>/, logs to
# fuzz/artifacts/logs/.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
secs="${1:-60}"
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(frame_decode stream_name control sim_request); fi
toolchain=()
if command -v rustup >/dev/null && [ -z "${RUSTUP_TOOLCHAIN:-}" ]; then toolchain=(+nightly); fi
fuzz=(nice -n 19 cargo "${toolchain[@]}" fuzz)

"${fuzz[@]}" build --target-dir "$here/target" || exit 2
mkdir -p artifacts/logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${secs}s"
    "${fuzz[@]}" run --target-dir "$here/target" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 >"artifacts/logs/$t.log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs' "artifacts/logs/$t.log" | sed "s/^/   $t: /"
    if [ $rc -ne 0 ]; then
        failed+=("$t")
        grep -E '^==[0-9]+== ERROR|panicked at|^SUMMARY|Test unit written to' "artifacts/logs/$t.log" | sed "s/^/   $t: /"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (logs in fuzz/artifacts/logs/, inputs in fuzz/artifacts/<target>/)"
    exit 1
fi
echo "ok: ${targets[*]}, ${secs}s each"
