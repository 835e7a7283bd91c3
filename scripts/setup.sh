#!/usr/bin/env bash
# Installs the build dependencies (never database servers), fetches the pinned DuckDB C API
# from npm, then configures and builds the release preset. Idempotent and non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates openssl curl
  libcurl4-openssl-dev libboost1.81-dev libssl-dev libsimdjson-dev nlohmann-json3-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libexpected-dev libsqlite3-dev libpq-dev
  libmariadb-dev libhowardhinnant-date-dev libgtest-dev libgmock-dev libbenchmark-dev tzdata
  libmongoc-dev libbson-dev libxlsxwriter-dev
  clang-format sqlite3 bc
)

DUCKDB_VERSION=1.4.4
DUCKDB_HEADER_PKG="duckdb@${DUCKDB_VERSION}"
DUCKDB_HEADER_SHA512="hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="
DUCKDB_LIB_PKG="@duckdb/node-bindings-linux-x64@${DUCKDB_VERSION}-r.4"
DUCKDB_LIB_SHA512="jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="

log() { printf '[setup] %s\n' "$*"; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# Checks an npm tarball against its pinned SRI sha512 before anything in it is used.
npm_fetch() {
  local spec=$1 sha=$2 dest=$3 tmp tgz got
  tmp=$(mktemp -d)
  local attempt out
  for attempt in 1 2 3; do
    if out=$(cd "$tmp" && npm pack "$spec" 2>&1); then break; fi
    echo "[setup] npm pack $spec failed (attempt $attempt): $out" >&2
    [[ $attempt == 3 ]] && exit 1
    sleep $((attempt * 5))
  done
  tgz=$(ls "$tmp"/*.tgz)
  got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  if [[ "$got" != "$sha" ]]; then
    echo "integrity check failed for $spec: got sha512-$got, expected sha512-$sha" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$dest"
  tar -xzf "$tgz" -C "$dest"
  rm -rf "$tmp"
}

install_duckdb() {
  local root=third_party/duckdb stamp=third_party/duckdb/VERSION
  if [[ -n "${DUCKDB_ROOT:-}" ]]; then
    log "using DUCKDB_ROOT=${DUCKDB_ROOT}"
    return
  fi
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$DUCKDB_VERSION-r.4" ]]; then
    return
  fi
  command -v npm >/dev/null || apt_install npm
  log "fetching DuckDB ${DUCKDB_VERSION} C API from npm"
  rm -rf "$root" && mkdir -p "$root/include" "$root/lib"
  local work
  work=$(mktemp -d)
  npm_fetch "$DUCKDB_HEADER_PKG" "$DUCKDB_HEADER_SHA512" "$work/h"
  npm_fetch "$DUCKDB_LIB_PKG" "$DUCKDB_LIB_SHA512" "$work/l"
  cp "$work/h/package/src/duckdb/src/include/duckdb.h" "$root/include/"
  cp "$work/l/package/libduckdb.so" "$root/lib/"
  rm -rf "$work"
  echo "$DUCKDB_VERSION-r.4" >"$stamp"
}

apt_install "${APT_PACKAGES[@]}"
install_duckdb

if [[ "${FINSYNC_SETUP_NO_BUILD:-0}" != 1 ]]; then
  log "building release preset"
  cmake --preset release >/dev/null
  cmake --build --preset release --target finsync finsync-emulator
  mkdir -p bin
  ln -sf ../build/release/finsync bin/finsync
  ln -sf ../build/release/finsync-emulator bin/finsync-emulator
fi
