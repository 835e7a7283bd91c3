#!/usr/bin/env bash
# Editing a plan's range or universe adds tasks only for what is not covered yet; changing what
# it lands (endpoint, sink, write mode) is refused unless --replan. The resolved universe is
# stored with the plan: a resume does not ask for the symbol list again.
source "$(dirname "$0")/lib.sh"

SEED=6 SYMBOLS=8
start_emulator emu --seed $SEED --symbols $SYMBOLS
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
P="$WS/plans/edit.yaml"
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

write_plan "$P" edit parquet 2016-01-01 2016-06-30
"$FINSYNC" -w "$WS" run edit >"$WORK/r1.out" 2>"$WORK/r1.err" || fail "first run exited $?"
first=$(daily_requests)
universe_calls=$(grep -c '"api_name":"stock_basic"' "$emu_AUDIT")
assert_eq 3 "$universe_calls" "stock_basic calls (one per listing status)"

# Resume with the same plan: no universe call, no data request.
"$FINSYNC" -w "$WS" run edit >"$WORK/r2.out" 2>"$WORK/r2.err" || fail "second run exited $?"
assert_eq 3 "$(grep -c '"api_name":"stock_basic"' "$emu_AUDIT")" "stock_basic calls after a resume"
assert_eq "$first" "$(daily_requests)" "daily requests after a resume"

# A wider range: only the new half-year is requested, one task per symbol that trades then.
write_plan "$P" edit parquet 2016-01-01 2016-12-31
"$FINSYNC" -w "$WS" run edit >"$WORK/r3.out" 2>"$WORK/r3.err" || fail "widened run exited $?"
new_tasks=$(grep -o 'planned [0-9]* new tasks' "$WORK/r3.err" | tr -dc 0-9)
assert_eq "$new_tasks" "$(($(daily_requests) - first))" "daily requests for the widened range"
tail -n "$new_tasks" "$emu_AUDIT" | grep -q '"start_date":"2016010' && fail "the widened run fetched the old range again"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"
canonical_from :memory: "read_parquet('$WS/data/edit/**/*.parquet', hive_partitioning = true)" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null || fail "landed rows differ from truth"

# Changing the write mode is refused with a clear message...
sed -i 's/sink: { kind: parquet, path: edit, table: edit, partition_by: \[ts_code, year\] }/sink: { kind: parquet, path: edit, table: edit, partition_by: [ts_code, year], mode: replace }/' "$P"
grep -q "mode: replace" "$P" || fail "plan not edited"
set +e
"$FINSYNC" -w "$WS" run edit >"$WORK/r4.out" 2>"$WORK/r4.err"
rc=$?
set -e
assert_eq 78 "$rc" "exit code of a changed write mode"
grep -q "run again with --replan\|Run again with --replan" "$WORK/r4.err" || fail "message: $(cat "$WORK/r4.err")"
# ...and accepted with --replan, which does every task again into the new definition.
before_replan=$(daily_requests)
"$FINSYNC" -w "$WS" run edit --replan >"$WORK/r5.out" 2>"$WORK/r5.err" || fail "--replan run exited $?: $(tail -3 "$WORK/r5.err")"
tasks=$("$FINSYNC" -w "$WS" status edit | awk '$1 == "edit" { print $2 }')
assert_eq "$tasks" "$(($(daily_requests) - before_replan))" "daily requests of the --replan run"
canonical_from :memory: "read_parquet('$WS/data/edit/**/*.parquet', hive_partitioning = true)" >"$WORK/replaced.csv"
diff -q "$WORK/truth.csv" "$WORK/replaced.csv" >/dev/null || fail "rows after --replan differ from truth"
echo "plan_edit: ok"
