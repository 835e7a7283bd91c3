#!/usr/bin/env bash
# MariaDB restarts in the middle of a backfill into the mysql sink: the restart comes while
# tasks are still pending (asserted from the markers and the plan's task count), the sink
# reconnects and re-runs the interrupted landing, the run succeeds, the report counts at least
# one reconnect, and the table holds exactly the emulator's truth. Restarts the shared test
# server (FINSYNC_TEST_MYSQL_RESTART), so ctest runs it alone.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_MYSQL_DSN:-}" && -n "${FINSYNC_TEST_MYSQL_RESTART:-}" ]] ||
  fail "FINSYNC_TEST_MYSQL_DSN / FINSYNC_TEST_MYSQL_RESTART are unset: this test needs the MariaDB server of scripts/test.sh"
my_cleanup() {
  local rc=$?
  drop_mysql_dbs
  (exit $rc)
  cleanup
}
trap my_cleanup EXIT
use_mysql_db "finsync_it_$$_$RANDOM"
DB=$FINSYNC_IT_MYSQL_DB

# Slow answers, so that the run is still going when the server restarts.
start_emulator emu --seed 9 --symbols 8 --latency-ms 120
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 9 --symbols 8 --start 20150101 --end 20161231 >"$WORK/truth.csv"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/rs.yaml" rs mysql 2015-01-01 2016-12-31 "split: { window: 2m }"
landed() { mysql_q "$DB" -e "SELECT count(*) FROM _finsync_landed" 2>/dev/null || echo 0; }

restart_mid_backfill mysql "$FINSYNC_TEST_MYSQL_RESTART" canonical_mysql "$DB" rs
