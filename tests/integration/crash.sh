#!/usr/bin/env bash
# Crash safety. Each named failpoint (src/core/failpoint.hpp) kills a backfill into each sink it
# applies to, at a varied hit; a plain `finsync run` then resumes it. Error mode makes the same
# moments fail instead, and the run must exit 1 and resume the same way. Then random SIGKILLs
# (seed printed; CRASH_SEED=N reproduces) interrupt runs at arbitrary moments. After every
# crash and resume, exactly:
#   - the landed rows equal the emulator's truth value by value, with no key twice;
#   - files: one data file per partition and no temp file left; the staging table equals truth;
#   - the state store reopens, every task is done and status counts every row;
#   - daily requests repeated (same params in the crashed run and in any later one) are at most
#     the concurrency: only tasks in flight or waiting to land at the crash are fetched again.
source "$(dirname "$0")/lib.sh"

SEED=21 SYMBOLS=4 C=3
read -r -a SINKS <<<"${CRASH_SINKS:-parquet csv duckdb}"
FILE_SINKS=()
for k in "${SINKS[@]}"; do [[ $k == parquet || $k == csv ]] && FILE_SINKS+=("$k"); done
EXCEL=0
if [[ " ${SINKS[*]} " == *" excel "* ]]; then EXCEL=1 && xlsx_python; fi
PG_BASE="finsync_crash_$$_$RANDOM" PG_SCHEMAS=()
if [[ " ${SINKS[*]} " == *" postgres "* ]]; then
  [[ -n "${FINSYNC_TEST_PG_DSN:-}" ]] || fail "FINSYNC_TEST_PG_DSN is unset: the postgres sink needs a server (scripts/test.sh starts one)"
fi
if [[ " ${SINKS[*]} " == *" mysql "* ]]; then
  [[ -n "${FINSYNC_TEST_MYSQL_DSN:-}" ]] || fail "FINSYNC_TEST_MYSQL_DSN is unset: the mysql sink needs a server (scripts/test.sh starts one)"
fi
if [[ " ${SINKS[*]} " == *" clickhouse "* ]]; then
  [[ -n "${FINSYNC_TEST_CLICKHOUSE_URL:-}" ]] || fail "FINSYNC_TEST_CLICKHOUSE_URL is unset: the clickhouse sink needs a server (scripts/test.sh starts one)"
fi
db_cleanup() {
  local rc=$? s
  for s in "${PG_SCHEMAS[@]}"; do psql_q "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
  drop_mysql_dbs
  drop_ch_dbs
  (exit $rc)
  cleanup
}
trap db_cleanup EXIT
# mongodb: one recorder for every case (what a server would hold is its log replayed).
if [[ " ${SINKS[*]} " == *" mongodb "* ]]; then
  start_recorder mongo
  export FINSYNC_IT_MONGO_PORT=$mongo_PORT
fi
# dolphindb: one DolphinDB recorder for every case, a DFS database per case.
if [[ " ${SINKS[*]} " == *" dolphindb "* ]]; then
  DDB_PASSWORD="crash-ddb-$RANDOM-secret"
  start_ddb_recorder ddb --password "$DDB_PASSWORD"
  export FINSYNC_IT_DDB_PORT=$ddb_TCP FINSYNC_IT_DDB_PASSWORD=$DDB_PASSWORD
fi
# Each workspace lands apart: a postgres schema, a mysql, mongodb or dolphindb database of its own.
use_case_store() {
  local kind=$1 case_name=$2
  export FINSYNC_IT_PG_SCHEMA="${PG_BASE}_$case_name" FINSYNC_IT_MONGO_DB="crash_$case_name"
  export DDB_DATABASE="dfs://crash_$case_name"
  if [[ $kind == postgres ]]; then PG_SCHEMAS+=("$FINSYNC_IT_PG_SCHEMA"); fi
  if [[ $kind == mysql ]]; then use_mysql_db "${PG_BASE}_$case_name"; fi
  if [[ $kind == clickhouse ]]; then use_ch_db "${PG_BASE}_$case_name"; fi
  return 0
}
START=2015-01-01 END=2016-12-31 # 2 years x 4 symbols: 8 partitions
start_emulator emu --seed $SEED --symbols $SYMBOLS
# Random kills need runs that take a while, so that a delay lands inside one.
start_emulator slow --seed $SEED --symbols $SYMBOLS --latency-ms 15
export TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start "${START//-/}" --end "${END//-/}" >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
[[ $TRUTH_ROWS -gt 1500 ]] || fail "truth has only $TRUTH_ROWS rows"

