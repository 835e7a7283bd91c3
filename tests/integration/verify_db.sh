#!/usr/bin/env bash
# `finsync verify` on the database sinks (sqlite, postgres, mysql, clickhouse: the servers of
# scripts/test.sh, the test fails without them; dolphindb: the API recorder on the pinned npm
# client): after a backfill the only gaps are the provider's own (suspended days); three rows
# the test deletes with the store's own client are one gap, and a row it adds on a Saturday
# (not on ClickHouse, whose 18.16 has no REPLACE modifier to copy a row with, nor through the
# recorder) is extra, exit 3; `--fix` queues the gaps, the next run lands
# them, the table equals the truth and verify exits 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/verify_lib.sh"

for v in FINSYNC_TEST_PG_DSN FINSYNC_TEST_MYSQL_DSN FINSYNC_TEST_CLICKHOUSE_URL; do
  [[ -n "${!v:-}" ]] || fail "$v is unset: this test needs the servers scripts/test.sh starts"
done
export FINSYNC_IT_PG_SCHEMA="finsync_it_$$_$RANDOM"
BASE="fsit_verify_$$_$RANDOM"
db_cleanup() {
  local rc=$?
  psql_q "DROP SCHEMA IF EXISTS $FINSYNC_IT_PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  drop_mysql_dbs
  drop_ch_dbs
  (exit $rc)
  cleanup
}
trap db_cleanup EXIT
psql_q "CREATE SCHEMA $FINSYNC_IT_PG_SCHEMA" || fail "cannot create schema $FINSYNC_IT_PG_SCHEMA"
use_mysql_db "${BASE}_my"
use_ch_db "${BASE}_ch"
DDB_PASSWORD="it-ddb-$RANDOM$RANDOM-secret"
start_ddb_recorder ddb --password "$DDB_PASSWORD"
export FINSYNC_IT_DDB_PORT=$ddb_TCP FINSYNC_IT_DDB_PASSWORD=$DDB_PASSWORD

SEED=7 SYMBOLS=8 START=20150101 END=20150630
start_emulator emu --seed $SEED --symbols $SYMBOLS
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start $START --end $END >"$WORK/truth.csv"
"$EMULATOR" truth --api stock_basic --seed $SEED --symbols $SYMBOLS >"$WORK/basic.csv"
"$EMULATOR" truth --api trade_cal --start $START --end $END >"$WORK/cal.csv"
read -r SYM P0 P1 P2 < <(pick_punch)
[[ -n $P2 ]] || fail "no three consecutive rows to delete"
expected_gaps >"$WORK/want_provider.txt"
expected_gaps "$SYM $P0" "$SYM $P1" "$SYM $P2" >"$WORK/want_punched.txt"
SUSPENDED=$(grep -c . "$WORK/want_provider.txt" || true)
PUNCHED="ts_code = '$SYM' AND trade_date BETWEEN '$P0' AND '$P2'"
EXTRA="ts_code = '$SYM' AND trade_date = '2015-01-03'"
# A copy of the symbol's first row, dated Saturday 2015-01-03: `x` is a temporary table.
COPY_ROW="CREATE TEMPORARY TABLE x AS SELECT * FROM @T@ WHERE ts_code = '$SYM' ORDER BY trade_date LIMIT 1; UPDATE x SET trade_date = '2015-01-03'; INSERT INTO @T@ SELECT * FROM x"

sqlite_sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' "$WS/data/vsqlite.sqlite" "$1"; }
ch_wait_gone() {  # ALTER TABLE ... DELETE is a mutation that ClickHouse 18.16 runs in the background
  local i
  for i in $(seq 1 100); do
    [[ $(ch_q "SELECT count() FROM vclickhouse WHERE $PUNCHED" "$FINSYNC_IT_CH_DB") == 0 ]] && return 0
    sleep 0.1
  done
  fail "clickhouse did not delete the punched rows"
}
punch() {  # KIND: delete the punched rows and add the extra one with the store's own client
  case $1 in
    sqlite) sqlite_sql "DELETE FROM vsqlite WHERE $PUNCHED; ${COPY_ROW//@T@/vsqlite}" ;;
    postgres) psql_q "SET search_path = $FINSYNC_IT_PG_SCHEMA; DELETE FROM vpostgres WHERE $PUNCHED; ${COPY_ROW//@T@/vpostgres}" ;;
    mysql) mysql_q "$FINSYNC_IT_MYSQL_DB" -e "DELETE FROM vmysql WHERE $PUNCHED; ${COPY_ROW//@T@/vmysql}" ;;
    clickhouse)
      ch_q "ALTER TABLE vclickhouse DELETE WHERE $PUNCHED" "$FINSYNC_IT_CH_DB"
      ch_wait_gone
      ;;
    dolphindb)
      node "$SOURCE_DIR/tests/tools/ddb_eval.mjs" --npm "$DOLPHINDB_NPM" --url "ws://127.0.0.1:$ddb_WS" \
        --password "$DDB_PASSWORD" --script "delete from loadTable(\"dfs://v\", \"vdolphindb\") where ts_code = \"$SYM\" and trade_date between ${P0//-/.} : ${P2//-/.}" \
        >"$WORK/ddb-punch.out" 2>&1 || fail "dolphindb: the delete exited $?: $(cat "$WORK/ddb-punch.out")"
      ;;
  esac
}
drop_extra() {
  case $1 in
    sqlite) sqlite_sql "DELETE FROM vsqlite WHERE $EXTRA" ;;
    postgres) psql_q "DELETE FROM $FINSYNC_IT_PG_SCHEMA.vpostgres WHERE $EXTRA" ;;
    mysql) mysql_q "$FINSYNC_IT_MYSQL_DB" -e "DELETE FROM vmysql WHERE $EXTRA" ;;
    clickhouse | dolphindb) ;;
  esac
}
canonical() {
  case $1 in
    sqlite) canonical_sqlite "$WS/data/vsqlite.sqlite" vsqlite ;;
    postgres) canonical_pg "$FINSYNC_IT_PG_SCHEMA" vpostgres ;;
    mysql) canonical_mysql "$FINSYNC_IT_MYSQL_DB" vmysql ;;
    clickhouse) canonical_ch "$FINSYNC_IT_CH_DB" vclickhouse ;;
    dolphindb) canonical_ddb "$ddb_STATE" dfs://v/vdolphindb ;;
  esac
}
verify_rc() {  # KIND OUT [verify options]: verify's exit code; its output in OUT
  local rc=0
  "$FINSYNC" -w "$WS" verify "v$1" "${@:3}" >"$2" 2>"$2.err" || rc=$?
  echo $rc
}

