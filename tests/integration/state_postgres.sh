#!/usr/bin/env bash
# The PostgreSQL state store end to end: a backfill with `state: { kind: postgres }` records its
# plan, tasks and run in the configured schema (read back with psql), a second run lands nothing,
# `finsync status` reads the same store, and a wrong password fails with the auth exit code and
# an error that names host:port but not the password. Needs FINSYNC_TEST_PG_DSN (scripts/test.sh
# starts the server); fails without it.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_PG_DSN:-}" ]] || fail "FINSYNC_TEST_PG_DSN is unset: this test needs a PostgreSQL server (scripts/test.sh starts one)"
SCHEMA="finsync_it_$$_$RANDOM"
psql_q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$FINSYNC_TEST_PG_DSN" -c "$1"; }
ROLE="finsync_it_auth_$$_$RANDOM"
pg_cleanup() {
  local rc=$?
  psql_q "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
  (exit $rc)
  cleanup
}
trap pg_cleanup EXIT

start_emulator emu --seed 5 --symbols 3
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
sed -i "s|^state: .*|state: { kind: postgres, dsn: \"\${FINSYNC_TEST_PG_DSN}\", schema: $SCHEMA }|" "$WS/finsync.yaml"
grep -q "kind: postgres" "$WS/finsync.yaml" || fail "state not rewritten"
write_plan "$WS/plans/db.yaml" daily-db duckdb 2015-01-01 2015-12-31

out=$("$FINSYNC" -w "$WS" status) || fail "status before any run exited $?"
[[ $out == "no plans have run in this workspace yet ("*"schema $SCHEMA holds no state store yet)" ]] ||
  fail "status before any run: $out"
assert_eq 0 "$(psql_q "SELECT count(*) FROM pg_namespace WHERE nspname = '$SCHEMA'")" "schema created by status"

"$FINSYNC" -w "$WS" run db >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
[[ -d "$WS/state" ]] && fail "a SQLite state file was written: $(ls "$WS/state")"
assert_eq 5 "$(psql_q "SELECT version FROM $SCHEMA.schema_version")" "schema version"
assert_eq "daily-db" "$(psql_q "SELECT name FROM $SCHEMA.plans")" "plan"
tasks=$(psql_q "SELECT count(*) FROM $SCHEMA.tasks WHERE state <> 'split'")
[[ $tasks -gt 0 ]] || fail "no tasks"
assert_eq "$tasks" "$(psql_q "SELECT count(*) FROM $SCHEMA.tasks WHERE state = 'succeeded'")" "succeeded tasks"
landed=$("$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT count(*) FROM daily_db" | tail -1)
assert_eq "$landed" "$(psql_q "SELECT sum(rows) FROM $SCHEMA.tasks WHERE state = 'succeeded'")" "rows in tasks vs landed"
assert_eq "succeeded|$landed" "$(psql_q "SELECT status || '|' || rows FROM $SCHEMA.runs")" "run record"

"$FINSYNC" -w "$WS" run db >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?: $(tail -5 "$WORK/run2.err")"
assert_eq "0" "$(psql_q "SELECT rows FROM $SCHEMA.runs ORDER BY started_at DESC LIMIT 1")" "rows of the second run"
"$FINSYNC" -w "$WS" status >"$WORK/status.out" || fail "status exited $?"
grep -q "^daily-db .* $landed\$" "$WORK/status.out" || fail "status: $(cat "$WORK/status.out")"

# A password that the server refuses: a role that must authenticate (scripts/servers.sh).
psql_q "CREATE ROLE $ROLE LOGIN PASSWORD 'right-$ROLE' IN ROLE finsync_password_required" >/dev/null
hostport=${FINSYNC_TEST_PG_DSN#*@}
hostport=${hostport%%/*}
export FINSYNC_IT_PG_PASSWORD="Wr0ng-it-secret-$RANDOM"
sed -i "s|^state: .*|state: { kind: postgres, dsn: \"postgresql://$ROLE@$hostport/${FINSYNC_TEST_PG_DSN##*/}\", password: \"\${FINSYNC_IT_PG_PASSWORD}\", schema: $SCHEMA }|" "$WS/finsync.yaml"
rc=0
"$FINSYNC" -w "$WS" run db >"$WORK/run3.out" 2>"$WORK/run3.err" || rc=$?
assert_eq 77 "$rc" "exit code of a wrong password"
grep -q "state store postgres $hostport/" "$WORK/run3.err" || fail "error does not name $hostport: $(cat "$WORK/run3.err")"
grep -q "password authentication failed" "$WORK/run3.err" || fail "error does not say why: $(cat "$WORK/run3.err")"
grep -qF "$FINSYNC_IT_PG_PASSWORD" "$WORK/run3.err" "$WORK/run3.out" && fail "the password was printed"
echo "ok: postgres state store ($tasks tasks, $landed rows)"
