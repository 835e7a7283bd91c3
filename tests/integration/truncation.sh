#!/usr/bin/env bash
# Silent truncation: the emulator cuts daily answers at 500 rows like Tushare does at 6000. A
# window that comes back full is never landed: it is split and fetched again (visible in the
# audit log), and the result is exact.
source "$(dirname "$0")/lib.sh"

SEED=3 SYMBOLS=6 CAP=500
start_emulator emu --seed $SEED --symbols $SYMBOLS --row-cap $CAP
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
sed "s/max_rows_per_request: 6000/max_rows_per_request: $CAP/" "$SOURCE_DIR/providers/tushare.yaml" \
  >"$WS/providers/tushare.yaml"
# Windows of 10 years: far more than 500 trading days each, so the first answers are all cut.
write_plan "$WS/plans/trunc.yaml" trunc duckdb 2013-01-01 2016-12-31 "split: { window: 10y }"
"$FINSYNC" -w "$WS" run trunc >"$WORK/run.out" 2>"$WORK/run.err" || fail "run exited $?: $(tail -5 "$WORK/run.err")"

capped=$(grep '"api_name":"daily"' "$emu_AUDIT" | grep -c '"capped":true' || true)
[[ $capped -ge $((SYMBOLS - 2)) ]] || fail "only $capped capped answers"
split=$("$FINSYNC" -w "$WS" report trunc --json | grep '"split"' | tr -dc 0-9)
assert_eq "$capped" "$split" "tasks split vs capped answers"
grep -q "hit the cap of $CAP; splitting" "$WORK/run.err" || fail "no split in the log"

"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20130101 --end 20161231 >"$WORK/truth.csv"
canonical_from "$WS/data/finsync.duckdb" trunc >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null || fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
echo "truncation: ok ($capped capped answers re-split, $(($(wc -l <"$WORK/truth.csv") - 1)) rows exact)"
