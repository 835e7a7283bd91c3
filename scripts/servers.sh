#!/usr/bin/env bash
# Throwaway database servers for the tests, on loopback ports, each in its own mktemp directory,
# stopped by the pid that was started (never by name). Source it and call the functions:
#
#   source scripts/servers.sh
#   start_postgres      # exports FINSYNC_TEST_PG_DSN and FINSYNC_TEST_PG_RESTART
#   start_mariadb       # exports FINSYNC_TEST_MYSQL_DSN and FINSYNC_TEST_MYSQL_RESTART
#   start_clickhouse    # exports FINSYNC_TEST_CLICKHOUSE_URL, FINSYNC_TEST_CLICKHOUSE_RESTART and
#                       # FINSYNC_TEST_CLICKHOUSE_TCP_PORT (the native port, for clickhouse-client)
#   ...
#   stop_servers        # stops whatever this shell started
#
# or run `scripts/servers.sh postgres` for a server to develop against: it prints the exports
# and keeps the server until Enter is pressed. Runs as root (the test machine's user); a server
# that refuses root is run as its own system user via runuser.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SERVERS_SH=$(realpath "${BASH_SOURCE[0]}")
declare -a FINSYNC_SERVER_STOPS=()

servers_log() { printf '[servers] %s\n' "$*" >&2; }

# Packages via apt only when missing.
servers_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    servers_log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# A loopback TCP port nobody listens on right now. Another process may still take it before the
# server binds; callers retry with a new port when the start fails.
servers_free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if [[ -z "$(ss -Htln "sport = :$p")" ]]; then
      echo "$p"
      return 0
    fi
  done
  servers_log "no free port found"
  return 1
}

# PostgreSQL 15 with trust authentication for everyone except members of the role
# finsync_password_required, who must give their password over TCP: tests create a login role
# in that group to check what a wrong password does.
start_postgres() {
  servers_apt_install postgresql-15
  local dir port data log pid attempt started=0
  dir=$(mktemp -d /tmp/finsync-pg.XXXX)
  # PostgreSQL refuses to run as root; its user must own (and so reach) the directory.
  chown postgres "$dir"
  data=$dir/data
  log=$dir/postgres.log
  runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -A trust -U postgres >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  # pg_hba.conf is read top-down: the first matching line decides.
  {
    echo "host all +finsync_password_required 127.0.0.1/32 scram-sha-256"
    cat "$data/pg_hba.conf"
  } >"$dir/pg_hba.conf"
  mv "$dir/pg_hba.conf" "$data/pg_hba.conf"
  chown postgres "$data/pg_hba.conf"
  for attempt in 1 2 3 4 5; do
    port=$(servers_free_port) || return 1
    if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -l "$log" -w -t 60 start >/dev/null; then
      started=1
      break
    fi
    servers_log "postgres did not start on port $port (attempt $attempt)"
  done
  if ((!started)); then
    tail -n 20 "$log" >&2
    return 1
  fi
  pid=$(head -n 1 "$data/postmaster.pid")
  FINSYNC_SERVER_STOPS+=("stop_postgres_dir $dir $pid")
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE finsync_test" -c "CREATE ROLE finsync_password_required NOLOGIN" >/dev/null
  export FINSYNC_TEST_PG_DSN="postgresql://postgres@127.0.0.1:$port/finsync_test"
  # Restarts this server (found through the pid file in its data directory) on the same port.
  export FINSYNC_TEST_PG_RESTART="runuser -u postgres -- $PG_BIN/pg_ctl -D $data -o '-p $port -k $dir -c listen_addresses=127.0.0.1' -l $log -w -t 60 -m fast restart >/dev/null"
  FINSYNC_TEST_PG_DIR=$dir
  servers_log "postgres 15 on 127.0.0.1:$port (pid $pid, dir $dir)"
}

