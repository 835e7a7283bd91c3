#!/usr/bin/env bash
# End-to-end backfill against the emulator with limits off: finsync's rows/s and peak RSS,
# against `curl --parallel --parallel-max 4` (keep-alive) sending the very same requests to
# /dev/null in the same run. Usage: bench/e2e_backfill.sh [SYMBOLS] (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${1:-300}
FINSYNC=${FINSYNC:-build/release/finsync}
EMULATOR=${EMULATOR:-build/release/finsync-emulator}
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
W=$(mktemp -d /tmp/finsync-bench.XXXXXX)
trap 'kill $EMU 2>/dev/null || true; [[ -z "${KEEP:-}" ]] && rm -rf "$W"' EXIT

"$EMULATOR" serve --port 0 --port-file "$W/port" --seed 1 --symbols "$SYMBOLS" --token bench-token \
  --audit-log "$W/audit.jsonl" >/dev/null 2>&1 &
EMU=$!
for _ in $(seq 1 100); do [[ -s "$W/port" ]] && break; sleep 0.05; done
PORT=$(cat "$W/port")
mkdir -p "$W/ws/plans"
cat >"$W/ws/plans/bench.yaml" <<YAML
name: bench
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2015-01-01, end: 2024-12-31 }
sink: { kind: parquet, path: bench, partition_by: [ts_code, year] }
split: { window: 1y, strategy: symbol_window }   # the cut the figures below were measured with
YAML
echo "http: { timeout: 60s }" >"$W/ws/finsync.yaml"
# Limits off: an account override without rate limits.
mkdir -p "$W/ws/providers"
sed '/^rate_limits:/,/^message:/{/^message:/!d}' providers/tushare.yaml >"$W/ws/providers/tushare.yaml"

export TUSHARE_URL="http://127.0.0.1:$PORT" TUSHARE_TOKEN=bench-token
/usr/bin/time -f "%e %M" -o "$W/finsync.time" "$FINSYNC" -w "$W/ws" --log-level "${LOG_LEVEL:-warn}" run bench >"$W/run.out" 2>"$W/run.err"
read -r f_secs f_rss <"$W/finsync.time"
rows=$(grep -E '^  rows ' "$W/run.out" | tr -dc 0-9)
requests=$(grep -c '"api_name":"daily"' "$W/audit.jsonl")

# The same daily requests, bodies rebuilt from the audit log, sent by curl.
grep '"api_name":"daily"' "$W/audit.jsonl" | sed -E 's/.*("params":\{[^}]*\}),("fields":"[^"]*").*/{"api_name":"daily","token":"bench-token",\1,\2}/' >"$W/bodies.txt"
n=0
: >"$W/curl.cfg"
while IFS= read -r body; do
  n=$((n + 1))
  printf '%s' "$body" >"$W/b$n.json"
  [[ $n -gt 1 ]] && echo next >>"$W/curl.cfg"
  printf 'url = "http://127.0.0.1:%s/"\ndata-binary = "@%s/b%d.json"\nheader = "Content-Type: application/json"\noutput = "/dev/null"\n' \
    "$PORT" "$W" "$n" >>"$W/curl.cfg"
done <"$W/bodies.txt"
/usr/bin/time -f "%e %M" -o "$W/curl.time" curl -s --no-progress-meter --parallel --parallel-max 4 --config "$W/curl.cfg"
read -r c_secs c_rss <"$W/curl.time"

awk -v r="$rows" -v q="$requests" -v fs="$f_secs" -v fr="$f_rss" -v cs="$c_secs" -v cr="$c_rss" 'BEGIN {
  printf "requests            %d daily requests, %d rows\n", q, r
  printf "finsync             %.2f s  %.0f rows/s  %.0f req/s  peak RSS %.1f MiB (fetch, parse, land in DuckDB, write Parquet)\n", fs, r / fs, q / fs, fr / 1024
  printf "curl --parallel 4   %.2f s  %.0f rows/s  %.0f req/s  peak RSS %.1f MiB (fetch to /dev/null)\n", cs, r / cs, q / cs, cr / 1024
  printf "ratio               finsync takes %.2fx the time of curl\n", fs / cs
}'
