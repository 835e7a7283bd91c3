#!/usr/bin/env bash
# Memory stays flat through the database sinks: 1,000,000 rows go through the sqlite, the
# postgres and the mysql sink (bench/db_sink_bench.cpp: in-memory batches of 50,000 rows, one
# commit each), and the peak RSS is within 16 MiB of the same run with 100,000 rows, while the
# rows themselves take ~100 MiB. The landed tables are counted with sqlite3 / psql / mariadb.
# Under AddressSanitizer the quarantine of freed memory is turned off for these runs, so RSS
# measures what is live.
source "$(dirname "$0")/lib.sh"

: "${DB_SINK_BENCH:?DB_SINK_BENCH must point at the db_sink_bench binary}"
[[ -n "${FINSYNC_TEST_PG_DSN:-}" ]] || fail "FINSYNC_TEST_PG_DSN is unset: this test needs a PostgreSQL server (scripts/test.sh starts one)"
[[ -n "${FINSYNC_TEST_MYSQL_DSN:-}" ]] || fail "FINSYNC_TEST_MYSQL_DSN is unset: this test needs a MariaDB server (scripts/test.sh starts one)"
S="finsync_it_mem_$$_$RANDOM"
pg_cleanup() {
  local rc=$?
  psql_q "DROP SCHEMA IF EXISTS ${S}_0 CASCADE; DROP SCHEMA IF EXISTS ${S}_1 CASCADE" >/dev/null 2>&1 || true
  drop_mysql_dbs
  (exit $rc)
  cleanup
}
trap pg_cleanup EXIT
use_mysql_db "${S}_0"
use_mysql_db "${S}_1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"

peak() {  # KIND ROWS RUN: the sink's peak RSS in KiB
  local out
  case $1 in
    sqlite) out=$("$DB_SINK_BENCH" --kind sqlite --rows "$2" --set "path=$WORK/$3.sqlite") ;;
    postgres) out=$("$DB_SINK_BENCH" --kind postgres --rows "$2" --set "dsn=$FINSYNC_TEST_PG_DSN" --set "schema=${S}_$3") ;;
    mysql) out=$("$DB_SINK_BENCH" --kind mysql --rows "$2" --set "dsn=${FINSYNC_TEST_MYSQL_DSN%/*}/${S}_$3") ;;
  esac || fail "$1: db_sink_bench with $2 rows exited $?"
  sed -n 's/.* peak_rss_kib \([0-9]*\).*/\1/p' <<<"$out"
}

report=""
for kind in sqlite postgres mysql; do
  small=$(peak $kind 100000 0)
  big=$(peak $kind 1000000 1)
  [[ -n $small && -n $big ]] || fail "$kind: no peak RSS"
  if [[ $kind == sqlite ]]; then
    n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*), count(DISTINCT ts_code) FROM bench_daily").fetchone())' "$WORK/1.sqlite")
    assert_eq "(1000000, 400)" "$n" "$kind: rows and symbols landed"
  elif [[ $kind == postgres ]]; then
    assert_eq "1000000|400" "$(psql_q "SELECT count(*) || '|' || count(DISTINCT ts_code) FROM ${S}_1.bench_daily")" "$kind: rows and symbols landed"
  else
    assert_eq "1000000|400" "$(mysql_q "${S}_1" -e "SELECT concat(count(*), '|', count(DISTINCT ts_code)) FROM bench_daily")" "$kind: rows and symbols landed"
  fi
  [[ $((big - small)) -lt $((16 * 1024)) ]] ||
    fail "$kind: peak RSS $small KiB with 100,000 rows but $big KiB with 1,000,000"
  report+=" $kind ${small}/${big} KiB;"
done
echo "ok: memory flat (peak RSS with 100k / 1M rows:$report)"
