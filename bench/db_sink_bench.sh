#!/usr/bin/env bash
# Sink throughput against the store's own bulk loader, in the same run, on the same DDL and
# durability settings. finsync is fed from in-memory batches (bench/db_sink_bench.cpp: one commit
# with its landed marker per batch); the loader reads the same rows from a CSV file.
#
#   bench/db_sink_bench.sh KIND [ROWS] [ROUNDS]     KIND: sqlite | postgres | mysql |
#                                                         clickhouse | duckdb | excel | parquet
#                                                   (default 1,000,000 rows, 2 rounds)
#
# Each round runs finsync, then the loader(s), into fresh tables; the best round of each counts.
# postgres uses FINSYNC_TEST_PG_DSN, mysql FINSYNC_TEST_MYSQL_DSN, clickhouse
# FINSYNC_TEST_CLICKHOUSE_URL and FINSYNC_TEST_CLICKHOUSE_TCP_PORT, or each starts a throwaway
# server (scripts/servers.sh). duckdb compares with DuckDB's COPY FROM the CSV (same library and
# settings, same DDL), excel with a bare libxlsxwriter constant_memory loop over the same rows. parquet has no loader: it lands ROWS and ROWS/10 rows and prints the peak
# RSS of each (memory must stay flat). A new kind adds its case below: how to load the CSV
# natively and how to measure bytes on disk.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${1:?usage: bench/db_sink_bench.sh sqlite|postgres|mysql|clickhouse|duckdb|excel|parquet [ROWS] [ROUNDS]}
ROWS=${2:-1000000}
ROUNDS=${3:-2}
BENCH=${SINK_BENCH:-build/release/bench/db_sink_bench}
W=$(mktemp -d /tmp/finsync-sink-bench.XXXXXX)
STARTED_SERVER=0
finish() {
  ((STARTED_SERVER)) && stop_servers
  rm -rf "$W"
}
trap finish EXIT

now() { date +%s.%N; }
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }  # a value from db_sink_bench's output line
best() { sort -g | tail -1; }
rate() { awk -v r="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", r / s }'; }