WS="$WORK/ws"
new_workspace "$WS"
for kind in sqlite postgres mysql clickhouse dolphindb; do
  DDB_DATABASE=dfs://v write_plan "$WS/plans/v$kind.yaml" "v$kind" $kind 2015-01-01 2015-06-30
  "$FINSYNC" -w "$WS" run "v$kind" >"$WORK/$kind-run1.out" 2>"$WORK/$kind-run1.err" ||
    fail "$kind run exited $?: $(tail -5 "$WORK/$kind-run1.err")"
  canonical $kind >"$WORK/$kind-1.csv"
  diff -q "$WORK/truth.csv" "$WORK/$kind-1.csv" >/dev/null || fail "$kind: the backfill differs from truth"

  # Complete: the provider's suspensions are the only gaps.
  assert_eq 3 "$(verify_rc $kind "$WORK/$kind-v1.out")" "$kind: exit code of verify after the backfill"
  reported_gaps "$WORK/$kind-v1.out" >"$WORK/$kind-got1.txt"
  diff -q "$WORK/want_provider.txt" "$WORK/$kind-got1.txt" >/dev/null ||
    fail "$kind gaps: $(diff "$WORK/want_provider.txt" "$WORK/$kind-got1.txt" | head -5)"
  grep -qx "$SUSPENDED gap days, 0 extra rows" "$WORK/$kind-v1.out" || fail "$kind summary: $(tail -1 "$WORK/$kind-v1.out")"

  punch $kind
  extra=1
  [[ $kind == clickhouse || $kind == dolphindb ]] && extra=0
  assert_eq 3 "$(verify_rc $kind "$WORK/$kind-v2.out")" "$kind: exit code of verify with a gap"
  reported_gaps "$WORK/$kind-v2.out" >"$WORK/$kind-got2.txt"
  diff -q "$WORK/want_punched.txt" "$WORK/$kind-got2.txt" >/dev/null ||
    fail "$kind gaps: $(diff "$WORK/want_punched.txt" "$WORK/$kind-got2.txt" | head -5)"
  grep -qE "^  $SYM  gap    $P0\.\.$P2 \(3 trading days\)$" "$WORK/$kind-v2.out" ||
    fail "$kind: the punched gap is not one line: $(cat "$WORK/$kind-v2.out")"
  if ((extra)); then
    grep -qE "^  $SYM  extra  2015-01-03$" "$WORK/$kind-v2.out" || fail "$kind: the extra row is not reported: $(cat "$WORK/$kind-v2.out")"
  fi
  grep -qx "$((SUSPENDED + 3)) gap days, $extra extra rows" "$WORK/$kind-v2.out" || fail "$kind summary: $(tail -1 "$WORK/$kind-v2.out")"
  drop_extra $kind

  assert_eq 3 "$(verify_rc $kind "$WORK/$kind-v3.out" --fix)" "$kind: exit code of verify --fix"
  N=$(grep -c '  gap  ' "$WORK/$kind-v3.out" || true)
  grep -q "queued $N tasks for the gaps" "$WORK/$kind-v3.out" || fail "$kind verify --fix: $(cat "$WORK/$kind-v3.out")"
  "$FINSYNC" -w "$WS" run "v$kind" >"$WORK/$kind-run2.out" 2>"$WORK/$kind-run2.err" ||
    fail "$kind run after --fix exited $?: $(tail -5 "$WORK/$kind-run2.err")"
  canonical $kind >"$WORK/$kind-2.csv"
  diff -q "$WORK/truth.csv" "$WORK/$kind-2.csv" >/dev/null ||
    fail "$kind: after the fix the data differs from truth: $(diff "$WORK/truth.csv" "$WORK/$kind-2.csv" | head -5)"
  assert_eq 0 "$(verify_rc $kind "$WORK/$kind-v4.out")" "$kind: exit code of verify after the fix"
  echo "verify $kind: ok ($SUSPENDED suspended days, the punched gap and $extra extra row found, $N fix tasks)"
done
