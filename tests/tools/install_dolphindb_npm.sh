#!/usr/bin/env bash
# Installs the official DolphinDB JavaScript client (`dolphindb`, pinned, with every dependency
# pinned by tests/tools/dolphindb-npm/package-lock.json) into DIR (default build/npm-dolphindb under
# the repository): the dolphindb sink's tests produce their reference byte streams with it, and
# their recorder decodes requests with its decoder (tests/tools/ddb_recorder.mjs). `npm ci`
# checks every package against the lock file's integrity hashes; the client's own hash is also
# pinned here. Needs node 20 or later. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-build/npm-dolphindb}
VERSION=3.1.48
SHA512="gt1gx6RdvOhheCZi+QidRdy5sX0ewcFuXxDiPBP0g6kvAQH0O7khccYqM9Iwq+3nmP8cqMtDFe7rPZlyTjpVOw=="

installed() {
  [[ -f $DIR/node_modules/dolphindb/package.json ]] &&
    grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/dolphindb/package.json" &&
    [[ -f $DIR/node_modules/ws/wrapper.mjs ]]
}
if installed; then
  echo "[dolphindb-npm] dolphindb@$VERSION is in $DIR"
  exit 0
fi
command -v npm >/dev/null || apt-get install -y -q --no-install-recommends npm
mkdir -p "$DIR"
cp tests/tools/dolphindb-npm/package.json tests/tools/dolphindb-npm/package-lock.json "$DIR/"
got=$(node -e 'const l = require(process.argv[1]); console.log(l.packages["node_modules/dolphindb"].integrity)' \
  "$PWD/$DIR/package-lock.json")
if [[ $got != "sha512-$SHA512" ]]; then
  echo "[dolphindb-npm] the lock file pins dolphindb with $got, expected sha512-$SHA512" >&2
  exit 1
fi
for attempt in 1 2 3; do
  # No install scripts: the client and its dependencies are used as plain JavaScript.
  if (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then break; fi
  echo "[dolphindb-npm] npm ci failed (attempt $attempt)" >&2
  [[ $attempt == 3 ]] && exit 1
  sleep $((attempt * 5))
done
installed || { echo "[dolphindb-npm] the install in $DIR is incomplete" >&2; exit 1; }
echo "[dolphindb-npm] installed dolphindb@$VERSION in $DIR"