now() { date +%s.%N; }

# daily_params AUDIT T0 T1: the params of daily requests that arrived in [T0, T1), one a line.
daily_params() {
  grep '"api_name":"daily"' "$1" | sed -n 's/^{"t":\([0-9.]*\),.*"params":\({[^}]*}\).*/\1 \2/p' |
    awk -v a="$2" -v b="$3" '$1 + 0 >= a + 0 && $1 + 0 < b + 0 { print $2 }' | sort -u
}

# check_landed WS SINK WHAT: the guarantees that hold after any crash once a run completed.
check_landed() {
  local ws=$1 kind=$2 what=$3 db="$1/data/finsync.duckdb" src dups
  case $kind in
    duckdb) src=cr ;;
    parquet) src="read_parquet('$ws/data/cr/**/*.parquet', hive_partitioning = true)" ;;
    csv) src="read_csv('$ws/data/cr/**/*.csv', hive_partitioning = true, header = true, types = {'trade_date': 'DATE', 'ts_code': 'VARCHAR'})" ;;
  esac
  if [[ $kind == sqlite ]]; then
    canonical_sqlite "$ws/data/cr.sqlite" cr >"$WORK/landed.csv"
    dups=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) - count(DISTINCT ts_code || trade_date) FROM cr").fetchone()[0])' "$ws/data/cr.sqlite")
  elif [[ $kind == mongodb ]]; then
    # Every statement must be an upsert by the key (the unique index makes a second copy of a
    # key impossible on a server), replayed in order.
    python3 "$SOURCE_DIR/tests/tools/mongo_landed.py" "$mongo_LOG" cr --check-statements \
      --db="$FINSYNC_IT_MONGO_DB" >"$WORK/landed.csv" || fail "$what: replaying the recorder's log"
    dups=0
  elif [[ $kind == dolphindb ]]; then
    canonical_ddb "$ddb_STATE" "$DDB_DATABASE/cr" >"$WORK/landed.csv"
    dups=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["tables"][sys.argv[2]]["rows"]; print(len(r) - len({(x[0], x[1]) for x in r}))' "$ddb_STATE" "$DDB_DATABASE/cr")
  elif [[ $kind == postgres ]]; then
    canonical_pg "$FINSYNC_IT_PG_SCHEMA" cr >"$WORK/landed.csv"
    dups=$(psql_q "SELECT count(*) - count(DISTINCT (ts_code, trade_date)) FROM $FINSYNC_IT_PG_SCHEMA.cr")
  elif [[ $kind == mysql ]]; then
    canonical_mysql "$FINSYNC_IT_MYSQL_DB" cr >"$WORK/landed.csv"
    dups=$(mysql_q "$FINSYNC_IT_MYSQL_DB" -e "SELECT count(*) - count(DISTINCT ts_code, trade_date) FROM cr")
  elif [[ $kind == clickhouse ]]; then
    # Read with FINAL, as ReplacingMergeTree is meant to be read: a re-landed key is one row.
    canonical_ch "$FINSYNC_IT_CH_DB" cr >"$WORK/landed.csv"
    dups=$(ch_q "SELECT count() - uniqExact(ts_code, trade_date) FROM cr FINAL" "$FINSYNC_IT_CH_DB")
  elif [[ $kind == excel ]]; then
    # The workbook, read with openpyxl (cell types checked too), and the staging table it is
    # built from.
    "$XLSX_PYTHON" "$SOURCE_DIR/tests/tools/xlsx_landed.py" "$ws/data/cr.xlsx" >"$WORK/landed.csv" ||
      fail "$what: the workbook does not read back"
    dups=$("$DUCKDB_READ" "$db" "SELECT count(*) - count(DISTINCT (ts_code, trade_date)) FROM cr" | tail -1)
    canonical_from "$db" cr >"$WORK/staged.csv"
    diff -q "$WORK/truth.csv" "$WORK/staged.csv" >/dev/null ||
      fail "$what: staging table differs from truth: $(diff "$WORK/truth.csv" "$WORK/staged.csv" | head -3)"
    assert_eq "" "$(find "$ws/data" -name '.cr.xlsx.tmp-*')" "$what: temp files left"
  elif [[ $kind == duckdb ]]; then
    canonical_from "$db" "$src" >"$WORK/landed.csv"
    dups=$("$DUCKDB_READ" "$db" "SELECT count(*) - count(DISTINCT (ts_code, trade_date)) FROM cr" | tail -1)
  else
    canonical_from :memory: "$src" >"$WORK/landed.csv"
    dups=$("$DUCKDB_READ" :memory: "SELECT count(*) - count(DISTINCT (ts_code, trade_date)) FROM $src" | tail -1)
    canonical_from "$db" cr >"$WORK/staged.csv"
    diff -q "$WORK/truth.csv" "$WORK/staged.csv" >/dev/null ||
      fail "$what: staging table differs from truth: $(diff "$WORK/truth.csv" "$WORK/staged.csv" | head -3)"
    local stray files
    stray=$(find "$ws/data/cr" -type f ! -name "data.$kind" | head -3)
    [[ -z $stray ]] || fail "$what: files left behind: $stray"
    files=$(find "$ws/data/cr" -type f -name "data.$kind" | wc -l)
    assert_eq 8 "$files" "$what: data files (one per partition)"
  fi
  assert_eq 0 "$dups" "$what: rows landed twice"
  diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
    fail "$what: landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -3)"
  local st
  st=$("$FINSYNC" -w "$ws" status cr | awk '$1 == "cr" { print $3 "/" $2 " " $8 }') || fail "$what: status failed"
  [[ -n $st && ${st%%/*} == "$(echo "${st#*/}" | cut -d' ' -f1)" ]] || fail "$what: tasks done after the resume: $st"
  # Regression: a task recovered from its landed marker kept 0 rows in the state store.
  assert_eq "$TRUTH_ROWS" "${st#* }" "$what: rows in status"
}

