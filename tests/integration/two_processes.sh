#!/usr/bin/env bash
# Two `finsync run` of one plan at once into sinks that take one writer. The DuckDB store of the
# staging sinks (here parquet) holds one writer, so the second process waits for the file and
# says why; the sqlite sink could take a second connection, but the plan's writer lease makes the
# second process wait, and it says for whom. Either way the second then finds every task landed
# and sends no data request: every task is fetched exactly once, the rows equal the truth, and
# the shared quota ledger keeps the two processes together under the limit.
source "$(dirname "$0")/lib.sh"

SEED=41 SYMBOLS=8 RATE=8
start_emulator emu --seed $SEED --symbols $SYMBOLS --per-minute $RATE --minute-seconds 1
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"
daily() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

# two_runs KIND: runs the plan of workspace KIND twice at once; the pids in A and B.
two_runs() {
  local ws="$WORK/$1" start
  new_workspace "$ws"
  tushare_limit "$ws" "{ scope: account, limit: $RATE, per: 1s }"
  write_plan "$ws/plans/two.yaml" two "$1" 2016-01-01 2016-12-31 "split: { window: 1m }"
  start=$(daily)
  "$FINSYNC" -w "$ws" run two >"$ws/a.out" 2>"$ws/a.err" &
  A=$!
  for _ in $(seq 1 300); do [[ $(($(daily) - start)) -ge 5 ]] && break; sleep 0.1; done
  "$FINSYNC" -w "$ws" run two >"$ws/b.out" 2>"$ws/b.err" &
  B=$!
  wait "$A" || fail "$1: first run exited $?: $(tail -3 "$ws/a.err")"
  wait "$B" || fail "$1: second run exited $?: $(tail -3 "$ws/b.err")"
  grep -q "nothing new" "$ws/b.out" || fail "$1: the second run fetched something: $(cat "$ws/b.out")"
  [[ $(grep -c "waiting: " "$ws/b.err") == 1 ]] || fail "$1: the second run did not say once why it waits: $(head -5 "$ws/b.err")"
}

two_runs parquet
grep -Eq "waiting: .*the DuckDB store .* is in use by another finsync process \(pid $A, " "$WORK/parquet/b.err" ||
  fail "parquet: the second run did not say why it waits: $(head -5 "$WORK/parquet/b.err")"
canonical_from :memory: "read_parquet('$WORK/parquet/data/two/**/*.parquet', hive_partitioning = true)" >"$WORK/parquet.csv"
diff -q "$WORK/truth.csv" "$WORK/parquet.csv" >/dev/null || fail "parquet: landed rows differ from truth"

two_runs sqlite
grep -Eq "waiting: plan two is being run by another finsync process \([^:]+:$A:[^)]*, lease until [-0-9]+ [:0-9]+ UTC\) and the sqlite sink takes one writer" "$WORK/sqlite/b.err" ||
  fail "sqlite: the second run did not say why it waits: $(head -5 "$WORK/sqlite/b.err")"
canonical_sqlite "$WORK/sqlite/data/two.sqlite" two >"$WORK/sqlite.csv"
diff -q "$WORK/truth.csv" "$WORK/sqlite.csv" >/dev/null || fail "sqlite: landed rows differ from truth"

sent=$(daily)
distinct=$(grep '"api_name":"daily"' "$emu_AUDIT" | grep -o '"params":{[^}]*}' | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' ')
assert_eq "2 " "$distinct" "times each task was requested (once per sink)"
grep -q '"outcome":"rate_limited' "$emu_AUDIT" && fail "the emulator refused a request"
echo "two_processes: ok ($sent daily requests, each task once per sink)"
