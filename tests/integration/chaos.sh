#!/usr/bin/env bash
# Seeded chaos: 5% HTTP 5xx, 1% dropped connections, 1% truncated bodies. The audit log proves
# the faults were injected (at least 20), the report counts exactly one retry per fault, and the
# landed rows still equal the truth.
source "$(dirname "$0")/lib.sh"

SEED=5 SYMBOLS=30
# A fixed seed keeps the fault mix reproducible (every kind occurs with it); CHAOS_SEED overrides.
CHAOS_SEED=${CHAOS_SEED:-5059}
echo "chaos seed: $CHAOS_SEED"
start_emulator emu --seed $SEED --symbols $SYMBOLS --chaos-seed "$CHAOS_SEED" \
  --error-rate 0.05 --drop-rate 0.01 --truncate-rate 0.01
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
# max_attempts 6 at 7% faults: a task failing 6 times in a row has odds of 1 in 10^7.
write_plan "$WS/plans/chaos.yaml" chaos parquet 2015-01-01 2016-12-31 "split: { window: 1m }"
"$FINSYNC" -w "$WS" run chaos >"$WORK/run.out" 2>"$WORK/run.err" || fail "run exited $?: $(tail -5 "$WORK/run.err")"

faults=$(grep -cE '"outcome":"(http_error|dropped|truncated)"' "$emu_AUDIT" || true)
errors=$(grep -c '"outcome":"http_error"' "$emu_AUDIT" || true)
dropped=$(grep -c '"outcome":"dropped"' "$emu_AUDIT" || true)
truncated=$(grep -c '"outcome":"truncated"' "$emu_AUDIT" || true)
echo "faults injected: $faults ($errors 5xx, $dropped dropped, $truncated truncated)"
[[ $faults -ge 20 ]] || fail "only $faults faults were injected"
[[ $errors -gt 0 && $dropped -gt 0 && $truncated -gt 0 ]] || fail "not every fault kind was injected"

# libcurl re-sends a request by itself when a kept-alive connection it reused was closed before
# any answer: those arrivals are in the audit log but were never sent twice by finsync.
retries=$("$FINSYNC" -w "$WS" report chaos --json | grep '"retries"' | tr -dc 0-9)
requests=$("$FINSYNC" -w "$WS" report chaos --json | grep '"requests"' | tr -dc 0-9)
arrivals=$(wc -l <"$emu_AUDIT")
resent_by_curl=$((arrivals - requests))
[[ $resent_by_curl -ge 0 && $resent_by_curl -le $dropped ]] ||
  fail "arrivals $arrivals vs requests $requests: $resent_by_curl re-sends, but only $dropped drops"
assert_eq "$((faults - resent_by_curl))" "$retries" "retries in the report vs faults in the audit log"

"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20150101 --end 20161231 >"$WORK/truth.csv"
canonical_from :memory: "read_parquet('$WS/data/chaos/**/*.parquet', hive_partitioning = true)" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null || fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
echo "chaos: ok ($faults faults, $(($(wc -l <"$WORK/truth.csv") - 1)) rows exact)"
