#!/usr/bin/env bash
# Installs what the tests need, builds with sanitizers, and runs every test: unit tests and the
# integration tests against the emulator and the database servers that scripts/servers.sh starts
# on loopback (no network). The release build serves a short smoke test. Prints the time of each
# phase.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# libmongoc's /dev/shm counters, left behind by the processes the crash tests kill (docs/sinks.md).
export MONGOC_DISABLE_SHM=1
JOBS=${JOBS:-$(nproc)}
declare -a SUMMARY=()
T_ALL=$(date +%s)
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
trap stop_servers EXIT

phase() {
  local name=$1
  shift
  local t0=$(date +%s)
  echo "=== [$name] $*"
  "$@"
  local dt=$(($(date +%s) - t0))
  SUMMARY+=("$(printf '%-14s %5ss' "$name" "$dt")")
  echo "=== [$name] done in ${dt}s"
}

check_format() {
  local files
  files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src app tools tests bench -name '*.[ch]pp')
  # shellcheck disable=SC2086
  clang-format --dry-run --Werror $files
  echo "clang-format: ok"
}

build_asan() {
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$JOBS"
}

run_tests_asan() {
  # DuckDB and libcurl keep process-lifetime caches that LeakSanitizer would report as leaks.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  ctest --preset asan -j "$JOBS" --timeout 600
}

smoke_release() {
  cmake --build --preset release --target duckdb_read -j "$JOBS" >/dev/null
  SOURCE_DIR=$PWD FINSYNC=build/release/finsync EMULATOR=build/release/finsync-emulator \
    DUCKDB_READ=build/release/tests/tools/duckdb_read bash tests/integration/backfill_exact.sh
}

phase setup ./scripts/setup.sh
# Integration tests read JSON audit logs and state files with python3 and curl, workbooks with
# python3-openpyxl.
phase test-tools servers_apt_install python3 curl python3-openpyxl
# The dolphindb sink's tests: the official DolphinDB npm client (pinned) and its recorder.
phase dolphindb-npm ./tests/tools/install_dolphindb_npm.sh
phase lint ./scripts/lint_coroutines.sh
phase format check_format
phase build-asan build_asan
start_test_servers() {
  start_postgres
  start_mariadb
  start_clickhouse
}

phase servers start_test_servers
phase test-asan run_tests_asan
phase smoke-release smoke_release

echo
echo "phase times:"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
echo "  total          $(($(date +%s) - T_ALL))s"
