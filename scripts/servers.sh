#!/usr/bin/env bash
# Throwaway database servers for the tests, on loopback ports, each in its own mktemp directory,
# stopped by the pid that was started (never by name). Source it and call the functions:
#
#   source scripts/servers.sh
#   start_postgres      # exports FINSYNC_TEST_PG_DSN and FINSYNC_TEST_PG_RESTART
#   ...
#   stop_servers        # stops whatever this shell started
#
# or run `scripts/servers.sh postgres` for a server to develop against: it prints the exports
# and keeps the server until Enter is pressed. Runs as root (the test machine's user); a server
# that refuses root is run as its own system user via runuser.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
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
    *)
      echo "usage: $0 postgres   (or source it: start_postgres, stop_postgres, stop_servers)" >&2
      exit 64
      ;;
  esac
fi
