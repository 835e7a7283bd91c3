# Shared helpers for integration tests: each test is a bash script run by ctest with
# FINSYNC, EMULATOR and DUCKDB_READ pointing at the binaries under test.
set -euo pipefail

: "${FINSYNC:?FINSYNC must point at the finsync binary}"
: "${EMULATOR:?EMULATOR must point at finsync-emulator}"
: "${DUCKDB_READ:?DUCKDB_READ must point at the duckdb_read tool}"
: "${SOURCE_DIR:?SOURCE_DIR must point at the source tree}"

TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/finsync-it-${TEST_NAME}.XXXXXX")
EMU_PIDS=()
TOKEN="it-token-$RANDOM-$RANDOM-secret"

cleanup() {
  local rc=$?
  for pid in "${EMU_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${EMU_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -eq 0 && -z "${KEEP_WORK:-}" ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}

assert_eq() {  # expected actual what
  [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

# start_emulator NAME [emulator serve options...]: sets ${NAME}_PORT and ${NAME}_AUDIT.
start_emulator() {
  local name=$1
  shift
  local port_file="$WORK/$name.port" audit="$WORK/$name.audit.jsonl"
  "$EMULATOR" serve --personality tushare --port 0 --port-file "$port_file" --token "$TOKEN" \
    --audit-log "$audit" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
  EMU_PIDS+=($!)
  for _ in $(seq 1 200); do
    [[ -s "$port_file" ]] && break
    sleep 0.05
  done
  [[ -s "$port_file" ]] || fail "emulator $name did not start: $(cat "$WORK/$name.stderr")"
  printf -v "${name}_PORT" '%s' "$(cat "$port_file")"
  printf -v "${name}_AUDIT" '%s' "$audit"
}

# new_workspace DIR: a workspace with short timeouts and fast retries.
new_workspace() {
  local dir=$1
  mkdir -p "$dir/plans" "$dir/providers"
  cat >"$dir/finsync.yaml" <<YAML
data_dir: data
state: { kind: sqlite, path: state/state.db }
defaults: { concurrency: 4, max_attempts: 6, backoff_initial: 20ms, backoff_max: 200ms }
http: { connect_timeout: 2s, timeout: ${HTTP_TIMEOUT:-10s} }
YAML
}

# tushare_limit WS WINDOW: WS gets a copy of the built-in tushare provider whose account limit
# is WINDOW instead (a YAML flow map, e.g. "{ scope: account, limit: 8, per: 1s }").
tushare_limit() {
  sed "s/  - { scope: account, limit: 200, per: 1m }/  - $2/" "$SOURCE_DIR/providers/tushare.yaml" \
    >"$1/providers/tushare.yaml"
  grep -qF -- "  - $2" "$1/providers/tushare.yaml" ||
    fail "tushare override not written: the built-in account limit is no longer 200 per 1m"
}

# write_plan FILE NAME SINK_KIND START END [extra YAML lines]
# The plan cuts one symbol per request (the cut these tests count on) unless PLAN_STRATEGY names
# another strategy, or is empty for the planner's cheapest; a `split:` line given keeps its keys.
write_plan() {
  local file=$1 name=$2 kind=$3 start=$4 end=$5 strategy=${PLAN_STRATEGY-symbol_window}
  shift 5
  local split=0
  {
    echo "name: $name"
    echo "provider: tushare"
    echo "endpoint: daily"
    echo "universe: { from: stock_basic }"
    echo "range: { start: $start, end: $end }"
    if [[ $kind == duckdb ]]; then
      echo "sink: { kind: duckdb, table: ${name//-/_} }"
    elif [[ $kind == sqlite ]]; then
      echo "sink: { kind: sqlite, path: $name.sqlite, table: ${name//-/_} }"
    elif [[ $kind == mongodb ]]; then
      # The recorder's port and the database come from the environment (start_recorder).
      echo "sink: { kind: mongodb, dsn: \"mongodb://127.0.0.1:\${FINSYNC_IT_MONGO_PORT}/\${FINSYNC_IT_MONGO_DB}\", table: ${name//-/_} }"
    elif [[ $kind == postgres ]]; then
      # The schema comes from the environment, so that every workspace of a test lands apart.
      echo "sink: { kind: postgres, dsn: \"\${FINSYNC_TEST_PG_DSN}\", schema: \"\${FINSYNC_IT_PG_SCHEMA}\", table: ${name//-/_} }"
    elif [[ $kind == excel ]]; then
      # EXCEL_OPTIONS: more keys of the sink block, e.g. "sheets: per_symbol".
      echo "sink: { kind: excel, path: $name.xlsx, table: ${name//-/_}${EXCEL_OPTIONS:+, $EXCEL_OPTIONS} }"
    elif [[ $kind == mysql ]]; then
      # Likewise the database (use_mysql_db).
      echo "sink: { kind: mysql, dsn: \"\${FINSYNC_IT_MYSQL_DSN}\", table: ${name//-/_} }"
    elif [[ $kind == dolphindb ]]; then
      # The recorder's port and password come from the environment (start_ddb_recorder);
      # DDB_DATABASE (dfs://name) makes a DFS table, else an in-memory one.
      echo "sink: { kind: dolphindb, dsn: \"dolphindb://admin@127.0.0.1:\${FINSYNC_IT_DDB_PORT}\", password: \"\${FINSYNC_IT_DDB_PASSWORD}\", table: ${name//-/_}${DDB_DATABASE:+, database: \"$DDB_DATABASE\"} }"
    elif [[ $kind == clickhouse ]]; then
      # Likewise the database (use_ch_db).
      echo "sink: { kind: clickhouse, url: \"\${FINSYNC_IT_CH_URL}\", table: ${name//-/_} }"
    else
      echo "sink: { kind: $kind, path: $name, table: ${name//-/_}, partition_by: [ts_code, year] }"
    fi
    for line in "$@"; do
      if [[ $line == "split: {"* && -n $strategy ]]; then
        line="split: { strategy: $strategy, ${line#split: \{ }"
        split=1
      fi
      echo "$line"
    done
    if [[ $split == 0 && -n $strategy ]]; then echo "split: { strategy: $strategy }"; fi
  } >"$file"
}

# The canonical CSV of landed rows, as the emulator's truth prints it, from any DuckDB source.
CANON_COLS="ts_code, strftime(trade_date, '%Y-%m-%d') AS trade_date, printf('%.2f', open) AS open,
  printf('%.2f', high) AS high, printf('%.2f', low) AS low, printf('%.2f', close) AS close,
  printf('%.2f', pre_close) AS pre_close, printf('%.2f', change) AS change,
  printf('%.2f', pct_chg) AS pct_chg, printf('%.2f', vol) AS vol, printf('%.2f', amount) AS amount"

canonical_from() {  # DB_FILE_OR_:memory: FROM_CLAUSE
  "$DUCKDB_READ" "$1" "SELECT $CANON_COLS FROM $2 ORDER BY ts_code, trade_date"
}

# count_lines FILE PATTERN
count_matching() { grep -c -- "$2" "$1" || true; }

# XLSX_PYTHON: a python3 with openpyxl (Debian's python3-openpyxl), for reading workbooks.
xlsx_python() {
  local p
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import openpyxl' 2>/dev/null; then
      XLSX_PYTHON=$p
      return 0
    fi
  done
  fail "python3-openpyxl is not installed (scripts/test.sh installs it)"
}

# The same canonical CSV from the database sinks, read with the stores' own clients.
canonical_sqlite() {  # DB_FILE TABLE
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
cols = "open, high, low, close, pre_close, change, pct_chg, vol, amount"
print("ts_code,trade_date," + cols.replace(" ", ""))
q = f'SELECT ts_code, trade_date, {cols} FROM "{sys.argv[2]}" ORDER BY ts_code, trade_date'
for r in con.execute(q):
    print(",".join([r[0], r[1]] + ["%.2f" % v for v in r[2:]]))
PY
}

canonical_pg() {  # SCHEMA TABLE (database: FINSYNC_TEST_PG_DSN)
  local c cols="" list=(open high low close pre_close change pct_chg vol amount)
  for c in "${list[@]}"; do cols+=", round($c::numeric, 2) AS $c"; done
  psql -X -A -F, -P footer=off -q -v ON_ERROR_STOP=1 "$FINSYNC_TEST_PG_DSN" \
    -c "SELECT ts_code, to_char(trade_date, 'YYYY-MM-DD') AS trade_date$cols FROM \"$1\".\"$2\" ORDER BY ts_code COLLATE \"C\", trade_date"
}

psql_q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$FINSYNC_TEST_PG_DSN" -c "$1"; }

# start_recorder NAME [recorder options]: a mongo_recorder (tests/tools/mongo_recorder.hpp: a
# loopback MongoDB wire-protocol recorder) logging to $WORK/NAME.jsonl; sets NAME_PORT, NAME_LOG
# and NAME_PID.
start_recorder() {
  : "${MONGO_RECORDER:?MONGO_RECORDER must point at the mongo_recorder tool}"
  local name=$1 port_file="$WORK/$1.port"
  shift
  "$MONGO_RECORDER" --log "$WORK/$name.jsonl" --port-file "$port_file" "$@" \
    >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
  EMU_PIDS+=($!)
  printf -v "${name}_PID" '%s' "$!"
  for _ in $(seq 1 200); do
    [[ -s "$port_file" ]] && break
    sleep 0.05
  done
  [[ -s "$port_file" ]] || fail "recorder $name did not start: $(cat "$WORK/$name.stderr")"
  printf -v "${name}_PORT" '%s' "$(cat "$port_file")"
  printf -v "${name}_LOG" '%s' "$WORK/$name.jsonl"
}

# start_ddb_recorder NAME [--password P]: the DolphinDB API recorder (tests/tools/ddb_recorder.mjs,
# on node with the pinned official client that tests/tools/install_dolphindb_npm.sh installs in
# DOLPHINDB_NPM, default build/npm-dolphindb) logging to $WORK/NAME.jsonl; sets NAME_TCP and
# NAME_WS (its ports), NAME_LOG, NAME_STATE (its tables as JSON) and NAME_PID (SIGHUP restarts it).
DOLPHINDB_NPM=${DOLPHINDB_NPM:-$SOURCE_DIR/build/npm-dolphindb}
start_ddb_recorder() {
  local name=$1 ports="$WORK/$1.ports"
  shift
  [[ -f $DOLPHINDB_NPM/node_modules/dolphindb/package.json ]] ||
    fail "the dolphindb npm client is not in $DOLPHINDB_NPM: run tests/tools/install_dolphindb_npm.sh (scripts/test.sh does)"
  node "$SOURCE_DIR/tests/tools/ddb_recorder.mjs" --npm "$DOLPHINDB_NPM" --log "$WORK/$name.jsonl" \
    --state "$WORK/$name.state.json" --ports "$ports" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
  EMU_PIDS+=($!)
  printf -v "${name}_PID" '%s' "$!"
  for _ in $(seq 1 400); do
    [[ -s "$ports" ]] && break
    sleep 0.05
  done
  [[ -s "$ports" ]] || fail "recorder $name did not start: $(cat "$WORK/$name.stderr")"
  local tcp ws
  read -r tcp ws <"$ports"
  printf -v "${name}_TCP" '%s' "$tcp"
  printf -v "${name}_WS" '%s' "$ws"
  printf -v "${name}_LOG" '%s' "$WORK/$name.jsonl"
  printf -v "${name}_STATE" '%s' "$WORK/$name.state.json"
}

# canonical_ddb STATE TABLE: a table of the DolphinDB recorder's state (NAME_STATE;
# dfs://db/t or t) as the emulator's truth prints it, ordered by the key.
canonical_ddb() {
  python3 - "$1" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tables"][sys.argv[2]]
cols = t["columns"]
want = ["ts_code", "trade_date", "open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"]
idx = [cols.index(c) for c in want]
print(",".join(want))
for r in sorted(t["rows"], key=lambda r: (r[idx[0]], r[idx[1]])):
    print(",".join([r[idx[0]], r[idx[1]]] + ["%.2f" % r[i] for i in idx[2:]]))
PY
}

# The mariadb client on FINSYNC_TEST_MYSQL_DSN's server (as its user), batch mode, no headers:
# mysql_q [DATABASE] -e SQL.
mysql_q() {
  local hp=${FINSYNC_TEST_MYSQL_DSN#*@} user=${FINSYNC_TEST_MYSQL_DSN#mysql://}
  hp=${hp%%/*}
  mariadb -N -B -h "${hp%:*}" -P "${hp##*:}" -u "${user%%@*}" "$@"
}

# use_mysql_db NAME: a new database on the test server; FINSYNC_IT_MYSQL_DB names it and
# FINSYNC_IT_MYSQL_DSN points at it (write_plan's mysql sink). Dropped by drop_mysql_dbs.
MYSQL_DBS=()
use_mysql_db() {
  export FINSYNC_IT_MYSQL_DB=$1
  export FINSYNC_IT_MYSQL_DSN="${FINSYNC_TEST_MYSQL_DSN%/*}/$1"
  mysql_q -e "CREATE DATABASE $1" || fail "cannot create database $1"
  MYSQL_DBS+=("$1")
}
drop_mysql_dbs() {
  local d
  for d in "${MYSQL_DBS[@]}"; do mysql_q -e "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
}

canonical_mysql() { # DATABASE TABLE, with the mariadb client
  local c cols="" list=(open high low close pre_close change pct_chg vol amount)
  for c in "${list[@]}"; do cols+=", CAST(\`$c\` AS DECIMAL(30, 2)) AS \`$c\`"; done
  mysql_q --column-names "$1" -e "SELECT ts_code, DATE_FORMAT(trade_date, '%Y-%m-%d') AS trade_date$cols FROM \`$2\` ORDER BY ts_code, trade_date" | tr '\t' ','
}

# ClickHouse over its HTTP interface (FINSYNC_TEST_CLICKHOUSE_URL's server, as its user):
# ch_q SQL [DATABASE]; a server error fails the call with its text.
ch_q() {
  local hp=${FINSYNC_TEST_CLICKHOUSE_URL#*://}
  hp=${hp#*@}
  curl -sS --fail-with-body "http://${hp%%/*}/?database=${2:-default}" --data-binary "$1"
}

# use_ch_db NAME: a new database; FINSYNC_IT_CH_DB names it and FINSYNC_IT_CH_URL points at it
# (write_plan's clickhouse sink). Dropped by drop_ch_dbs.
CH_DBS=()
use_ch_db() {
  export FINSYNC_IT_CH_DB=$1
  export FINSYNC_IT_CH_URL="${FINSYNC_TEST_CLICKHOUSE_URL%%\?*}?database=$1"
  ch_q "CREATE DATABASE $1" || fail "cannot create database $1"
  CH_DBS+=("$1")
}
drop_ch_dbs() {
  local d
  for d in "${CH_DBS[@]}"; do ch_q "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
}

canonical_ch() { # DATABASE TABLE, read with FINAL over HTTP
  ch_q "SELECT ts_code, toString(trade_date), open, high, low, close, pre_close, change, pct_chg, vol, amount FROM \`$2\` FINAL ORDER BY ts_code, trade_date FORMAT TabSeparated" "$1" |
    python3 -c '
import sys
print("ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount")
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    print(",".join(f[:2] + ["%.2f" % float(v) for v in f[2:]]))'
}

# restart_mid_backfill KIND RESTART_COMMAND CANONICAL_CMD...: the body of the sink_*_restart
# tests. Runs plan `rs` of workspace $WS (written by the caller, into sink KIND) in the
# background, restarts the server with RESTART_COMMAND once at least 4 of its tasks have landed
# and some are still pending (the caller's `landed` function counts markers), then checks: exit
# 0, at least one reconnect in the report, `CANONICAL_CMD...` equal to $WORK/truth.csv, one
# marker per task. Prints the summary line.
restart_mid_backfill() {
  local kind=$1 restart=$2
  shift 2
  "$FINSYNC" -w "$WS" run rs -c 2 >"$WORK/run.out" 2>"$WORK/run.err" &
  local pid=$!
  for _ in $(seq 1 600); do
    [[ $(landed) -ge 4 ]] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  local at_restart total rc=0 reconnects
  at_restart=$(landed)
  total=$(sed -n 's/.*plan rs: \([0-9]*\) tasks, .*/\1/p' "$WORK/run.err" | head -1)
  [[ -n $total && $at_restart -ge 4 && $at_restart -lt $total ]] ||
    fail "no task pending at the restart: $at_restart of ${total:-?} landed"
  eval "$restart" || fail "the restart command failed"
  wait $pid || rc=$?
  assert_eq 0 $rc "exit code of the run the restart interrupted ($(tail -3 "$WORK/run.err"))"
  reconnects=$(sed -n "s/^  sink *$kind: [0-9]* commits, \([0-9]*\) reconnects, .*/\1/p" "$WORK/run.out")
  [[ -n $reconnects && $reconnects -ge 1 ]] || fail "the report shows no reconnect: $(cat "$WORK/run.out")"
  "$@" >"$WORK/landed.csv"
  diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
    fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
  assert_eq "$total" "$(landed)" "tasks landed (one marker each)"
  echo "ok: $kind server restarted with $((total - at_restart)) of $total tasks pending; $reconnects reconnects; $(($(wc -l <"$WORK/truth.csv") - 1)) rows exact"
}
