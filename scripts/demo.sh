#!/usr/bin/env bash
# The demo: sets up, starts the emulator (Tushare personality, 200 requests/minute), backfills
# daily bars of 100 symbols (listed, delisted and suspended) from 2015 to 2024 into DuckDB and
# Parquet under ./demo-data/, prints the run report and a sample query, then runs the same plan
# again to show that nothing is landed twice. Stops the emulator it started. Each demo starts from
# an empty ./demo-data/, so the first run is always a real backfill.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

FINSYNC=build/release/finsync
EMULATOR=build/release/finsync-emulator
WS=demo-data
rm -rf "$WS"
RUNTIME=$(mktemp -d /tmp/finsync-demo.XXXXXX)
EMU_PID=

start_emulator() {
  rm -f "$RUNTIME/port"
  "$EMULATOR" serve --personality tushare --port 0 --port-file "$RUNTIME/port" --seed 42 \
    --symbols 100 --token demo-token --per-minute 200 --audit-log "$RUNTIME/audit.jsonl" \
    >"$RUNTIME/emulator.log" 2>&1 &
  EMU_PID=$!
  for _ in $(seq 1 100); do
    [[ -s "$RUNTIME/port" ]] && break
    sleep 0.1
  done
  [[ -s "$RUNTIME/port" ]] || { cat "$RUNTIME/emulator.log"; exit 1; }
  export TUSHARE_URL="http://127.0.0.1:$(cat "$RUNTIME/port")"
}
stop_emulator() {
  if [[ -n "$EMU_PID" ]]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
  EMU_PID=
}
trap 'stop_emulator; rm -rf "$RUNTIME"' EXIT

export TUSHARE_TOKEN=demo-token
mkdir -p "$WS/plans"
if [[ ! -f "$WS/finsync.yaml" ]]; then
  cat >"$WS/finsync.yaml" <<'YAML'
# Demo workspace: the DuckDB store (finsync.duckdb) and the Parquet files live right here.
data_dir: .
state: { kind: sqlite, path: .finsync/state.db }
YAML
fi
cp examples/tushare-daily.yaml "$WS/plans/tushare-daily.yaml"

echo "== starting the emulator (tushare, 100 symbols, 200 requests/minute)"
start_emulator
echo "== first run: backfill 2015-01-01 .. 2024-12-31"
"$FINSYNC" -w "$WS" run tushare-daily
echo
echo "== sample query over the DuckDB store"
"$FINSYNC" -w "$WS" query "SELECT ts_code, count(*) AS bars, min(trade_date) AS first, max(trade_date) AS last, round(avg(close), 2) AS avg_close FROM tushare_daily GROUP BY ts_code ORDER BY bars DESC LIMIT 5"
echo "== the same rows, read from the Parquet files"
"$FINSYNC" -w "$WS" query "SELECT count(*) AS rows, count(DISTINCT ts_code) AS symbols, count(DISTINCT filename) AS files FROM read_parquet('tushare/daily/**/*.parquet', filename = true)"
echo
echo "== second run: everything is landed already"
"$FINSYNC" -w "$WS" run tushare-daily
stop_emulator
echo
echo "data: $WS/finsync.duckdb (table tushare_daily) and $WS/tushare/daily/ts_code=*/year=*/data.parquet"
