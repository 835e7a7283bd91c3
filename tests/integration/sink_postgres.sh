#!/usr/bin/env bash
# The postgres sink end to end against FINSYNC_TEST_PG_DSN (fails without it): a backfill lands
# exactly the emulator's truth (read back with psql, compared field by field) with one marker
# per task; a second run adds nothing; a row changed in the table is put right by an upsert of
# its re-fetched task; `finsync sinks check` reports the server, the table and a match, then the
# exact difference (exit 78); a wrong password exits 77 with an error that names the sink kind
# and the host but not the password.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_PG_DSN:-}" ]] || fail "FINSYNC_TEST_PG_DSN is unset: this test needs a PostgreSQL server (scripts/test.sh starts one)"
export FINSYNC_IT_PG_SCHEMA="finsync_it_$$_$RANDOM"
ROLE="finsync_it_sink_$$_$RANDOM"
pg_cleanup() {
  local rc=$?
  psql_q "DROP SCHEMA IF EXISTS $FINSYNC_IT_PG_SCHEMA CASCADE; DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
  (exit $rc)
  cleanup
}
trap pg_cleanup EXIT

start_emulator emu --seed 8 --symbols 6
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 8 --symbols 6 --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/pg.yaml" pg postgres 2015-01-01 2016-12-31 "split: { window: 6m }"
S=$FINSYNC_IT_PG_SCHEMA
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

"$FINSYNC" -w "$WS" run pg >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
canonical_pg "$S" pg >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
assert_eq "ts_code text NO|trade_date date NO|open double precision YES" \
  "$(psql_q "SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable, '|' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = '$S' AND table_name = 'pg' AND ordinal_position <= 3")" \
  "column types"
assert_eq "PRIMARY KEY (ts_code, trade_date)" \
  "$(psql_q "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '$S.pg'::regclass AND contype = 'p'")" "primary key"
tasks=$(psql_q "SELECT count(DISTINCT task_id) FROM $S._finsync_landed")
[[ $tasks -ge 12 ]] || fail "only $tasks tasks landed"
assert_eq "$TRUTH_ROWS" "$(psql_q "SELECT sum(rows) FROM $S._finsync_landed")" "rows in the markers"
grep -qE "^  sink +postgres: [0-9]+ commits, 0 reconnects, 0 transactions retried$" "$WORK/run1.out" ||
  fail "the report has no sink line: $(cat "$WORK/run1.out")"

before=$(daily_requests)
"$FINSYNC" -w "$WS" run pg >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
assert_eq "$before" "$(daily_requests)" "daily requests of the second run"
assert_eq "$TRUTH_ROWS" "$(psql_q "SELECT count(*) FROM $S.pg")" "rows after the second run"

# A bar changed in the table: fetching its task again upserts the vendor's row over it.
key=$(psql_q "SELECT ts_code || '|' || trade_date FROM $S.pg ORDER BY ts_code COLLATE \"C\", trade_date LIMIT 1 OFFSET 200")
sym=${key%|*} day=${key#*|}
psql_q "UPDATE $S.pg SET close = -1, vol = NULL WHERE ts_code = '$sym' AND trade_date = '$day'" >/dev/null
task=$(psql_q "SELECT task_id FROM $S._finsync_landed WHERE task_id LIKE 'pg/$sym/%' AND left(\"window\", 8) <= '${day//-/}' AND right(\"window\", 8) >= '${day//-/}'")
[[ -n $task ]] || fail "no task covers $key"
"$FINSYNC" -w "$WS" retry pg --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run pg >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run3.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"
canonical_pg "$S" pg >"$WORK/landed3.csv"
diff -q "$WORK/truth.csv" "$WORK/landed3.csv" >/dev/null ||
  fail "after the upsert: $(diff "$WORK/truth.csv" "$WORK/landed3.csv" | head -5)"

hostport=${FINSYNC_TEST_PG_DSN#*@}
hostport=${hostport%%/*}
dbname=${FINSYNC_TEST_PG_DSN##*/}
"$FINSYNC" -w "$WS" sinks check pg >"$WORK/check1.out" 2>"$WORK/check1.err" || fail "sinks check exited $?: $(cat "$WORK/check1.err")"
grep -qx "sink postgres postgres@$hostport/$dbname (schema $S)" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  server +PostgreSQL 15\." "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  table +pg exists$" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  columns +match the plan's schema \(11 columns, primary key \(ts_code, trade_date\)\)$" "$WORK/check1.out" ||
  fail "check: $(cat "$WORK/check1.out")"
psql_q "ALTER TABLE $S.pg ALTER COLUMN vol TYPE numeric; ALTER TABLE $S.pg DROP COLUMN amount" >/dev/null
rc=0
"$FINSYNC" -w "$WS" sinks check pg >"$WORK/check2.out" 2>"$WORK/check2.err" || rc=$?
assert_eq 78 $rc "sinks check exit code for a table that differs"
grep -qx "    missing column amount double precision" "$WORK/check2.out" || fail "check: $(cat "$WORK/check2.out")"
grep -qx "    column vol: expected double precision, found numeric" "$WORK/check2.out" || fail "check: $(cat "$WORK/check2.out")"
psql_q "DROP TABLE $S.pg" >/dev/null
"$FINSYNC" -w "$WS" sinks check pg >"$WORK/check3.out" 2>&1 || fail "sinks check without a table exited $?"
grep -qE "^  table +pg does not exist: the first run creates it$" "$WORK/check3.out" || fail "check: $(cat "$WORK/check3.out")"

# A role that must give its password over TCP (scripts/servers.sh), and a wrong one.
psql_q "CREATE ROLE $ROLE LOGIN PASSWORD 'right-$ROLE' IN ROLE finsync_password_required" >/dev/null
export FINSYNC_IT_PG_PASSWORD="Wr0ng-it-secret-$RANDOM$RANDOM"
WS2="$WORK/ws2"
new_workspace "$WS2"
cat >"$WS2/plans/pw.yaml" <<YAML
name: pw
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2015-01-01, end: 2015-03-31 }
sink: { kind: postgres, dsn: "postgresql://$ROLE@$hostport/$dbname", password: "\${FINSYNC_IT_PG_PASSWORD}", schema: $S }
YAML
for cmd in "run pw" "sinks check pw"; do
  rc=0
  "$FINSYNC" -w "$WS2" $cmd >"$WORK/pw.out" 2>"$WORK/pw.err" || rc=$?
  assert_eq 77 "$rc" "exit code of '$cmd' with a wrong password"
  grep -q "postgres sink $ROLE@$hostport/$dbname (schema $S)" "$WORK/pw.err" || fail "$cmd: the error does not name the sink and host: $(cat "$WORK/pw.err")"
  grep -q "password authentication failed" "$WORK/pw.err" || fail "$cmd: the error does not say why: $(cat "$WORK/pw.err")"
  grep -qF "$FINSYNC_IT_PG_PASSWORD" "$WORK/pw.err" "$WORK/pw.out" && fail "$cmd: the password was printed"
done
echo "ok: postgres sink ($TRUTH_ROWS rows exact, $tasks tasks)"
