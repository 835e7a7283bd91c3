#!/usr/bin/env bash
# replace: partition into a staging sink (parquet, partition_by [ts_code, year]): a backfill
# lands exactly the truth; then one task is fetched again (`finsync retry --task`). Its landing
# deletes the rows the task owns first — a bar planted in its window that the vendor does not
# have disappears — and leaves every other row alone: a value changed by hand in another symbol's
# rows is still there in the staging table. Only the one file holding the task's rows is
# rewritten (new inode); every other file keeps its inode, and the files equal the truth.
source "$(dirname "$0")/lib.sh"

start_emulator emu --seed 12 --symbols 4
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 12 --symbols 4 --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/rp.yaml" rp parquet 2015-01-01 2016-12-31 "split: { window: 6m }"
sed -i 's/^sink: {\(.*\) }$/sink: {\1, mode: replace, replace: partition }/' "$WS/plans/rp.yaml"
grep -q "replace: partition }" "$WS/plans/rp.yaml" || fail "plan not written: $(cat "$WS/plans/rp.yaml")"
DB="$WS/data/finsync.duckdb"
FILES="read_parquet('$WS/data/rp/**/*.parquet', hive_partitioning = true)"

"$FINSYNC" -w "$WS" run rp >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
canonical_from :memory: "$FILES" >"$WORK/files1.csv"
diff -q "$WORK/truth.csv" "$WORK/files1.csv" >/dev/null || fail "files differ from truth: $(diff "$WORK/truth.csv" "$WORK/files1.csv" | head -5)"
files=$(find "$WS/data/rp" -type f -name data.parquet | wc -l)
assert_eq 8 "$files" "files (4 symbols x 2 years)"

# The task of the first symbol's first half of 2015, and another symbol's row.
sym=$("$DUCKDB_READ" "$DB" "SELECT min(ts_code) FROM rp" | tail -1)
other=$("$DUCKDB_READ" "$DB" "SELECT max(ts_code) FROM rp" | tail -1)
task=$("$DUCKDB_READ" "$DB" "SELECT task_id FROM _finsync_landed WHERE task_id LIKE 'rp/$sym/%' AND \"window\" LIKE '201501%'" | tail -1)
window=$("$DUCKDB_READ" "$DB" "SELECT \"window\" FROM _finsync_landed WHERE task_id = '$task'" | tail -1)
[[ $task == rp/* && $window == 201501*-2015* ]] || fail "no task for $sym from January 2015: '$task' '$window'"
first="${window:0:4}-${window:4:2}-${window:6:2}" last="${window:9:4}-${window:13:2}-${window:15:2}"
# A day inside the window on which the vendor has no bar for $sym (a weekend).
planted=$("$DUCKDB_READ" "$DB" "SELECT CAST(d AS DATE) FROM generate_series(DATE '$first', DATE '$last', INTERVAL 1 DAY) t(d) WHERE CAST(d AS DATE) NOT IN (SELECT trade_date FROM rp WHERE ts_code = '$sym') ORDER BY d LIMIT 1" | tail -1)
[[ $planted == 2015-* ]] || fail "no free day in $sym's window: '$planted'"
changed=$("$DUCKDB_READ" "$DB" "SELECT trade_date FROM rp WHERE ts_code = '$other' ORDER BY trade_date LIMIT 1" | tail -1)
# duckdb_read opens a file read-only; attached to an in-memory instance it can write.
"$DUCKDB_READ" :memory: "ATTACH '$DB' AS s; INSERT INTO s.rp SELECT * REPLACE (DATE '$planted' AS trade_date) FROM s.rp WHERE ts_code = '$sym' LIMIT 1; UPDATE s.rp SET close = -1 WHERE ts_code = '$other' AND trade_date = '$changed'" >/dev/null
assert_eq $((TRUTH_ROWS + 1)) "$("$DUCKDB_READ" "$DB" "SELECT count(*) FROM rp" | tail -1)" "staged rows with the planted bar"

find "$WS/data/rp" -type f -name data.parquet -printf '%i %P\n' | sort -k2 >"$WORK/inodes1"
before=$(daily_requests)
"$FINSYNC" -w "$WS" retry rp --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run rp >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run2.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"

# The staging table: the planted bar is gone, the other symbol's changed value is still there.
canonical_from "$DB" rp >"$WORK/staged.csv"
assert_eq 1 "$(diff "$WORK/truth.csv" "$WORK/staged.csv" | grep -c '^>')" "staged rows that differ from the truth"
grep -q "^$other,$changed,.*,-1.00,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*\$" "$WORK/staged.csv" ||
  fail "the other symbol's changed row: $(diff "$WORK/truth.csv" "$WORK/staged.csv")"
assert_eq "$TRUTH_ROWS" "$("$DUCKDB_READ" "$DB" "SELECT count(*) FROM rp" | tail -1)" "staged rows after the replace"
# The files: exactly the truth (the other symbol's file was not rewritten); one new inode.
canonical_from :memory: "$FILES" >"$WORK/files2.csv"
diff -q "$WORK/truth.csv" "$WORK/files2.csv" >/dev/null || fail "files differ from truth after the replace: $(diff "$WORK/truth.csv" "$WORK/files2.csv" | head -5)"
find "$WS/data/rp" -type f -name data.parquet -printf '%i %P\n' | sort -k2 >"$WORK/inodes2"
assert_eq "ts_code=${sym}/year=2015/data.parquet" "$(diff "$WORK/inodes1" "$WORK/inodes2" | sed -n 's/^> [0-9]* //p')" "files rewritten"
echo "sink_replace_partition: ok ($TRUTH_ROWS rows; task $task re-landed: planted $planted gone, $other $changed kept, 1 of $files files rewritten)"
