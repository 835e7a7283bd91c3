#!/usr/bin/env bash
# PostgreSQL restarts in the middle of a backfill into the postgres sink: the restart comes
# while tasks are still pending (asserted from the markers and the plan's task count), the sink
# reconnects and re-runs the interrupted landing, the run succeeds, the report counts at least
# one reconnect, and the table holds exactly the emulator's truth. Restarts the shared test
# server (FINSYNC_TEST_PG_RESTART), so ctest runs it alone.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_PG_DSN:-}" && -n "${FINSYNC_TEST_PG_RESTART:-}" ]] ||
  fail "FINSYNC_TEST_PG_DSN / FINSYNC_TEST_PG_RESTART are unset: this test needs the PostgreSQL server of scripts/test.sh"
export FINSYNC_IT_PG_SCHEMA="finsync_it_$$_$RANDOM"
pg_cleanup() {
  local rc=$?
  psql_q "DROP SCHEMA IF EXISTS $FINSYNC_IT_PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  (exit $rc)
  cleanup
}
trap pg_cleanup EXIT

# Slow answers, so that the run is still going when the server restarts.
start_emulator emu --seed 9 --symbols 8 --latency-ms 120
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 9 --symbols 8 --start 20150101 --end 20161231 >"$WORK/truth.csv"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/rs.yaml" rs postgres 2015-01-01 2016-12-31 "split: { window: 2m }"
S=$FINSYNC_IT_PG_SCHEMA
landed() { psql_q "SELECT count(*) FROM $S._finsync_landed" 2>/dev/null || echo 0; }

restart_mid_backfill postgres "$FINSYNC_TEST_PG_RESTART" canonical_pg "$S" rs