# repeated_after AUDIT T0 T1 T2: daily params seen in [T0, T1) and again in [T1, T2).
repeated_after() {
  daily_params "$1" "$2" "$3" >"$WORK/p.crashed"
  daily_params "$1" "$3" "$4" >"$WORK/p.later"
  comm -12 "$WORK/p.crashed" "$WORK/p.later" | wc -l
}

declare -A HITS=()
KILLS=0 ERRORS=0 REPEATED=0 MAX_REPEATED=0 CASE=0

# crash_case FAILPOINT kill|error HIT SINK [WRITE_MODE]
crash_case() {
  local fp=$1 mode=$2 hit=$3 kind=$4 write_mode=${5:-upsert} ws rc want t0 t1 t2 rep what
  CASE=$((CASE + 1))
  what="$fp:$mode@$hit/$kind/$write_mode"
  ws="$WORK/ws$CASE"
  use_case_store "$kind" "$CASE"
  new_workspace "$ws"
  write_plan "$ws/plans/cr.yaml" cr "$kind" $START $END "split: { window: 3m }"
  sed -i "s/^sink: {\(.*\) }\$/sink: {\1, mode: $write_mode }/" "$ws/plans/cr.yaml"
  grep -q "mode: $write_mode }" "$ws/plans/cr.yaml" || fail "$what: write mode not set"
  export TUSHARE_URL="http://127.0.0.1:$emu_PORT"
  t0=$(now)
  set +e
  FINSYNC_FAILPOINTS="$fp:$mode@$hit" "$FINSYNC" -w "$ws" run cr -c $C >"$ws/crash.out" 2>"$ws/crash.err"
  rc=$?
  set -e
  if [[ $mode == kill ]]; then
    want=137
    KILLS=$((KILLS + 1))
    grep -q "failpoint $fp hit $hit: SIGKILL" "$ws/crash.err" || fail "$what: no kill line: $(tail -2 "$ws/crash.err")"
  else
    want=1
    ERRORS=$((ERRORS + 1))
    grep -q "failpoint $fp hit $hit: injected error" "$ws/crash.err" "$ws/crash.out" ||
      fail "$what: the injected error is not reported: $(tail -2 "$ws/crash.err")"
  fi
  assert_eq $want $rc "$what: exit code of the crashed run"
  HITS[$fp]=$((${HITS[$fp]:-0} + hit))
  if [[ $fp == sink.inside_materialize && $kind == excel ]]; then
    # One workbook, built once at the end of the run: the crash comes before its rename.
    assert_eq 0 "$(find "$ws/data" -name cr.xlsx | wc -l)" "$what: workbooks renamed before the crash"
    assert_eq "$([[ $mode == kill ]] && echo 1 || echo 0)" "$(find "$ws/data" -name '.cr.xlsx.tmp-*' | wc -l)" "$what: temp files left by the crash"
  elif [[ $fp == sink.inside_materialize ]]; then
    # Partitions are renamed in order: hit N stops before the Nth rename. A kill leaves the rest
    # as temp files for the next run to clear; an error removes them itself.
    local renamed temps
    renamed=$(find "$ws/data/cr" -type f -name "data.$kind" | wc -l)
    temps=$(find "$ws/data/cr" -type f -name ".data.$kind.tmp-*" | wc -l)
    assert_eq $((hit - 1)) "$renamed" "$what: partitions renamed before the crash"
    assert_eq "$([[ $mode == kill ]] && echo $((8 - hit + 1)) || echo 0)" "$temps" "$what: temp files left by the crash"
  fi
  t1=$(now)
  "$FINSYNC" -w "$ws" run cr -c $C >"$ws/resume.out" 2>"$ws/resume.err" ||
    fail "$what: resume exited $?: $(tail -3 "$ws/resume.err")"
  t2=$(now)
  check_landed "$ws" "$kind" "$what"
  rep=$(repeated_after "$emu_AUDIT" "$t0" "$t1" "$t2")
  [[ $rep -le $C ]] || fail "$what: $rep daily requests repeated after the crash, more than the $C in flight"
  REPEATED=$((REPEATED + rep))
  [[ $rep -gt $MAX_REPEATED ]] && MAX_REPEATED=$rep
  echo "  $what: exit $rc, resumed, exact; $rep requests repeated"
}

