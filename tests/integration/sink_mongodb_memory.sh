#!/usr/bin/env bash
# Memory stays flat through the mongodb sink: 1,000,000 rows go through it (bench/db_sink_bench.cpp:
# in-memory batches of 50,000 rows, one commit each, 10,000 documents per bulk command) into
# mongo_recorder, and the peak RSS is within 16 MiB of the same run with 100,000 rows, while the
# rows themselves take ~100 MiB. The recorder's log counts the documents each run sent. Under
# AddressSanitizer the quarantine of freed memory is off for these runs, so RSS measures what is
# live.
source "$(dirname "$0")/lib.sh"

: "${DB_SINK_BENCH:?DB_SINK_BENCH must point at the db_sink_bench binary}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
start_recorder mongo --summary

peak() {  # ROWS DATABASE: the sink's peak RSS in KiB
  local out
  out=$("$DB_SINK_BENCH" --kind mongodb --rows "$1" --set "dsn=mongodb://127.0.0.1:$mongo_PORT/$2") ||
    fail "db_sink_bench with $1 rows exited $?"
  sed -n 's/.* peak_rss_kib \([0-9]*\).*/\1/p' <<<"$out"
}

# documents DATABASE: documents the data commands (update/insert, not the markers) sent there.
documents() {
  python3 - "$mongo_LOG" "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    c = json.loads(line)
    # --summary: commands carrying documents are counted, not decoded, except the markers'.
    if c["db"] == sys.argv[2] and c["cmd"] in ("update", "insert") and c["body"] is None:
        n += c["documents"]
print(n)
PY
}

small=$(peak 100000 mem0)
big=$(peak 1000000 mem1)
[[ -n $small && -n $big ]] || fail "no peak RSS"
assert_eq 100000 "$(documents mem0)" "documents sent with 100,000 rows"
assert_eq 1000000 "$(documents mem1)" "documents sent with 1,000,000 rows"
[[ $((big - small)) -lt $((16 * 1024)) ]] ||
  fail "peak RSS $small KiB with 100,000 rows but $big KiB with 1,000,000"
echo "ok: memory flat through the mongodb sink (peak RSS with 100k / 1M rows: ${small}/${big} KiB)"
