#!/usr/bin/env bash
# The mysql sink end to end against FINSYNC_TEST_MYSQL_DSN (fails without it): a backfill lands
# exactly the emulator's truth (read back with the mariadb client, compared field by field) with
# one marker per task, through each load path (LOAD DATA LOCAL INFILE, the default; multi-row
# INSERT, `load: insert`); a second run adds nothing; a row changed in the table is put right by
# an upsert of its re-fetched task; `finsync sinks check` reports the server, the table and a
# match, then the exact difference (exit 78); a wrong password exits 77 with an error that names
# the sink kind and the host but not the password.
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_MYSQL_DSN:-}" ]] || fail "FINSYNC_TEST_MYSQL_DSN is unset: this test needs a MariaDB server (scripts/test.sh starts one)"
BASE="finsync_it_$$_$RANDOM"
USER_PW="fs_it_$$_$RANDOM"
my_cleanup() {
  local rc=$?
  drop_mysql_dbs
  mysql_q -e "DROP USER IF EXISTS '$USER_PW'@'%'" >/dev/null 2>&1 || true
  (exit $rc)
  cleanup
}
trap my_cleanup EXIT

start_emulator emu --seed 8 --symbols 6
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 8 --symbols 6 --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }
hostport=${FINSYNC_TEST_MYSQL_DSN#*@}
hostport=${hostport%%/*}
user=${FINSYNC_TEST_MYSQL_DSN#mysql://}
user=${user%%@*}

# Each load path lands the whole backfill in a database of its own.
for load in infile insert; do
  use_mysql_db "${BASE}_$load"
  DB=$FINSYNC_IT_MYSQL_DB
  WS="$WORK/ws_$load"
  new_workspace "$WS"
  write_plan "$WS/plans/my.yaml" my mysql 2015-01-01 2016-12-31 "split: { window: 6m }"
  [[ $load == insert ]] && sed -i 's/^sink: {\(.*\) }$/sink: {\1, load: insert }/' "$WS/plans/my.yaml"
  "$FINSYNC" -w "$WS" run my >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "$load: run exited $?: $(tail -5 "$WORK/run1.err")"
  canonical_mysql "$DB" my >"$WORK/landed.csv"
  diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
    fail "$load: landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
  assert_eq "ts_code varchar(191) NO|trade_date date NO|open double YES" \
    "$(mysql_q "$DB" -e "SELECT group_concat(concat_ws(' ', COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE) ORDER BY ORDINAL_POSITION SEPARATOR '|') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'my' AND ORDINAL_POSITION <= 3")" \
    "$load: column types"
  assert_eq "ts_code,trade_date" \
    "$(mysql_q "$DB" -e "SELECT group_concat(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'my' AND INDEX_NAME = 'PRIMARY'")" \
    "$load: primary key"
  tasks=$(mysql_q "$DB" -e "SELECT count(DISTINCT task_id) FROM _finsync_landed")
  [[ $tasks -ge 12 ]] || fail "$load: only $tasks tasks landed"
  assert_eq "$TRUTH_ROWS" "$(mysql_q "$DB" -e "SELECT sum(\`rows\`) FROM _finsync_landed")" "$load: rows in the markers"
  grep -qE "^  sink +mysql: [0-9]+ commits, 0 reconnects, 0 transactions retried$" "$WORK/run1.out" ||
    fail "$load: the report has no sink line: $(cat "$WORK/run1.out")"
done
# The rest with the default path, on the first workspace.
DB="${BASE}_infile"
export FINSYNC_IT_MYSQL_DSN="${FINSYNC_TEST_MYSQL_DSN%/*}/$DB"
WS="$WORK/ws_infile"

before=$(daily_requests)
"$FINSYNC" -w "$WS" run my >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
assert_eq "$before" "$(daily_requests)" "daily requests of the second run"
assert_eq "$TRUTH_ROWS" "$(mysql_q "$DB" -e "SELECT count(*) FROM my")" "rows after the second run"

# A bar changed in the table: fetching its task again upserts the vendor's row over it.
key=$(mysql_q "$DB" -e "SELECT concat(ts_code, '|', trade_date) FROM my ORDER BY ts_code, trade_date LIMIT 1 OFFSET 200")
sym=${key%|*} day=${key#*|}
mysql_q "$DB" -e "UPDATE my SET close = -1, vol = NULL WHERE ts_code = '$sym' AND trade_date = '$day'"
task=$(mysql_q "$DB" -e "SELECT task_id FROM _finsync_landed WHERE task_id LIKE 'my/$sym/%' AND left(\`window\`, 8) <= '${day//-/}' AND right(\`window\`, 8) >= '${day//-/}'")
[[ -n $task ]] || fail "no task covers $key"
"$FINSYNC" -w "$WS" retry my --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run my >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run3.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"
canonical_mysql "$DB" my >"$WORK/landed3.csv"
diff -q "$WORK/truth.csv" "$WORK/landed3.csv" >/dev/null ||
  fail "after the upsert: $(diff "$WORK/truth.csv" "$WORK/landed3.csv" | head -5)"

"$FINSYNC" -w "$WS" sinks check my >"$WORK/check1.out" 2>"$WORK/check1.err" || fail "sinks check exited $?: $(cat "$WORK/check1.err")"
grep -qx "sink mysql $user@$hostport/$DB" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  server +MariaDB 10\.11\.[0-9]+" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  table +my exists$" "$WORK/check1.out" || fail "check: $(cat "$WORK/check1.out")"
grep -qE "^  columns +match the plan's schema \(11 columns, primary key \(ts_code, trade_date\)\)$" "$WORK/check1.out" ||
  fail "check: $(cat "$WORK/check1.out")"
mysql_q "$DB" -e "ALTER TABLE my MODIFY vol decimal(20,2), DROP COLUMN amount"
rc=0
"$FINSYNC" -w "$WS" sinks check my >"$WORK/check2.out" 2>"$WORK/check2.err" || rc=$?
assert_eq 78 $rc "sinks check exit code for a table that differs"
grep -qx "    missing column amount double" "$WORK/check2.out" || fail "check: $(cat "$WORK/check2.out")"
grep -qx "    column vol: expected double, found decimal(20,2)" "$WORK/check2.out" || fail "check: $(cat "$WORK/check2.out")"
mysql_q "$DB" -e "DROP TABLE my"
"$FINSYNC" -w "$WS" sinks check my >"$WORK/check3.out" 2>&1 || fail "sinks check without a table exited $?"
grep -qE "^  table +my does not exist: the first run creates it$" "$WORK/check3.out" || fail "check: $(cat "$WORK/check3.out")"

# A user with a password (root has none on the test server), and a wrong one.
mysql_q -e "CREATE USER '$USER_PW'@'%' IDENTIFIED BY 'right-$USER_PW'; GRANT ALL ON \`$DB\`.* TO '$USER_PW'@'%'"
export FINSYNC_IT_MY_PASSWORD="Wr0ng-it-secret-$RANDOM$RANDOM"
WS2="$WORK/ws2"
new_workspace "$WS2"
cat >"$WS2/plans/pw.yaml" <<YAML
name: pw
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2015-01-01, end: 2015-03-31 }
sink: { kind: mysql, dsn: "mysql://$USER_PW@$hostport/$DB", password: "\${FINSYNC_IT_MY_PASSWORD}" }
YAML
for cmd in "run pw" "sinks check pw"; do
  rc=0
  "$FINSYNC" -w "$WS2" $cmd >"$WORK/pw.out" 2>"$WORK/pw.err" || rc=$?
  assert_eq 77 "$rc" "exit code of '$cmd' with a wrong password"
  grep -q "mysql sink $USER_PW@$hostport/$DB" "$WORK/pw.err" || fail "$cmd: the error does not name the sink and host: $(cat "$WORK/pw.err")"
  grep -q "Access denied for user '$USER_PW'@" "$WORK/pw.err" || fail "$cmd: the error does not say why: $(cat "$WORK/pw.err")"
  grep -qF "$FINSYNC_IT_MY_PASSWORD" "$WORK/pw.err" "$WORK/pw.out" && fail "$cmd: the password was printed"
done
# The right password lands.
export FINSYNC_IT_MY_PASSWORD="right-$USER_PW"
"$FINSYNC" -w "$WS2" run pw >"$WORK/pw.out" 2>"$WORK/pw.err" || fail "run with the right password exited $?: $(tail -3 "$WORK/pw.err")"
[[ $(mysql_q "$DB" -e "SELECT count(*) FROM daily") -gt 0 ]] || fail "the right password landed nothing"
# A SPEC of `plan add`: the mysql sink's own key (load) and the sink keys leave the URL, the
# driver's query keys stay in it.
"$FINSYNC" -w "$WS2" plan add --name spec --provider tushare --endpoint daily --symbols-from stock_basic \
  --from 2015-01-01 --to 2015-03-31 --sink "mysql:mysql://$USER_PW@$hostport/$DB?table=via_spec&load=insert&connect_timeout=5&password=\${FINSYNC_IT_MY_PASSWORD}" \
  >"$WORK/spec.out" 2>&1 || fail "plan add with a mysql SPEC exited $?: $(cat "$WORK/spec.out")"
assert_eq "kind: mysql|dsn: mysql://$USER_PW@$hostport/$DB?connect_timeout=5|table: via_spec|load: insert|password: \${FINSYNC_IT_MY_PASSWORD}" \
  "$(sed -n '/^sink:/,$p' "$WS2/plans/spec.yaml" | tail -n +2 | sed 's/^  //' | paste -sd '|')" "the sink block plan add wrote"
"$FINSYNC" -w "$WS2" run spec >"$WORK/spec.out" 2>&1 || fail "run of the SPEC plan exited $?: $(tail -3 "$WORK/spec.out")"
assert_eq "$(mysql_q "$DB" -e "SELECT count(*) FROM daily")" "$(mysql_q "$DB" -e "SELECT count(*) FROM via_spec")" "rows landed through load: insert from the SPEC plan"
echo "ok: mysql sink ($TRUTH_ROWS rows exact through LOAD DATA and through INSERT, $tasks tasks)"