stop_postgres_dir() {
  local dir=$1 pid=$2
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  # A restart changes the postmaster's pid; the pid file holds the current one.
  if [[ -f "$dir/data/postmaster.pid" ]]; then pid=$(head -n 1 "$dir/data/postmaster.pid"); fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

stop_postgres() {
  local i entry
  for i in "${!FINSYNC_SERVER_STOPS[@]}"; do
    entry=${FINSYNC_SERVER_STOPS[$i]}
    if [[ $entry == stop_postgres_dir* ]]; then
      $entry
      unset "FINSYNC_SERVER_STOPS[$i]"
    fi
  done
  unset FINSYNC_TEST_PG_DSN FINSYNC_TEST_PG_RESTART FINSYNC_TEST_PG_DIR
}

# MariaDB 10.11 as root, on a loopback port, socket and data in its own directory. Tests that
# check a wrong password create their own user with one (root has none).
start_mariadb() {
  servers_apt_install mariadb-server mariadb-client
  local dir port attempt started=0
  dir=$(mktemp -d /tmp/finsync-my.XXXX)
  mariadb-install-db --user=root --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1 || {
    cat "$dir/install.log" >&2
    return 1
  }
  for attempt in 1 2 3 4 5; do
    port=$(servers_free_port) || return 1
    if mariadb_start_dir "$dir" "$port"; then
      started=1
      break
    fi
    servers_log "mariadb did not start on port $port (attempt $attempt)"
  done
  if ((!started)); then
    tail -n 20 "$dir/error.log" >&2
    return 1
  fi
  FINSYNC_SERVER_STOPS+=("mariadb_stop_dir $dir")
  mariadb -h 127.0.0.1 -P "$port" -u root -e "CREATE DATABASE finsync_test" || return 1
  export FINSYNC_TEST_MYSQL_DSN="mysql://root@127.0.0.1:$port/finsync_test"
  export FINSYNC_TEST_MYSQL_RESTART="bash $SERVERS_SH restart-mariadb $dir $port"
  servers_log "mariadb $(mariadb -N -h 127.0.0.1 -P "$port" -u root -e 'SELECT VERSION()') on 127.0.0.1:$port (pid $(cat "$dir/pid"), dir $dir)"
}

# Starts mariadbd on DIR's data and waits until it answers; false when it did not come up.
mariadb_start_dir() {
  local dir=$1 port=$2
  rm -f "$dir/pid"
  mariadbd --user=root --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$dir/pid" --log-error="$dir/error.log" \
    --local-infile=1 >/dev/null 2>&1 &
  local pid=$! _
  for _ in $(seq 1 120); do
    if mariadb -h 127.0.0.1 -P "$port" -u root -e "SELECT 1" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null
  return 1
}

# Stops the server whose pid is in DIR/pid and waits for it to exit.
mariadb_kill_dir() {
  local dir=$1 pid _
  [[ -f "$dir/pid" ]] || return 0
  pid=$(cat "$dir/pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
}

mariadb_stop_dir() {
  mariadb_kill_dir "$1"
  rm -rf "$1"
}

# ClickHouse (Debian ships 18.16) with its HTTP and native ports on loopback, every path in its
# own directory.
start_clickhouse() {
  servers_apt_install clickhouse-server clickhouse-client
  local dir port attempt started=0
  dir=$(mktemp -d /tmp/finsync-ch.XXXX)
  for attempt in 1 2 3 4 5; do
    port=$(servers_free_port) || return 1
    if clickhouse_start_dir "$dir" "$port"; then
      started=1
      break
    fi
    servers_log "clickhouse did not start on port $port (attempt $attempt)"
  done
  if ((!started)); then
    tail -n 20 "$dir/err.log" >&2
    return 1
  fi
  FINSYNC_SERVER_STOPS+=("clickhouse_stop_dir $dir")
  curl -sS --fail "http://127.0.0.1:$port/" --data-binary "CREATE DATABASE IF NOT EXISTS finsync_test" || return 1
  export FINSYNC_TEST_CLICKHOUSE_URL="http://default@127.0.0.1:$port/?database=finsync_test"
  export FINSYNC_TEST_CLICKHOUSE_RESTART="bash $SERVERS_SH restart-clickhouse $dir $port"
  FINSYNC_TEST_CLICKHOUSE_TCP_PORT=$(cat "$dir/tcp_port")
  export FINSYNC_TEST_CLICKHOUSE_TCP_PORT
  servers_log "clickhouse $(curl -sS "http://127.0.0.1:$port/?query=SELECT%20version()") on 127.0.0.1:$port (pid $(cat "$dir/pid"), dir $dir)"
}

# The native and interserver ports are taken at random too; the native one is kept in
# $dir/tcp_port, so that a restart listens where clickhouse-client was told to connect.
clickhouse_start_dir() {
  local dir=$1 port=$2 tcp inter _
  if [[ -s "$dir/tcp_port" ]]; then
    tcp=$(cat "$dir/tcp_port")
  else
    tcp=$(servers_free_port) || return 1
  fi
  inter=$(servers_free_port) || return 1
  mkdir -p "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- --path="$dir/" \
    --tmp_path="$dir/tmp/" --user_files_path="$dir/user_files/" \
    --format_schema_path="$dir/format_schemas/" --http_port="$port" --tcp_port="$tcp" \
    --interserver_http_port="$inter" --listen_host=127.0.0.1 --logger.log="$dir/server.log" \
    --logger.errorlog="$dir/err.log" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/pid"
  for _ in $(seq 1 240); do
    if [[ "$(curl -s "http://127.0.0.1:$port/ping" 2>/dev/null)" == "Ok." ]]; then
      echo "$tcp" >"$dir/tcp_port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null
  return 1
}

# A server told to stop keeps answering on open keep-alive connections until they go idle (a
# busy client keeps it up for good), so after 5 s it is killed: inserts it acknowledged are
# already in their parts on disk.
clickhouse_kill_dir() {
  local dir=$1 pid _
  [[ -f "$dir/pid" ]] || return 0
  pid=$(cat "$dir/pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
}

clickhouse_stop_dir() {
  clickhouse_kill_dir "$1"
  rm -rf "$1"
}

# Stops every server this shell started, newest first.
stop_servers() {
  local idx=("${!FINSYNC_SERVER_STOPS[@]}") k
  for ((k = ${#idx[@]} - 1; k >= 0; k--)); do
    ${FINSYNC_SERVER_STOPS[${idx[$k]}]}
  done
  FINSYNC_SERVER_STOPS=()
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    postgres)
      trap stop_servers EXIT
      start_postgres
      echo "export FINSYNC_TEST_PG_DSN='$FINSYNC_TEST_PG_DSN'"
      echo "export FINSYNC_TEST_PG_RESTART=\"$FINSYNC_TEST_PG_RESTART\""
      read -r -p "press Enter to stop the server " _
      ;;
    mariadb | clickhouse)
      trap stop_servers EXIT
      "start_$1"
      env | grep -E '^FINSYNC_TEST_(MYSQL|CLICKHOUSE)_' | sed "s/^/export /"
      read -r -p "press Enter to stop the server " _
      ;;
    # The restart commands exported by start_mariadb / start_clickhouse: stop by the pid file,
    # start again on the same port and data.
    restart-mariadb)
      mariadb_kill_dir "$2"
      mariadb_start_dir "$2" "$3"
      ;;
    restart-clickhouse)
      clickhouse_kill_dir "$2"
      # A new server answers within half a second; a client landing every 150 ms could miss an
      # outage that short, and a restart test must see one.
      sleep 1.5
      clickhouse_start_dir "$2" "$3"
      ;;
    *)
      echo "usage: $0 postgres|mariadb|clickhouse   (or source it: start_postgres, start_mariadb, start_clickhouse, stop_servers)" >&2
      exit 64
      ;;
  esac
fi
