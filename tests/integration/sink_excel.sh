#!/usr/bin/env bash
# The excel sink end to end: a backfill lands exactly the emulator's truth in a workbook (read
# back with python3-openpyxl, field by field; numbers are number cells, dates date cells, a bold
# frozen header and an autofilter on every sheet), one sheet per symbol; a second run adds
# nothing and leaves the workbook alone; an upsert of a re-fetched task replaces a changed row;
# a small sheet_rows splits the table over continuation sheets; `finsync export` rebuilds a
# deleted workbook; `sinks check` reports the staging table and the workbook.
source "$(dirname "$0")/lib.sh"
xlsx_python

start_emulator emu --seed 7 --symbols 5
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 7 --symbols 5 --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
WS="$WORK/ws"
new_workspace "$WS"
EXCEL_OPTIONS="sheets: per_symbol" write_plan "$WS/plans/xl.yaml" xl excel 2015-01-01 2016-12-31 "split: { window: 6m }"
BOOK="$WS/data/xl.xlsx"
XLSX() { "$XLSX_PYTHON" "$SOURCE_DIR/tests/tools/xlsx_landed.py" "$@"; }
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }
same_as_truth() {  # WHAT
  XLSX "$BOOK" >"$WORK/landed.csv" || fail "$1: the workbook does not read back"
  diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
    fail "$1: workbook rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
}

"$FINSYNC" -w "$WS" run xl >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
same_as_truth "first run"
# One sheet per symbol, named by it, in symbol order, each with exactly that symbol's rows.
tail -n +2 "$WORK/truth.csv" | cut -d, -f1 | uniq -c | awk '{ print $2, $1 }' >"$WORK/sheets.want"
XLSX "$BOOK" --sheets >"$WORK/sheets.got"
diff -q "$WORK/sheets.want" "$WORK/sheets.got" >/dev/null ||
  fail "sheets: $(diff "$WORK/sheets.want" "$WORK/sheets.got" | head -5)"
assert_eq 5 "$(wc -l <"$WORK/sheets.got")" "sheets in the workbook"
assert_eq "" "$(find "$WS/data" -name '.xl.xlsx.tmp-*')" "temp files left"
assert_eq "$TRUTH_ROWS" "$("$DUCKDB_READ" "$WS/data/finsync.duckdb" 'SELECT sum("rows") FROM _finsync_landed' | tail -1)" "rows in the markers"
# One workbook written; its sheets are what the report counts as partitions.
grep -qx "  files          1 files rewritten for 5 partitions" "$WORK/run1.out" ||
  fail "the report does not count the workbook: $(cat "$WORK/run1.out")"

before=$(daily_requests)
stamp=$(stat -c '%i %Y' "$BOOK")
"$FINSYNC" -w "$WS" run xl >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
assert_eq "$before" "$(daily_requests)" "daily requests of the second run"
assert_eq "$stamp" "$(stat -c '%i %Y' "$BOOK")" "the workbook after a run that landed nothing (inode, mtime)"
same_as_truth "second run"

# A bar changed in the staging table (as a vendor correction would make it differ) shows in the
# exported workbook; fetching its task again upserts the vendor's row over it.
key=$("$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT ts_code || '|' || trade_date FROM xl ORDER BY ts_code, trade_date LIMIT 1 OFFSET 100" | tail -1)
sym=${key%|*} day=${key#*|}
# duckdb_read opens a file read-only; attached to an in-memory instance it can write.
"$DUCKDB_READ" :memory: "ATTACH '$WS/data/finsync.duckdb' AS s; UPDATE s.xl SET close = -1 WHERE ts_code = '$sym' AND trade_date = '$day'" >/dev/null
"$FINSYNC" -w "$WS" export xl >"$WORK/export1.out" 2>"$WORK/export1.err" || fail "export exited $?: $(cat "$WORK/export1.err")"
grep -qx "exported xl: 5 sheets" "$WORK/export1.out" || fail "export: $(cat "$WORK/export1.out")"
XLSX "$BOOK" >"$WORK/changed.csv"
assert_eq 1 "$(diff "$WORK/truth.csv" "$WORK/changed.csv" | grep -c '^>')" "rows changed in the exported workbook"
grep -q "^$sym,$day,.*,-1.00,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*\$" "$WORK/changed.csv" || fail "the changed row: $(diff "$WORK/truth.csv" "$WORK/changed.csv")"
task=$("$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT task_id FROM _finsync_landed WHERE task_id LIKE 'xl/$sym/%' AND substr(\"window\", 1, 8) <= '${day//-/}' AND substr(\"window\", 10, 8) >= '${day//-/}'" | tail -1)
[[ $task == xl/* ]] || fail "no task covers $key: $task"
"$FINSYNC" -w "$WS" retry xl --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run xl >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run3.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"
same_as_truth "after the upsert"

# export brings a deleted workbook back.
rm "$BOOK"
"$FINSYNC" -w "$WS" export xl >"$WORK/export2.out" 2>"$WORK/export2.err" || fail "export exited $?: $(cat "$WORK/export2.err")"
same_as_truth "export of a deleted workbook"

"$FINSYNC" -w "$WS" sinks check xl >"$WORK/check.out" 2>"$WORK/check.err" || fail "sinks check exited $?: $(cat "$WORK/check.err")"
grep -qx "sink excel $BOOK" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"
grep -qE "^  columns +match the plan's schema \(11 columns, primary key \(ts_code, trade_date\)\)$" "$WORK/check.out" ||
  fail "check: $(cat "$WORK/check.out")"
grep -qx "  note      the workbook exists" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"

# One sheet for the table, continued every 1000 rows.
WS2="$WORK/ws2"
new_workspace "$WS2"
EXCEL_OPTIONS="sheets: one, sheet_rows: 1000" write_plan "$WS2/plans/split.yaml" split excel 2015-01-01 2016-12-31 "split: { window: 1y }"
"$FINSYNC" -w "$WS2" run split >"$WORK/split.out" 2>"$WORK/split.err" || fail "split run exited $?: $(tail -3 "$WORK/split.err")"
BOOK="$WS2/data/split.xlsx"
same_as_truth "sheet_rows 1000"
full=$((TRUTH_ROWS / 1000)) rest=$((TRUTH_ROWS % 1000))
{
  echo "split 1000"
  for ((i = 2; i <= full; i++)); do echo "split ($i) 1000"; done
  [[ $rest -gt 0 ]] && echo "split ($((full + 1))) $rest"
} >"$WORK/split.want"
XLSX "$WS2/data/split.xlsx" --sheets >"$WORK/split.got"
diff -q "$WORK/split.want" "$WORK/split.got" >/dev/null || fail "split sheets: $(diff "$WORK/split.want" "$WORK/split.got")"

# export of a plan that does not land in a workbook is a clear error.
write_plan "$WS2/plans/db.yaml" db duckdb 2015-01-01 2015-01-31
rc=0
"$FINSYNC" -w "$WS2" export db >"$WORK/export3.out" 2>"$WORK/export3.err" || rc=$?
assert_eq 78 $rc "export of a duckdb plan"
grep -q "export builds workbooks: the plan's sink is not excel" "$WORK/export3.err" || fail "export: $(cat "$WORK/export3.err")"
echo "ok: excel sink ($TRUTH_ROWS rows exact, $(wc -l <"$WORK/split.got") sheets of 1000)"
