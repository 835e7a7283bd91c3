#!/usr/bin/env bash
# The sqlite sink end to end: a backfill lands exactly the emulator's truth (read back with
# python3's sqlite3, compared field by field), with one _finsync_landed marker per task; a
# second run adds nothing; a row changed behind finsync's back is put right by an upsert of the
# re-fetched data; `finsync sinks check` reports a match and then the exact difference (exit 78).
source "$(dirname "$0")/lib.sh"

start_emulator emu --seed 7 --symbols 5
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 7 --symbols 5 --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/lite.yaml" lite sqlite 2015-01-01 2016-12-31 "split: { window: 6m }"
DB="$WS/data/lite.sqlite"
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print("\n".join("|".join(str(v) for v in row) for row in r))' "$DB" "$1"; }
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

"$FINSYNC" -w "$WS" run lite >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
canonical_sqlite "$DB" lite >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
assert_eq 0 "$(sql "SELECT count(*) - count(DISTINCT ts_code || trade_date) FROM lite")" "rows landed twice"
tasks=$(sql "SELECT count(DISTINCT task_id) FROM _finsync_landed")
[[ $tasks -ge 10 ]] || fail "only $tasks tasks landed"
assert_eq "$TRUTH_ROWS" "$(sql 'SELECT sum("rows") FROM _finsync_landed')" "rows in the markers"
grep -qE "^  sink +sqlite: [0-9]+ commits, 0 reconnects, 0 transactions retried$" "$WORK/run1.out" ||
  fail "the report has no sink line: $(cat "$WORK/run1.out")"

before=$(daily_requests)
"$FINSYNC" -w "$WS" run lite >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
assert_eq "$before" "$(daily_requests)" "daily requests of the second run"
assert_eq "$TRUTH_ROWS" "$(sql "SELECT count(*) FROM lite")" "rows after the second run"

# A bar changed in the table (as a vendor correction would make it differ): fetching its task
# again upserts the vendor's row over it, in place.
key=$(sql "SELECT ts_code || '|' || trade_date FROM lite ORDER BY ts_code, trade_date LIMIT 1 OFFSET 100")
sym=${key%|*} day=${key#*|}
sql "UPDATE lite SET close = -1, vol = NULL WHERE ts_code = '$sym' AND trade_date = '$day'" >/dev/null
assert_eq 1 "$(sql "SELECT count(*) FROM lite WHERE close = -1")" "the changed row"
task=$(sql "SELECT task_id FROM _finsync_landed WHERE task_id LIKE 'lite/$sym/%' AND substr(\"window\", 1, 8) <= '${day//-/}' AND substr(\"window\", 10, 8) >= '${day//-/}'")
[[ -n $task ]] || fail "no task covers $key"
"$FINSYNC" -w "$WS" retry lite --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run lite >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run3.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"
canonical_sqlite "$DB" lite >"$WORK/landed3.csv"
diff -q "$WORK/truth.csv" "$WORK/landed3.csv" >/dev/null ||
  fail "after the upsert: $(diff "$WORK/truth.csv" "$WORK/landed3.csv" | head -5)"

"$FINSYNC" -w "$WS" sinks check lite >"$WORK/check1.out" 2>"$WORK/check1.err" || fail "sinks check exited $?: $(cat "$WORK/check1.err")"
grep -q "^sink sqlite $DB\$" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  server +SQLite 3\." "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  columns +match the plan's schema \(11 columns, primary key \(ts_code, trade_date\)\)$" "$WORK/check1.out" ||
  fail "check: $(cat "$WORK/check1.out")"
sql "ALTER TABLE lite ADD COLUMN note TEXT NOT NULL DEFAULT ''" >/dev/null
rc=0
"$FINSYNC" -w "$WS" sinks check lite >"$WORK/check2.out" 2>"$WORK/check2.err" || rc=$?
assert_eq 78 $rc "sinks check exit code for a table that differs"
grep -qx "    extra column note TEXT NOT NULL (not in the plan's schema)" "$WORK/check2.out" ||
  fail "check: $(cat "$WORK/check2.out")"
rc=0
"$FINSYNC" -w "$WS" run lite >"$WORK/run4.out" 2>"$WORK/run4.err" || rc=$?
assert_eq 78 $rc "run exit code for a table that differs (schema_drift: fail)"
grep -q "table lite does not match the plan's schema (schema_drift: fail): extra column note TEXT NOT NULL" "$WORK/run4.err" ||
  fail "run: $(tail -3 "$WORK/run4.err")"
echo "ok: sqlite sink ($TRUTH_ROWS rows exact, $tasks tasks)"
