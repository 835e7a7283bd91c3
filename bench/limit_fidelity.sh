#!/usr/bin/env bash
# Limit fidelity: one `finsync run` against emulator limits where both windows bind, 60 requests
# per sliding minute and 150 per epoch-aligned 300-second "day" (the same windows in the provider
# override), for DURATION seconds; then the emulator's audit log is the referee: refusals and
# windows over their limit (violations, target 0) and the day quota spent per complete day
# (utilization of the binding window, target >= 98%).
# Usage: bench/limit_fidelity.sh [DURATION] (default 600). A shorter DURATION scales the minute
# and the day by DURATION/600, so that both still bind (60 s: a 6-second minute, a 30-second day).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
PER_MINUTE=60 PER_DAY=150
FINSYNC=${FINSYNC:-build/release/finsync}
EMULATOR=${EMULATOR:-build/release/finsync-emulator}
MINUTE_S=$(awk -v d="$DURATION" 'BEGIN { printf "%g", 60 * d / 600 }')
DAY_S=$(awk -v d="$DURATION" 'BEGIN { printf "%g", 300 * d / 600 }')
W=$(mktemp -d /tmp/finsync-bench.XXXXXX)
EMU="" RUN=""
trap 'kill $RUN $EMU 2>/dev/null || true; [[ -z "${KEEP:-}" ]] && rm -rf "$W"' EXIT

"$EMULATOR" serve --port 0 --port-file "$W/port" --seed 1 --symbols 400 --token bench-token \
  --per-minute $PER_MINUTE --per-day $PER_DAY --minute-seconds "$MINUTE_S" --day-seconds "$DAY_S" \
  --latency-ms 20 --audit-log "$W/audit.jsonl" >/dev/null 2>&1 &
EMU=$!
for _ in $(seq 1 100); do [[ -s "$W/port" ]] && break; sleep 0.05; done
mkdir -p "$W/ws/plans" "$W/ws/providers"
echo "http: { timeout: 60s }" >"$W/ws/finsync.yaml"
# Both windows on the daily endpoint, as the emulator counts them per api_name.
sed "s|  - { scope: account, limit: 200, per: 1m }|  - { scope: endpoint, endpoint: daily, limit: $PER_MINUTE, per: ${MINUTE_S}s }\n  - { scope: endpoint, endpoint: daily, limit: $PER_DAY, per: ${DAY_S}s, align: epoch, quota: true }|" \
  providers/tushare.yaml >"$W/ws/providers/tushare.yaml"
grep -q "limit: $PER_DAY" "$W/ws/providers/tushare.yaml" || { echo "provider override not written" >&2; exit 1; }
# More tasks than the run can do: one symbol-month per request.
cat >"$W/ws/plans/fidelity.yaml" <<YAML
name: fidelity
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2016-01-01, end: 2016-12-31 }
sink: { kind: duckdb, table: fidelity }
split: { window: 1m, strategy: symbol_window }
YAML
PORT=$(cat "$W/port")
export TUSHARE_URL="http://127.0.0.1:$PORT" TUSHARE_TOKEN=bench-token
# Start 2 s before a day begins: planning is done when the first full day opens.
sleep "$(awk -v d="$DAY_S" -v t="$(date +%s.%N)" 'BEGIN { w = d - (t - int(t / d) * d) - 2; if (w < 0) w += d; printf "%.3f", w }')"
t0=$(date +%s.%N)
"$FINSYNC" -w "$W/ws" --log-level info run fidelity >"$W/run.out" 2>"$W/run.err" &
RUN=$!
sleep "$(awk -v d="$DURATION" 'BEGIN { print d + 2 }')"
t1=$(date +%s.%N)
kill -INT $RUN
wait $RUN || true
RUN=""

python3 - "$W/audit.jsonl" "$t0" "$t1" "$PER_MINUTE" "$MINUTE_S" "$PER_DAY" "$DAY_S" <<'PY'
import json, math, sys
audit, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
per_min, minute, per_day, day = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
lines = [json.loads(l) for l in open(audit)]
daily = [l for l in lines if l["api_name"] == "daily"]
refused = [l for l in daily if l["outcome"] != "ok"]
served = sorted(l["t"] for l in daily if l["outcome"] == "ok")
# The emulator's own rules: at most per_min arrivals in any (t - minute, t], per_day per day k.
worst_minute, j = 0, 0
for i, t in enumerate(served):
    while served[j] <= t - minute:
        j += 1
    worst_minute = max(worst_minute, i - j + 1)
per = {}
for t in served:
    per[int(t // day)] = per.get(int(t // day), 0) + 1
over_minute = sum(1 for i, t in enumerate(served) if sum(1 for u in served[max(0, i - per_min):i] if u > t - minute) >= per_min)
over_day = sum(max(0, n - per_day) for n in per.values())
complete = [k for k in per if k * day >= t0 and (k + 1) * day <= t1]
used = sum(per[k] for k in complete)
print(f"run {t1 - t0:.0f} s; minute {minute:g} s x {per_min}, day {day:g} s x {per_day} (epoch-aligned)")
print(f"daily requests: {len(daily)} sent, {len(served)} served, {len(refused)} refused by the emulator")
print(f"violations: {len(refused) + over_minute + over_day} (refusals {len(refused)}, "
      f"over the minute {over_minute}, over the day {over_day})")
print(f"most requests in any {minute:g} s: {worst_minute} of {per_min} ({100 * worst_minute / per_min:.1f}%)")
for k in sorted(per):
    ts = [t for t in served if int(t // day) == k]
    tag = "complete" if k in complete else "partial"
    print(f"  day {k} ({tag}): {per[k]}/{per_day}, first at +{ts[0] - k * day:.1f} s, "
          f"quota spent at +{ts[-1] - k * day:.1f} s")
if complete:
    print(f"utilization of the day window over {len(complete)} complete days: {used}/{per_day * len(complete)} "
          f"= {100 * used / (per_day * len(complete)):.2f}%")
else:
    print("no complete day in the run: give a longer DURATION")
PY
grep -c "spent (" "$W/run.err" | sed 's/^/quota-spent log lines: /'
