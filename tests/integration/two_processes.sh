#!/usr/bin/env bash
# Two `finsync run` of one plan at once: the DuckDB store holds one writer, so the second
# process waits and says why, then finds every task landed and sends no data request. Every
# task is fetched exactly once, the rows equal the truth, and the shared quota ledger keeps the
# two processes together under the limit.
source "$(dirname "$0")/lib.sh"

SEED=41 SYMBOLS=8 RATE=8
start_emulator emu --seed $SEED --symbols $SYMBOLS --per-minute $RATE --minute-seconds 1
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
tushare_limit "$WS" "{ scope: account, limit: $RATE, per: 1s }"
write_plan "$WS/plans/two.yaml" two parquet 2016-01-01 2016-12-31 "split: { window: 1m }"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"
daily() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

"$FINSYNC" -w "$WS" run two >"$WORK/a.out" 2>"$WORK/a.err" &
A=$!
for _ in $(seq 1 300); do [[ $(daily) -ge 5 ]] && break; sleep 0.1; done
"$FINSYNC" -w "$WS" run two >"$WORK/b.out" 2>"$WORK/b.err" &
B=$!
wait "$A" || fail "first run exited $?: $(tail -3 "$WORK/a.err")"
wait "$B" || fail "second run exited $?: $(tail -3 "$WORK/b.err")"
grep -Eq "waiting: .*the DuckDB store .* is in use by another finsync process \(pid $A, " "$WORK/b.err" ||
  fail "the second run did not say why it waits: $(head -5 "$WORK/b.err")"
grep -q "nothing new" "$WORK/b.out" || fail "the second run fetched something: $(cat "$WORK/b.out")"
sent=$(daily)
distinct=$(grep '"api_name":"daily"' "$emu_AUDIT" | grep -o '"params":{[^}]*}' | sort -u | wc -l)
assert_eq "$distinct" "$sent" "daily requests vs distinct tasks fetched"
grep -q '"outcome":"rate_limited' "$emu_AUDIT" && fail "the emulator refused a request"
canonical_from :memory: "read_parquet('$WS/data/two/**/*.parquet', hive_partitioning = true)" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null || fail "landed rows differ from truth"
echo "two_processes: ok ($sent daily requests, each once)"
