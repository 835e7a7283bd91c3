#!/usr/bin/env bash
# `finsync verify` against a DuckDB sink, the emulator's truth and audit log as the referee:
# after a complete backfill the only gaps are the provider's own (suspended days); rows the test
# deletes are reported as a gap and a row it adds on a closed day as extra, exit 3; `--fix`
# queues one task per gap and the next run sends exactly those requests; afterwards the data
# equals the truth again and verify exits 0, the suspended days confirmed empty. Parquet and
# Excel plans' gaps are read back through their staging table.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/verify_lib.sh"

SEED=7 SYMBOLS=8 START=20150101 END=20150630
start_emulator emu --seed $SEED --symbols $SYMBOLS
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/hist.yaml" hist duckdb 2015-01-01 2015-06-30
DB="$WS/data/finsync.duckdb"
"$FINSYNC" -w "$WS" run hist >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"

"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start $START --end $END >"$WORK/truth.csv"
"$EMULATOR" truth --api stock_basic --seed $SEED --symbols $SYMBOLS >"$WORK/basic.csv"
"$EMULATOR" truth --api trade_cal --start $START --end $END >"$WORK/cal.csv"
canonical_from "$DB" hist >"$WORK/db.csv"
diff -q "$WORK/truth.csv" "$WORK/db.csv" >/dev/null || fail "the backfill differs from truth"

# The punch: rows of the symbol with the most rows on three consecutive trading days.
read -r SYM P0 P1 P2 < <(pick_punch)
PUNCH=("$P0" "$P1" "$P2")
[[ -n $P2 ]] || fail "no three consecutive rows to delete"
"$DUCKDB_READ" --write "$DB" "DELETE FROM hist WHERE ts_code = '$SYM' AND trade_date BETWEEN '${PUNCH[0]}' AND '${PUNCH[2]}'" >/dev/null
# An extra row: the first row of the symbol copied to the first Saturday of the range.
"$DUCKDB_READ" --write "$DB" "INSERT INTO hist SELECT * REPLACE (DATE '2015-01-03' AS trade_date) FROM hist WHERE ts_code = '$SYM' ORDER BY trade_date LIMIT 1" >/dev/null

set +e
"$FINSYNC" -w "$WS" verify hist >"$WORK/verify1.out" 2>"$WORK/verify1.err"
rc=$?
set -e
assert_eq 3 $rc "exit code of verify with a gap"
expected_gaps "${PUNCH[@]/#/$SYM }" >"$WORK/want_gaps.txt"
reported_gaps "$WORK/verify1.out" >"$WORK/got_gaps.txt"
diff -q "$WORK/want_gaps.txt" "$WORK/got_gaps.txt" >/dev/null ||
  fail "gaps: $(diff "$WORK/want_gaps.txt" "$WORK/got_gaps.txt" | head -5)"
grep -qE "^  $SYM  gap    ${PUNCH[0]}\.\.${PUNCH[2]} \(3 trading days\)$" "$WORK/verify1.out" ||
  fail "the punched gap is not one line: $(cat "$WORK/verify1.out")"
grep -qE "^  $SYM  extra  2015-01-03$" "$WORK/verify1.out" || fail "the extra row is not reported: $(cat "$WORK/verify1.out")"
GAP_DAYS=$(wc -l <"$WORK/want_gaps.txt")
grep -qx "$GAP_DAYS gap days, 1 extra rows" "$WORK/verify1.out" || fail "summary: $(tail -1 "$WORK/verify1.out")"
"$DUCKDB_READ" --write "$DB" "DELETE FROM hist WHERE trade_date = DATE '2015-01-03'" >/dev/null

# --fix queues one task per gap line; the run sends exactly those requests.
set +e
"$FINSYNC" -w "$WS" verify hist --fix >"$WORK/verify2.out" 2>"$WORK/verify2.err"
rc=$?
set -e
assert_eq 3 $rc "exit code of verify --fix"
sed -nE 's/^  (\S+)  gap    ([0-9-]+)(\.\.([0-9-]+))? .*/\1 \2 \4/p' "$WORK/verify2.out" |
  awk '{ b = $3 == "" ? $2 : $3; gsub(/-/, "", $2); gsub(/-/, "", b); print $1, $2, b }' | sort >"$WORK/want_requests.txt"
N=$(wc -l <"$WORK/want_requests.txt")
grep -q "queued $N tasks for the gaps" "$WORK/verify2.out" || fail "verify --fix: $(cat "$WORK/verify2.out")"
lines=$(wc -l <"$emu_AUDIT")
"$FINSYNC" -w "$WS" run hist >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "run after --fix exited $?: $(tail -5 "$WORK/run2.err")"
tail -n +$((lines + 1)) "$emu_AUDIT" | grep '"api_name":"daily"' |
  sed -E 's/.*"end_date":"([0-9]+)","start_date":"([0-9]+)","ts_code":"([^"]+)".*/\3 \2 \1/' | sort >"$WORK/got_requests.txt"
diff -q "$WORK/want_requests.txt" "$WORK/got_requests.txt" >/dev/null ||
  fail "requests after --fix: $(diff "$WORK/want_requests.txt" "$WORK/got_requests.txt" | head -5)"
canonical_from "$DB" hist >"$WORK/db2.csv"
diff -q "$WORK/truth.csv" "$WORK/db2.csv" >/dev/null || fail "after the fix the data differs from truth"

"$FINSYNC" -w "$WS" verify hist >"$WORK/verify3.out" 2>"$WORK/verify3.err" || fail "verify after the fix exited $?: $(cat "$WORK/verify3.out")"
SUSPENDED=$((GAP_DAYS - 3))
if ((SUSPENDED > 0)); then
  grep -qx "0 gap days, 0 extra rows; $SUSPENDED days fetched again by verify --fix and empty at the provider (suspensions)" "$WORK/verify3.out" ||
    fail "final verify: $(tail -1 "$WORK/verify3.out")"
else
  grep -qx "0 gap days, 0 extra rows" "$WORK/verify3.out" || fail "final verify: $(tail -1 "$WORK/verify3.out")"
fi
# Parquet and Excel sinks are read back through their staging table: the same gaps, the
# provider's only.
for kind in parquet excel; do
  write_plan "$WS/plans/h$kind.yaml" "h$kind" $kind 2015-01-01 2015-06-30
  "$FINSYNC" -w "$WS" run "h$kind" >"$WORK/run-$kind.out" 2>"$WORK/run-$kind.err" ||
    fail "$kind run exited $?: $(tail -5 "$WORK/run-$kind.err")"
  set +e
  "$FINSYNC" -w "$WS" verify "h$kind" >"$WORK/verify-$kind.out" 2>"$WORK/verify-$kind.err"
  rc=$?
  set -e
  assert_eq 3 $rc "exit code of verify on the $kind plan"
  expected_gaps >"$WORK/want-$kind.txt"
  reported_gaps "$WORK/verify-$kind.out" >"$WORK/got-$kind.txt"
  diff -q "$WORK/want-$kind.txt" "$WORK/got-$kind.txt" >/dev/null ||
    fail "$kind gaps: $(diff "$WORK/want-$kind.txt" "$WORK/got-$kind.txt" | head -5)"
done
echo "verify: ok ($GAP_DAYS gap days of which $SUSPENDED suspended, $N fix requests)"
