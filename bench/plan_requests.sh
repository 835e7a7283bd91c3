#!/usr/bin/env bash
# Requests a first backfill needs: 10 years of daily bars of 5,000 symbols from the emulator's
# tushare personality, as the planner cuts it (the cheapest strategy) against the naive split
# of one symbol per request (symbol_window), both priced by `finsync plan estimate` in the same
# run (metadata requests only). Usage: bench/plan_requests.sh [SYMBOLS] [START] [END]
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${1:-5000} START=${2:-2015-01-01} END=${3:-2024-12-31}
FINSYNC=${FINSYNC:-build/release/finsync}
EMULATOR=${EMULATOR:-build/release/finsync-emulator}
W=$(mktemp -d /tmp/finsync-bench.XXXXXX)
trap 'kill $EMU 2>/dev/null || true; [[ -z "${KEEP:-}" ]] && rm -rf "$W"' EXIT

"$EMULATOR" serve --port 0 --port-file "$W/port" --seed 1 --symbols "$SYMBOLS" --token bench-token \
  --audit-log "$W/audit.jsonl" >/dev/null 2>&1 &
EMU=$!
for _ in $(seq 1 100); do [[ -s "$W/port" ]] && break; sleep 0.05; done
mkdir -p "$W/ws/plans"
echo "http: { timeout: 60s }" >"$W/ws/finsync.yaml"
cat >"$W/ws/plans/bench.yaml" <<YAML
name: bench
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: $START, end: $END }
sink: { kind: duckdb, table: bench }
YAML
export TUSHARE_URL="http://127.0.0.1:$(cat "$W/port")" TUSHARE_TOKEN=bench-token
t0=$(date +%s.%N)
"$FINSYNC" -w "$W/ws" --log-level warn plan estimate bench >"$W/estimate.out"
t1=$(date +%s.%N)
cat "$W/estimate.out"
daily=$(grep -c '"api_name":"daily"' "$W/audit.jsonl" || true)
[[ $daily == 0 ]] || { echo "the estimate sent $daily data requests" >&2; exit 1; }
chosen=$(awk '$1 == "split" && /<- chosen/ { print $3 }' "$W/estimate.out")
naive=$(awk '$1 == "split" && $2 == "symbol_window" { print $3 }' "$W/estimate.out")
awk -v c="$chosen" -v n="$naive" -v s="$SYMBOLS" -v a="$START" -v b="$END" -v t="$(echo "$t1 - $t0" | bc)" 'BEGIN {
  printf "%s symbols, %s..%s: planner %d requests, one symbol per request %d: %.2fx fewer (estimate took %.2f s)\n",
    s, a, b, c, n, n / c, t }'
