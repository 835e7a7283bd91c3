#!/usr/bin/env bash
# `finsync query` reads the DuckDB store and the landed files; while a run holds the store it
# says so clearly instead of crashing.
source "$(dirname "$0")/lib.sh"

start_emulator emu --seed 8 --symbols 5
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/q.yaml" q parquet 2016-01-01 2016-12-31
"$FINSYNC" -w "$WS" run q >/dev/null 2>"$WORK/run.err" || fail "run exited $?"
truth_rows=$(($("$EMULATOR" truth --api daily --seed 8 --symbols 5 --start 20160101 --end 20161231 | wc -l) - 1))

"$FINSYNC" -w "$WS" query "SELECT count(*) AS n FROM q" >"$WORK/q1.out"
assert_eq "$truth_rows" "$(sed -n 3p "$WORK/q1.out" | tr -dc 0-9)" "rows in the store"
"$FINSYNC" -w "$WS" query "SELECT count(*) AS n FROM read_parquet('q/**/*.parquet')" >"$WORK/q2.out"
assert_eq "$truth_rows" "$(sed -n 3p "$WORK/q2.out" | tr -dc 0-9)" "rows in the parquet files"
set +e
"$FINSYNC" -w "$WS" query "SELECT nope FROM q" >/dev/null 2>"$WORK/bad.err"
rc=$?
set -e
assert_eq 78 "$rc" "exit code of a bad query"
grep -q 'query failed: .*nope' "$WORK/bad.err" || fail "bad query message: $(cat "$WORK/bad.err")"

# A slow run holds the store; a query meanwhile gets a clear message.
start_emulator slow --seed 8 --symbols 5 --latency-ms 300
write_plan "$WS/plans/slow.yaml" slow duckdb 2016-01-01 2016-12-31 "split: { window: 1m }"
TUSHARE_URL="http://127.0.0.1:$slow_PORT" "$FINSYNC" -w "$WS" run slow >/dev/null 2>"$WORK/slow.err" &
pid=$!
for _ in $(seq 1 100); do
  grep -q '"api_name":"daily"' "$slow_AUDIT" 2>/dev/null && break
  sleep 0.1
done
set +e
"$FINSYNC" -w "$WS" query "SELECT count(*) FROM q" >/dev/null 2>"$WORK/locked.err"
rc=$?
set -e
kill -INT $pid
wait $pid || true
assert_eq 1 "$rc" "exit code of a query while a run holds the store"
grep -q "is in use by another finsync process" "$WORK/locked.err" || fail "lock message: $(cat "$WORK/locked.err")"
echo "query: ok"
