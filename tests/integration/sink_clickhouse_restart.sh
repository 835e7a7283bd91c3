#!/usr/bin/env bash
# ClickHouse restarts in the middle of a backfill into the clickhouse sink: the restart comes
# while tasks are still pending (asserted from the markers and the plan's task count), the sink
# reconnects and re-runs the interrupted landing, the run succeeds, the report counts at least
# one reconnect, and the table read with FINAL holds exactly the emulator's truth, one marker per
# task. Restarts the shared test server (FINSYNC_TEST_CLICKHOUSE_RESTART), so ctest runs it
# alone.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_CLICKHOUSE_URL:-}" && -n "${FINSYNC_TEST_CLICKHOUSE_RESTART:-}" ]] ||
  fail "FINSYNC_TEST_CLICKHOUSE_URL / FINSYNC_TEST_CLICKHOUSE_RESTART are unset: this test needs the ClickHouse server of scripts/test.sh"
ch_cleanup() {
  local rc=$?
  drop_ch_dbs
  (exit $rc)
  cleanup
}
trap ch_cleanup EXIT
use_ch_db "finsync_it_$$_$RANDOM"
DB=$FINSYNC_IT_CH_DB

# Slow answers and small tasks, so that the run is still landing after the server went down (a
# server shutting down still answers on open keep-alive connections for a while).
start_emulator emu --seed 9 --symbols 8 --latency-ms 150
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 9 --symbols 8 --start 20150101 --end 20161231 >"$WORK/truth.csv"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/rs.yaml" rs clickhouse 2015-01-01 2016-12-31 "split: { window: 1m }"
# The marker table does not exist before the first landing, nor answers while the server is down.
landed() {
  local n
  n=$(ch_q "SELECT count() FROM _finsync_landed FINAL" "$DB" 2>/dev/null) || n=0
  echo "$n"
}

restart_mid_backfill clickhouse "$FINSYNC_TEST_CLICKHOUSE_RESTART" canonical_ch "$DB" rs
