#!/usr/bin/env bash
# The clickhouse sink end to end against FINSYNC_TEST_CLICKHOUSE_URL (fails without it): a
# backfill lands exactly the emulator's truth (read back over HTTP with FINAL, compared field by
# field) into a ReplacingMergeTree ordered by the key, with one marker per task; a second run
# adds nothing; a row changed in the table is put right by an upsert of its re-fetched task (the
# old version is still in its part until a merge: FINAL reads the new one); `finsync sinks
# check` reports the server, the table and a match, then the exact difference (exit 78); a
# wrong password exits 77 with an error that names the sink kind and the host but not the
# password; a date before 1970 is refused before anything is sent.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_CLICKHOUSE_URL:-}" ]] || fail "FINSYNC_TEST_CLICKHOUSE_URL is unset: this test needs a ClickHouse server (scripts/test.sh starts one)"
DB="finsync_it_$$_$RANDOM"
ch_cleanup() {
  local rc=$?
  drop_ch_dbs
  (exit $rc)
  cleanup
}
trap ch_cleanup EXIT

start_emulator emu --seed 8 --symbols 6
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 8 --symbols 6 --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }
hostport=${FINSYNC_TEST_CLICKHOUSE_URL#*@}
hostport=${hostport%%/*}

use_ch_db "$DB"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/ch.yaml" ch clickhouse 2015-01-01 2016-12-31 "split: { window: 6m }"
"$FINSYNC" -w "$WS" run ch >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
canonical_ch "$DB" ch >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
assert_eq "$TRUTH_ROWS" "$(ch_q "SELECT count() FROM ch" "$DB")" "rows in the table (no duplicates, even without FINAL)"
assert_eq "ts_code String|trade_date Date|open Nullable(Float64)|vol Nullable(Float64)" \
  "$(ch_q "SELECT name, type FROM system.columns WHERE database = '$DB' AND table = 'ch' AND name IN ('ts_code', 'trade_date', 'open', 'vol')" | tr '\t' ' ' | paste -sd '|')" \
  "column types"
assert_eq "ReplacingMergeTree	ts_code, trade_date	tuple()" \
  "$(ch_q "SELECT engine, sorting_key, partition_key FROM system.tables WHERE database = '$DB' AND name = 'ch'")" "engine, order key, partition key"
tasks=$(ch_q "SELECT count(DISTINCT task_id) FROM _finsync_landed FINAL" "$DB")
[[ $tasks -ge 12 ]] || fail "only $tasks tasks landed"
assert_eq "$TRUTH_ROWS" "$(ch_q "SELECT sum(\`rows\`) FROM _finsync_landed FINAL" "$DB")" "rows in the markers"
grep -qE "^  sink +clickhouse: [0-9]+ commits, 0 reconnects, 0 transactions retried$" "$WORK/run1.out" ||
  fail "the report has no sink line: $(cat "$WORK/run1.out")"

before=$(daily_requests)
"$FINSYNC" -w "$WS" run ch >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
assert_eq "$before" "$(daily_requests)" "daily requests of the second run"
assert_eq "$TRUTH_ROWS" "$(ch_q "SELECT count() FROM ch" "$DB")" "rows after the second run"

# A bar changed in the table (a newer row with the same key: FINAL reads it): fetching its task
# again lands the vendor's row after it, and that one wins.
key=$(ch_q "SELECT ts_code, toString(trade_date) FROM ch ORDER BY ts_code, trade_date LIMIT 1 OFFSET 200" "$DB")
sym=${key%%$'\t'*} day=${key#*$'\t'}
ch_q "INSERT INTO ch SELECT ts_code, trade_date, open, high, low, -1, pre_close, change, pct_chg, NULL, amount FROM ch WHERE ts_code = '$sym' AND trade_date = '$day'" "$DB"
assert_eq "-1	\\N" "$(ch_q "SELECT close, vol FROM ch FINAL WHERE ts_code = '$sym' AND trade_date = '$day'" "$DB")" "the changed row, read with FINAL"
task=$(ch_q "SELECT task_id FROM _finsync_landed FINAL WHERE task_id LIKE 'ch/$sym/%' AND substring(\`window\`, 1, 8) <= '${day//-/}' AND substring(\`window\`, 10, 8) >= '${day//-/}'" "$DB")
[[ -n $task ]] || fail "no task covers $key"
"$FINSYNC" -w "$WS" retry ch --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run ch >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run3.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"
canonical_ch "$DB" ch >"$WORK/landed3.csv"
diff -q "$WORK/truth.csv" "$WORK/landed3.csv" >/dev/null ||
  fail "after the upsert: $(diff "$WORK/truth.csv" "$WORK/landed3.csv" | head -5)"

"$FINSYNC" -w "$WS" sinks check ch >"$WORK/check1.out" 2>"$WORK/check1.err" || fail "sinks check exited $?: $(cat "$WORK/check1.err")"
grep -qx "sink clickhouse default@$hostport/$DB" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  server +ClickHouse [0-9]+\.[0-9]+\.[0-9]+" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  table +ch exists$" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  columns +match the plan's schema \(11 columns, primary key \(ts_code, trade_date\)\)$" "$WORK/check1.out" ||
  fail "check: $(cat "$WORK/check1.out")"
ch_q "ALTER TABLE ch MODIFY COLUMN vol Nullable(Float32), DROP COLUMN amount" "$DB"
rc=0
"$FINSYNC" -w "$WS" sinks check ch >"$WORK/check2.out" 2>"$WORK/check2.err" || rc=$?
assert_eq 78 $rc "sinks check exit code for a table that differs"
grep -qx "    missing column amount Float64" "$WORK/check2.out" || fail "check: $(cat "$WORK/check2.out")"
grep -qx "    column vol: expected Float64, found Float32" "$WORK/check2.out" || fail "check: $(cat "$WORK/check2.out")"
ch_q "DROP TABLE ch" "$DB"
"$FINSYNC" -w "$WS" sinks check ch >"$WORK/check3.out" 2>&1 || fail "sinks check without a table exited $?"
grep -qE "^  table +ch does not exist: the first run creates it$" "$WORK/check3.out" || fail "check: $(cat "$WORK/check3.out")"

# The test server's user `default` has no password: any password is a wrong one.
export FINSYNC_IT_CH_PASSWORD="Wr0ng-it-secret-$RANDOM$RANDOM"
WS2="$WORK/ws2"
new_workspace "$WS2"
cat >"$WS2/plans/pw.yaml" <<YAML
name: pw
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2015-01-01, end: 2015-03-31 }
sink: { kind: clickhouse, url: "http://default@$hostport/?database=$DB", password: "\${FINSYNC_IT_CH_PASSWORD}" }
YAML
for cmd in "run pw" "sinks check pw"; do
  rc=0
  "$FINSYNC" -w "$WS2" $cmd >"$WORK/pw.out" 2>"$WORK/pw.err" || rc=$?
  assert_eq 77 "$rc" "exit code of '$cmd' with a wrong password"
  grep -q "clickhouse sink default@$hostport/$DB" "$WORK/pw.err" || fail "$cmd: the error does not name the sink and host: $(cat "$WORK/pw.err")"
  grep -q "Wrong password for user default" "$WORK/pw.err" || fail "$cmd: the error does not say why: $(cat "$WORK/pw.err")"
  grep -qF "$FINSYNC_IT_CH_PASSWORD" "$WORK/pw.err" "$WORK/pw.out" && fail "$cmd: the password was printed"
done
echo "ok: clickhouse sink ($TRUTH_ROWS rows exact, $tasks tasks)"