# Hit numbers vary so that each failpoint is hit at least 5 times in total, at early and later
# moments of a run.
i=0
for kind in "${SINKS[@]}"; do
  crash_case engine.fetched_not_landed kill "$(echo 3 5 8 | cut -d' ' -f$((i % 3 + 1)))" $kind
  crash_case sink.inside_staging_write kill "$(echo 2 4 7 | cut -d' ' -f$((i % 3 + 1)))" $kind
  crash_case sink.after_commit_before_checkpoint kill "$(echo 1 3 6 | cut -d' ' -f$((i % 3 + 1)))" $kind
  crash_case state.inside_task_write kill "$(echo 2 6 11 | cut -d' ' -f$((i % 3 + 1)))" $kind
  i=$((i + 1))
done
# Materialization happens for file sinks only; 8 partitions, so hit 8 is the last rename.
if ((${#FILE_SINKS[@]})); then
  crash_case sink.inside_materialize kill 2 "${FILE_SINKS[0]}"
  crash_case sink.inside_materialize kill 8 "${FILE_SINKS[1 % ${#FILE_SINKS[@]}]}"
  crash_case sink.inside_materialize kill 5 "${FILE_SINKS[0]}"
fi
# The workbook is built once per run: hit 1 is its rename.
if ((EXCEL)); then
  for mode in kill kill kill error error; do crash_case sink.inside_materialize $mode 1 excel; done
fi
# Regression: replace mode emptied the table at the first commit of every run, so a resumed run
# deleted the rows its crashed predecessor had landed and checkpointed.
sink_at() { echo "${SINKS[$(($1 % ${#SINKS[@]}))]}"; }
crash_case engine.fetched_not_landed kill 10 "$(sink_at 2)" replace
crash_case sink.after_commit_before_checkpoint kill 4 "$(sink_at 0)" replace
# Error mode: the same moments fail cleanly (exit 1) and a plain run repairs them.
crash_case engine.fetched_not_landed error 4 "$(sink_at 1)"
crash_case sink.inside_staging_write error 3 "$(sink_at 0)"
crash_case sink.after_commit_before_checkpoint error 2 "$(sink_at 2)"
crash_case state.inside_task_write error 7 "$(sink_at 0)"
if ((${#FILE_SINKS[@]})); then
  crash_case sink.inside_materialize error 4 "${FILE_SINKS[1 % ${#FILE_SINKS[@]}]}"
fi

# An unknown failpoint is a configuration error (78), before any request.
set +e
FINSYNC_FAILPOINTS="sink.no_such_point:kill" "$FINSYNC" -w "$WORK/ws1" status >"$WORK/bad.out" 2>"$WORK/bad.err"
rc=$?
set -e
assert_eq 78 $rc "exit code for an unknown failpoint"
grep -q "unknown failpoint" "$WORK/bad.err" && grep -q "sink.inside_materialize" "$WORK/bad.err" ||
  fail "the error does not name the known failpoints: $(cat "$WORK/bad.err")"

# Random SIGKILLs, seeded.
CRASH_SEED=${CRASH_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "random kills: CRASH_SEED=$CRASH_SEED"
RANDOM=$CRASH_SEED
RANDOM_KILLS=0 RANDOM_RUNS=0
export TUSHARE_URL="http://127.0.0.1:$slow_PORT"
for kind in "${SINKS[@]}"; do
  CASE=$((CASE + 1))
  ws="$WORK/ws$CASE"
  use_case_store "$kind" "$CASE"
  new_workspace "$ws"
  write_plan "$ws/plans/cr.yaml" cr "$kind" $START $END "split: { window: 1m }"
  marks=("$(now)")
  for k in 1 2 3 4; do
    # The kill comes a random number of daily requests into the run, plus a random delay, so
    # it lands mid-run however fast the machine is.
    reqs=$((1 + RANDOM % 30)) delay=$(printf '0.%03d' $((RANDOM % 250)))
    target=$(($(grep -c '"api_name":"daily"' "$slow_AUDIT" || true) + reqs))
    set +e
    "$FINSYNC" -w "$ws" run cr -c $C >"$ws/r$k.out" 2>"$ws/r$k.err" &
    pid=$!
    for _ in $(seq 1 500); do
      [[ $(grep -c '"api_name":"daily"' "$slow_AUDIT") -ge $target ]] && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.02
    done
    sleep "$delay"
    kill -KILL $pid 2>/dev/null
    wait $pid
    rc=$?
    set -e
    RANDOM_RUNS=$((RANDOM_RUNS + 1))
    if [[ $rc -eq 137 ]]; then
      RANDOM_KILLS=$((RANDOM_KILLS + 1))
    else
      assert_eq 0 $rc "random run $kind/$k finished before its kill ($reqs requests + $delay s) but"
    fi
    marks+=("$(now)")
  done
  "$FINSYNC" -w "$ws" run cr -c $C >"$ws/final.out" 2>"$ws/final.err" ||
    fail "random/$kind: final run exited $?: $(tail -3 "$ws/final.err")"
  RANDOM_RUNS=$((RANDOM_RUNS + 1))
  marks+=("$(now)")
  check_landed "$ws" "$kind" "random/$kind (CRASH_SEED=$CRASH_SEED)"
  last=${#marks[@]}
  for ((k = 0; k < last - 2; k++)); do
    rep=$(repeated_after "$slow_AUDIT" "${marks[k]}" "${marks[k + 1]}" "${marks[last - 1]}")
    [[ $rep -le $C ]] || fail "random/$kind run $((k + 1)) (CRASH_SEED=$CRASH_SEED): $rep daily requests repeated later, more than the $C in flight"
    REPEATED=$((REPEATED + rep))
    [[ $rep -gt $MAX_REPEATED ]] && MAX_REPEATED=$rep
  done
done

# Every answer was a success, so repeats can only come from the crashes, not from retries.
for audit in "$emu_AUDIT" "$slow_AUDIT"; do
  other=$(grep -vc '"outcome":"ok"' "$audit" || true)
  assert_eq 0 "$other" "answers other than ok in $(basename "$audit")"
done

hits=""
points=(engine.fetched_not_landed sink.inside_staging_write sink.after_commit_before_checkpoint state.inside_task_write)
((${#FILE_SINKS[@]} + EXCEL)) && points+=(sink.inside_materialize)
for fp in "${points[@]}"; do
  [[ ${HITS[$fp]:-0} -ge 5 ]] || fail "failpoint $fp hit only ${HITS[$fp]:-0} times"
  hits+=" $fp=${HITS[$fp]}"
done
echo "crash: ok ($((KILLS + ERRORS)) failpoint runs ($KILLS killed, $ERRORS injected errors), each resumed; hits:$hits;" \
  "random: $RANDOM_KILLS kills in $RANDOM_RUNS runs, CRASH_SEED=$CRASH_SEED;" \
  "repeated daily requests: $REPEATED in total, at most $MAX_REPEATED after one crash (bound $C);" \
  "$TRUTH_ROWS rows exact each time; sinks ${SINKS[*]})"
