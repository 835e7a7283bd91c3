#!/usr/bin/env bash
# Pause latency: the time from `finsync pause PLAN` (a second process) to the last new request
# the emulator receives from the running `finsync run PLAN`, with no limits and under a limit of
# 2 requests a second (8 workers, most of them waiting in the limiter). Reported, not asserted.
# Usage: bench/pause_latency.sh [ROUNDS] (default 3 per case)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FINSYNC=${FINSYNC:-build/release/finsync}
EMULATOR=${EMULATOR:-build/release/finsync-emulator}
W=$(mktemp -d /tmp/finsync-bench.XXXXXX)
EMU="" RUN=""
trap 'kill $RUN $EMU 2>/dev/null || true; [[ -z "${KEEP:-}" ]] && rm -rf "$W"' EXIT
now() { date +%s.%N; }

one_round() {  # CASE ROUND: prints "pause->ack pause->last-request requests-after-pause"
  local case=$1 d="$W/$1.$2"
  mkdir -p "$d/ws/plans" "$d/ws/providers"
  "$EMULATOR" serve --port 0 --port-file "$d/port" --seed 1 --symbols 50 --token bench-token \
    --latency-ms 20 --audit-log "$d/audit.jsonl" >/dev/null 2>&1 &
  EMU=$!
  for _ in $(seq 1 100); do [[ -s "$d/port" ]] && break; sleep 0.05; done
  echo "defaults: { concurrency: 8 }" >"$d/ws/finsync.yaml"
  if [[ $case == unlimited ]]; then
    sed '/^rate_limits:/,/^message:/{/^message:/!d}' providers/tushare.yaml >"$d/ws/providers/tushare.yaml"
  else
    sed 's/  - { scope: account, limit: 200, per: 1m }/  - { scope: account, limit: 2, per: 1s }/' \
      providers/tushare.yaml >"$d/ws/providers/tushare.yaml"
  fi
  cat >"$d/ws/plans/p.yaml" <<YAML
name: p
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2016-01-01, end: 2016-12-31 }
sink: { kind: duckdb, table: p }
split: { window: 1m, strategy: symbol_window }
YAML
  local port
  port=$(cat "$d/port")
  TUSHARE_URL="http://127.0.0.1:$port" TUSHARE_TOKEN=bench-token \
    "$FINSYNC" -w "$d/ws" run p >"$d/run.out" 2>"$d/run.err" &
  RUN=$!
  local want=6
  [[ $case == unlimited ]] && want=100
  for _ in $(seq 1 600); do
    [[ $(grep -c '"api_name":"daily"' "$d/audit.jsonl" || true) -ge $want ]] && break
    sleep 0.05
  done
  local t0 t_ack
  t0=$(now)
  "$FINSYNC" -w "$d/ws" pause p >/dev/null
  for _ in $(seq 1 3000); do grep -q "pause acknowledged" "$d/run.err" && break; sleep 0.005; done
  t_ack=$(now)
  sleep 3
  kill -INT $RUN
  wait $RUN || true
  kill $EMU
  wait $EMU 2>/dev/null || true
  RUN="" EMU=""
  python3 - "$d/audit.jsonl" "$t0" "$t_ack" <<'PY'
import json, sys
t0, t_ack = float(sys.argv[2]), float(sys.argv[3])
ts = [json.loads(l)["t"] for l in open(sys.argv[1]) if '"api_name":"daily"' in l]
after = [t for t in ts if t > t0]
print(f"{t_ack - t0:.3f} {max(ts) - t0:.3f} {len(after)}")
PY
}

for case in unlimited limited; do
  for r in $(seq 1 "$ROUNDS"); do
    read -r ack last after < <(one_round "$case" "$r")
    printf '%-10s round %d: pause -> acknowledged %6.3f s, pause -> last new request %6.3f s, %d requests arrived after the pause command\n' \
      "$case" "$r" "$ack" "$last" "$after"
  done
done
