#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a bounded time each and prints one JSON line
# with libFuzzer's executions per target.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]    (default 60 s, every target)
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer=address); on a stable
# toolchain RUSTC_BOOTSTRAP=1 allows them. Installs cargo-fuzz when missing.
# New corpus entries stay in fuzz/corpus/<target>/ (only seed-* are committed);
# crashes are written to fuzz/artifacts/<target>/, logs to fuzz/logs/.
# CARGO_TARGET_DIR, when set, is used as cargo-fuzz's target folder.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(node_decode registry_block shard_header agent_config bm25_query)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
mkdir -p logs
summary=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="logs/$t.log"
  if ! cargo fuzz run ${CARGO_TARGET_DIR:+--target-dir "$CARGO_TARGET_DIR"} "$t" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    echo "fuzz target $t FAILED, see fuzz/$log and fuzz/artifacts/$t/" >&2
    status=1
  fi
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  summary+=("\"$t\":${runs:-0}")
done
(IFS=,; echo "{\"test\":\"cargo_fuzz\",\"seconds_per_target\":$secs,\"executions\":{${summary[*]}}}")
exit $status