# The loaders' input (parquet has no loader).
[[ $KIND == parquet ]] || "$BENCH" --csv "$W/rows.csv" --rows "$ROWS"
declare -a F_RATES=() N_RATES=() L_RATES=() U_RATES=()
case $KIND in
  sqlite)
    command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (apt-get install sqlite3)" >&2; exit 1; }
    for r in $(seq 1 "$ROUNDS"); do
      rm -f "$W"/*.sqlite*
      out=$("$BENCH" --kind sqlite --rows "$ROWS" --set "path=$W/finsync.sqlite")
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(stat -c %s "$W/finsync.sqlite")
      # The same rows again: every key exists, every row is an update.
      U_RATES+=("$("$BENCH" --kind sqlite --rows "$ROWS" --set "path=$W/finsync.sqlite" | field rows_per_s)")
      ddl=$(sqlite3 "$W/finsync.sqlite" "SELECT sql FROM sqlite_master WHERE name = 'bench_daily'")
      # The CLI's .import (one transaction), same DDL, WAL, synchronous=FULL.
      sqlite3 "$W/import.sqlite" "PRAGMA journal_mode=WAL" "$ddl" >/dev/null
      t0=$(now)
      sqlite3 "$W/import.sqlite" -cmd "PRAGMA synchronous=FULL" ".import --csv --skip 1 $W/rows.csv bench_daily"
      t1=$(now)
      N_RATES+=("$(rate "$(echo "$t1 - $t0" | bc -l)")")
      N_BYTES=$(stat -c %s "$W/import.sqlite")
      # A bare prepared-statement loop in one transaction, same DDL and pragmas.
      sqlite3 "$W/loop.sqlite" "PRAGMA journal_mode=WAL" "$ddl" >/dev/null
      L_RATES+=("$("$BENCH" --sqlite-loop "$W/loop.sqlite" --table bench_daily --rows "$ROWS" | field rows_per_s)")
      [[ $(sqlite3 "$W/import.sqlite" "SELECT count(*) FROM bench_daily") == "$ROWS" ]] || { echo "import lost rows" >&2; exit 1; }
      [[ $(sqlite3 "$W/finsync.sqlite" "SELECT count(*) FROM bench_daily") == "$ROWS" ]] || { echo "finsync lost rows" >&2; exit 1; }
    done
    NATIVE="sqlite3 .import"
    LOOP="prepared-statement loop"
    ;;
  postgres)
    if [[ -z "${FINSYNC_TEST_PG_DSN:-}" ]]; then
      source scripts/servers.sh
      start_postgres
      STARTED_SERVER=1
    fi
    DSN=$FINSYNC_TEST_PG_DSN
    S="finsync_bench_$$"
    q() { PGOPTIONS="-c client_min_messages=warning" psql -X -A -t -q -v ON_ERROR_STOP=1 "$DSN" -c "$1"; }
    for r in $(seq 1 "$ROUNDS"); do
      q "DROP SCHEMA IF EXISTS $S CASCADE; CREATE SCHEMA $S"
      q "CHECKPOINT"
      out=$("$BENCH" --kind postgres --rows "$ROWS" --set "dsn=$DSN" --set "schema=$S")
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(q "SELECT pg_total_relation_size('$S.bench_daily')")
      U_RATES+=("$("$BENCH" --kind postgres --rows "$ROWS" --set "dsn=$DSN" --set "schema=$S" | field rows_per_s)")
      [[ $(q "SELECT count(*) FROM $S.bench_daily") == "$ROWS" ]] || { echo "finsync lost rows" >&2; exit 1; }
      # psql \copy (client-side COPY, text CSV) into the same DDL: columns, NOT NULL, key.
      q "CREATE TABLE $S.native (LIKE $S.bench_daily INCLUDING ALL)"
      q "CHECKPOINT"
      t0=$(now)
      psql -X -q -v ON_ERROR_STOP=1 "$DSN" -c "\\copy $S.native FROM '$W/rows.csv' WITH (FORMAT csv, HEADER true)"
      t1=$(now)
      N_RATES+=("$(rate "$(echo "$t1 - $t0" | bc -l)")")
      N_BYTES=$(q "SELECT pg_total_relation_size('$S.native')")
      [[ $(q "SELECT count(*) FROM $S.native") == "$ROWS" ]] || { echo "\\copy lost rows" >&2; exit 1; }
    done
    q "DROP SCHEMA IF EXISTS $S CASCADE"
    NATIVE="psql \\copy"
    LOOP=""
    ;;
  mysql)
    if [[ -z "${FINSYNC_TEST_MYSQL_DSN:-}" ]]; then
      source scripts/servers.sh
      start_mariadb
      STARTED_SERVER=1
    fi
    DSN=${FINSYNC_TEST_MYSQL_DSN%/*}/finsync_bench_$$
    hostport=${FINSYNC_TEST_MYSQL_DSN#*@}
    hostport=${hostport%%/*}
    user=${FINSYNC_TEST_MYSQL_DSN#mysql://}
    user=${user%%@*}
    D="finsync_bench_$$"
    q() { mariadb -N -B -h "${hostport%:*}" -P "${hostport##*:}" -u "$user" "$@"; }
    # Bytes on disk: the table's tablespace file as InnoDB allocated it (file per table).
    ibd() { q -e "SELECT ALLOCATED_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = '$D/$1'"; }
    # CPU seconds (user + system) of the server (every thread, from /proc; it runs on this
    # machine and its pid file says which process it is) and of the client (bash's `time`) for
    # the same work: steadier figures than the wall clock when other work keeps the cores busy.
    pidfile=$(q -e "SELECT IF(@@pid_file LIKE '/%', @@pid_file, CONCAT(@@datadir, @@pid_file))")
    SPID=$(cat "$pidfile")
    server_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$SPID/stat"; }
    TIMEFORMAT='%3U %3S'
    cpu_of() { # CMD...: runs it (stdout to $W/cpu.out) and prints "server client" CPU seconds
      local c0 t
      c0=$(server_cpu)
      t=$({ time "$@" >"$W/cpu.out" 2>"$W/cpu.err"; } 2>&1) || { cat "$W/cpu.err" >&2; return 1; }
      echo "$(server_cpu) $c0 $t" | awk '{ printf "%.2f %.2f\n", $1 - $2, $3 + $4 }'
    }
    declare -a I_RATES=() IU_RATES=() M_RATES=() F_CPU=() N_CPU=()
    for r in $(seq 1 "$ROUNDS"); do
      q -e "DROP DATABASE IF EXISTS $D; CREATE DATABASE $D"
      F_CPU+=("$(cpu_of "$BENCH" --kind mysql --rows "$ROWS" --set "dsn=$DSN")")
      out=$(cat "$W/cpu.out")
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(ibd bench_daily)
      U_RATES+=("$("$BENCH" --kind mysql --rows "$ROWS" --set "dsn=$DSN" | field rows_per_s)")
      [[ $(q "$D" -e "SELECT count(*) FROM bench_daily") == "$ROWS" ]] || { echo "finsync lost rows" >&2; exit 1; }
      # A column the plan does not write: upserts go through the stage table and its merge.
      q "$D" -e "ALTER TABLE bench_daily ADD COLUMN note text"
      M_RATES+=("$("$BENCH" --kind mysql --rows "$ROWS" --set "dsn=$DSN" --set schema_drift=evolve | field rows_per_s)")
      # The other load path: multi-row INSERT ... ON DUPLICATE KEY UPDATE.
      I_RATES+=("$("$BENCH" --kind mysql --rows "$ROWS" --table bench_insert --set "dsn=$DSN" --set load=insert | field rows_per_s)")
      IU_RATES+=("$("$BENCH" --kind mysql --rows "$ROWS" --table bench_insert --set "dsn=$DSN" --set load=insert | field rows_per_s)")
      [[ $(q "$D" -e "SELECT count(*) FROM bench_insert") == "$ROWS" ]] || { echo "finsync (insert) lost rows" >&2; exit 1; }
      # The mariadb client's LOAD DATA LOCAL INFILE (one statement, one transaction) into the
      # same DDL on the same server.
      q "$D" -e "CREATE TABLE native LIKE bench_daily"
      t0=$(now)
      N_CPU+=("$(cpu_of q --local-infile=1 "$D" -e "LOAD DATA LOCAL INFILE '$W/rows.csv' INTO TABLE native CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' IGNORE 1 LINES")")
      t1=$(now)
      N_RATES+=("$(rate "$(echo "$t1 - $t0" | bc -l)")")
      N_BYTES=$(ibd native)
      [[ $(q "$D" -e "SELECT count(*) FROM native") == "$ROWS" ]] || { echo "LOAD DATA lost rows" >&2; exit 1; }
    done
    q -e "DROP DATABASE IF EXISTS $D"
    NATIVE="mariadb LOAD DATA LOCAL"
    LOOP=""
    ;;
  clickhouse)
    if [[ -z "${FINSYNC_TEST_CLICKHOUSE_URL:-}" || -z "${FINSYNC_TEST_CLICKHOUSE_TCP_PORT:-}" ]]; then
      source scripts/servers.sh
      start_clickhouse
      STARTED_SERVER=1
    fi
    command -v clickhouse-client >/dev/null || { echo "clickhouse-client missing (apt-get install clickhouse-client)" >&2; exit 1; }
    D="finsync_bench_$$"
    hostport=${FINSYNC_TEST_CLICKHOUSE_URL#*://}
    hostport=${hostport#*@}
    hostport=${hostport%%/*}
    URL="${FINSYNC_TEST_CLICKHOUSE_URL%%\?*}?database=$D"
    q() { curl -sS --fail-with-body "http://$hostport/?database=$D" --data-binary "$1"; }
    # Bytes on disk: the active parts of the table.
    parts() { q "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '$D' AND table = '$1' AND active"; }
    for r in $(seq 1 "$ROUNDS"); do
      curl -sS --fail-with-body "http://$hostport/" --data-binary "DROP DATABASE IF EXISTS $D" >/dev/null
      curl -sS --fail-with-body "http://$hostport/" --data-binary "CREATE DATABASE $D" >/dev/null
      out=$("$BENCH" --kind clickhouse --rows "$ROWS" --set "dsn=$URL")
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(parts bench_daily)
      # The same rows again: every key exists (ReplacingMergeTree: new parts, merged later).
      U_RATES+=("$("$BENCH" --kind clickhouse --rows "$ROWS" --set "dsn=$URL" | field rows_per_s)")
      [[ $(q "SELECT count() FROM bench_daily FINAL") == "$ROWS" ]] || { echo "finsync lost rows" >&2; exit 1; }
      # clickhouse-client's INSERT from the CSV file over the native protocol, into the same DDL.
      q "CREATE TABLE native AS bench_daily"
      t0=$(now)
      clickhouse-client --host "${hostport%:*}" --port "$FINSYNC_TEST_CLICKHOUSE_TCP_PORT" --database "$D" \
        --query "INSERT INTO native FORMAT CSVWithNames" <"$W/rows.csv"
      t1=$(now)
      N_RATES+=("$(rate "$(echo "$t1 - $t0" | bc -l)")")
      N_BYTES=$(parts native)
      [[ $(q "SELECT count() FROM native FINAL") == "$ROWS" ]] || { echo "clickhouse-client lost rows" >&2; exit 1; }
    done
    curl -sS --fail-with-body "http://$hostport/" --data-binary "DROP DATABASE IF EXISTS $D" >/dev/null
    NATIVE="clickhouse-client INSERT"
    LOOP=""
    ;;
  duckdb)
    for _ in $(seq 1 "$ROUNDS"); do
      rm -f "$W"/*.duckdb "$W"/*.duckdb.wal
      out=$("$BENCH" --kind duckdb --rows "$ROWS" --set "path=$W/finsync.duckdb")
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(stat -c %s "$W/finsync.duckdb")
      U_RATES+=("$("$BENCH" --kind duckdb --rows "$ROWS" --set "path=$W/finsync.duckdb" | field rows_per_s)")
      N_RATES+=("$("$BENCH" --duckdb-copy "$W/native.duckdb" --like "$W/finsync.duckdb" --table bench_daily --from "$W/rows.csv" --rows "$ROWS" | field rows_per_s)")
      N_BYTES=$(stat -c %s "$W/native.duckdb")
    done
    NATIVE="DuckDB COPY FROM csv"
    LOOP=""
    ;;
  excel)
    # The workbook is built from the staging table at close: staging and build are both timed.
    for _ in $(seq 1 "$ROUNDS"); do
      rm -rf "$W"/*.xlsx "$W"/staging.duckdb*
      out=$("$BENCH" --kind excel --rows "$ROWS" --staging "$W/staging.duckdb" --set "path=$W/finsync.xlsx")
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(stat -c %s "$W/finsync.xlsx")
      U_RATES+=("$("$BENCH" --kind excel --rows "$ROWS" --staging "$W/staging.duckdb" --set "path=$W/finsync.xlsx" | field rows_per_s)")
      N_RATES+=("$("$BENCH" --xlsx-loop "$W/loop.xlsx" --rows "$ROWS" | field rows_per_s)")
      N_BYTES=$(stat -c %s "$W/loop.xlsx")
    done
    NATIVE="libxlsxwriter loop"
    LOOP=""
    ;;
  parquet)
    # Peak RSS at ROWS and at a tenth of it: flat memory means the two are close.
    small=$((ROWS / 10))
    for _ in $(seq 1 "$ROUNDS"); do
      rm -rf "$W/pq" "$W"/staging.duckdb*
      out=$("$BENCH" --kind parquet --rows "$ROWS" --staging "$W/staging.duckdb" --set "path=$W/pq" --set partition_by=ts_code+year)
      F_RATES+=("$(echo "$out" | field rows_per_s)")
      F_RSS=$(echo "$out" | field peak_rss_kib)
      F_BYTES=$(du -sb "$W/pq" | cut -f1)
      rm -rf "$W/pq" "$W"/staging.duckdb*
      S_RSS=$("$BENCH" --kind parquet --rows "$small" --staging "$W/staging.duckdb" --set "path=$W/pq" --set partition_by=ts_code+year | field peak_rss_kib)
      rm -rf "$W/pq" "$W"/staging.duckdb*
    done
    rows_read=$(printf '%s\n' "${F_RATES[@]}" | best)
    printf 'parquet, %s rows, best of %s rounds, partition_by [ts_code, year]\n' "$ROWS" "$ROUNDS"
    printf '  finsync parquet sink %10s rows/s  %12s bytes of files  peak RSS %s KiB (rounds: %s)\n' "$rows_read" "$F_BYTES" "$F_RSS" "${F_RATES[*]}"
    printf '  %s rows: peak RSS %s KiB; ratio of peak RSS, %s rows / %s rows: %s\n' "$small" "$S_RSS" "$ROWS" "$small" \
      "$(awk -v a="$F_RSS" -v b="$S_RSS" 'BEGIN { printf "%.2f", a / b }')"
    exit 0
    ;;
  *)
    echo "unknown kind $KIND" >&2
    exit 64
    ;;
esac

f=$(printf '%s\n' "${F_RATES[@]}" | best)
n=$(printf '%s\n' "${N_RATES[@]}" | best)
printf '%s, %s rows, best of %s rounds\n' "$KIND" "$ROWS" "$ROUNDS"
printf '  %-26s %10s rows/s  %12s bytes  peak RSS %s KiB   (rounds: %s)\n' "finsync $KIND sink" "$f" "$F_BYTES" "$F_RSS" "${F_RATES[*]}"
printf '  %-26s %10s rows/s  %12s bytes   (rounds: %s)\n' "$NATIVE" "$n" "$N_BYTES" "${N_RATES[*]}"
ratio() { awk -v f="$1" -v n="$2" 'BEGIN { printf "%.0f%%", 100 * f / n }'; }
printf '  ratio finsync / %s: %s\n' "$NATIVE" "$(ratio "$f" "$n")"
if [[ -n $LOOP ]]; then
  l=$(printf '%s\n' "${L_RATES[@]}" | best)
  printf '  %-26s %10s rows/s   (rounds: %s)\n' "$LOOP" "$l" "${L_RATES[*]}"
  printf '  ratio finsync / %s: %s\n' "$LOOP" "$(ratio "$f" "$l")"
fi
u=$(printf '%s\n' "${U_RATES[@]}" | best)
printf '  %-26s %10s rows/s   (rounds: %s; every key exists: the merge path)\n' "finsync upsert again" "$u" "${U_RATES[*]}"
if [[ $KIND == mysql ]]; then
  # The round of least total CPU of each.
  least() { printf '%s\n' "$@" | awk '{ print $1 + $2, $1, $2 }' | sort -g | head -1; }
  read -r ft fs fc <<<"$(least "${F_CPU[@]}")"
  read -r nt ns nc <<<"$(least "${N_CPU[@]}")"
  printf '  CPU seconds, server + client: finsync %s + %s, %s %s + %s; rows per CPU second: %s\n' \
    "$fs" "$fc" "$NATIVE" "$ns" "$nc" "$(ratio "$nt" "$ft") of the loader's"
  i=$(printf '%s\n' "${I_RATES[@]}" | best)
  iu=$(printf '%s\n' "${IU_RATES[@]}" | best)
  m=$(printf '%s\n' "${M_RATES[@]}" | best)
  printf '  %-26s %10s rows/s   (rounds: %s; every key exists, the table has a column more)\n' "upsert through the stage" "$m" "${M_RATES[*]}"
  printf '  %-26s %10s rows/s   (rounds: %s)\n' "finsync load: insert" "$i" "${I_RATES[*]}"
  printf '  ratio load: insert / %s: %s\n' "$NATIVE" "$(ratio "$i" "$n")"
  printf '  %-26s %10s rows/s   (rounds: %s; every key exists)\n' "load: insert, upsert again" "$iu" "${IU_RATES[*]}"
fi
