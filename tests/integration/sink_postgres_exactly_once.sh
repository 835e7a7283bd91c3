#!/usr/bin/env bash
# Exactly-once with the state store in the sink's PostgreSQL database: each task's checkpoint
# commits in the landing transaction. A kill right after a sink commit (failpoint
# sink.after_commit_before_checkpoint) then leaves nothing to recover: the landed tasks are
# already succeeded in the state store, the resumed run fetches no task twice and recovers none
# from a marker, and the table is exactly the truth. The same kill with the SQLite state store
# (separate checkpoint) shows what the transaction saves: one task recovered from its marker.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_PG_DSN:-}" ]] || fail "FINSYNC_TEST_PG_DSN is unset: this test needs a PostgreSQL server (scripts/test.sh starts one)"
BASE="finsync_it_$$_$RANDOM"
pg_cleanup() {
  local rc=$?
  psql_q "DROP SCHEMA IF EXISTS ${BASE}_a CASCADE; DROP SCHEMA IF EXISTS ${BASE}_b CASCADE; DROP SCHEMA IF EXISTS ${BASE}_state CASCADE" >/dev/null 2>&1 || true
  (exit $rc)
  cleanup
}
trap pg_cleanup EXIT

start_emulator emu --seed 10 --symbols 3
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 10 --symbols 3 --start 20150101 --end 20161231 >"$WORK/truth.csv"
KILL_AT=3
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

# run_case NAME STATE(postgres|sqlite): kills the first run at the KILL_AT-th commit, resumes.
# Sets LANDED_AT_KILL, SUCCEEDED_AT_KILL, RECOVERED, REQUESTS, TASKS.
run_case() {
  local name=$1 state=$2 ws="$WORK/$1" rc=0 before
  export FINSYNC_IT_PG_SCHEMA="${BASE}_$name"
  new_workspace "$ws"
  if [[ $state == postgres ]]; then
    sed -i "s|^state: .*|state: { kind: postgres, dsn: \"\${FINSYNC_TEST_PG_DSN}\", schema: ${BASE}_state }|" "$ws/finsync.yaml"
  fi
  write_plan "$ws/plans/eo.yaml" "eo$name" postgres 2015-01-01 2016-12-31 "split: { window: 4m }"
  before=$(daily_requests)
  FINSYNC_FAILPOINTS="sink.after_commit_before_checkpoint:kill@$KILL_AT" \
    "$FINSYNC" -w "$ws" run eo -c 1 >"$ws/crash.out" 2>"$ws/crash.err" || rc=$?
  assert_eq 137 $rc "$name: exit code of the killed run"
  grep -q "failpoint sink.after_commit_before_checkpoint hit $KILL_AT: SIGKILL" "$ws/crash.err" ||
    fail "$name: no kill line: $(tail -2 "$ws/crash.err")"
  LANDED_AT_KILL=$(psql_q "SELECT count(*) FROM ${BASE}_$name._finsync_landed")
  if [[ $state == postgres ]]; then
    SUCCEEDED_AT_KILL=$(psql_q "SELECT count(*) FROM ${BASE}_state.tasks WHERE plan = 'eo$name' AND state = 'succeeded'")
  else
    SUCCEEDED_AT_KILL=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tasks WHERE state = ?", ("succeeded",)).fetchone()[0])' "$ws/state/state.db")
  fi
  "$FINSYNC" -w "$ws" run eo -c 1 >"$ws/resume.out" 2>"$ws/resume.err" || fail "$name: resume exited $?: $(tail -3 "$ws/resume.err")"
  if [[ $state == postgres ]]; then
    RECOVERED=$(psql_q "SELECT count(*) FROM ${BASE}_state.tasks WHERE plan = 'eo$name' AND last_error = 'recovered from the sink''s landed marker'")
    TASKS=$(psql_q "SELECT count(*) FROM ${BASE}_state.tasks WHERE plan = 'eo$name' AND state = 'succeeded'")
  else
    RECOVERED=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tasks WHERE last_error = ?", ("recovered from the sink'"'"'s landed marker",)).fetchone()[0])' "$ws/state/state.db")
    TASKS=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tasks WHERE state = ?", ("succeeded",)).fetchone()[0])' "$ws/state/state.db")
  fi
  REQUESTS=$(($(daily_requests) - before))
  canonical_pg "${BASE}_$name" "eo$name" >"$ws/landed.csv"
  diff -q "$WORK/truth.csv" "$ws/landed.csv" >/dev/null ||
    fail "$name: landed rows differ from truth: $(diff "$WORK/truth.csv" "$ws/landed.csv" | head -5)"
}

run_case a postgres
grep -q "the state store is in the sink's database: checkpoints commit with the rows" "$WORK/a/crash.err" ||
  fail "the exactly-once wiring is not reported: $(head -5 "$WORK/a/crash.err")"
assert_eq $KILL_AT "$LANDED_AT_KILL" "tasks landed when the run was killed"
assert_eq $KILL_AT "$SUCCEEDED_AT_KILL" "tasks checkpointed when the run was killed (same transaction)"
assert_eq 0 "$RECOVERED" "tasks recovered from a marker"
assert_eq "$TASKS" "$REQUESTS" "daily requests (each task fetched once)"

run_case b sqlite
assert_eq $KILL_AT "$LANDED_AT_KILL" "sqlite state: tasks landed when the run was killed"
assert_eq $((KILL_AT - 1)) "$SUCCEEDED_AT_KILL" "sqlite state: tasks checkpointed when the run was killed"
assert_eq 1 "$RECOVERED" "sqlite state: tasks recovered from a marker"
echo "ok: exactly-once ($TASKS tasks; killed after commit $KILL_AT: 0 recovered, 0 fetched twice; separate checkpoint: 1 recovered)"
