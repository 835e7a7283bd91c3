#!/usr/bin/env bash
# A pause under a binding limit: with 8 workers and 2 requests a second, most workers wait in the
# limiter when `finsync pause` comes from a second process. Once the run acknowledges the pause
# (its log line states the requests in flight), those waiting must not send: the emulator sees
# no more requests than were in flight, in 3 s that would have admitted 6. After resume the run
# finishes and the landed rows equal the truth.
source "$(dirname "$0")/lib.sh"

SEED=47 SYMBOLS=4
start_emulator emu --seed $SEED --symbols $SYMBOLS --latency-ms 20
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
sed -i 's/concurrency: 4/concurrency: 8/' "$WS/finsync.yaml"
grep -q "concurrency: 8" "$WS/finsync.yaml" || fail "concurrency not set to 8"
tushare_limit "$WS" "{ scope: account, limit: 2, per: 1s }"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"
write_plan "$WS/plans/p.yaml" p parquet 2016-01-01 2016-12-31 "split: { window: 2m }"

daily() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

"$FINSYNC" -w "$WS" run p >"$WORK/run.out" 2>"$WORK/run.err" &
RUN=$!
for _ in $(seq 1 300); do [[ $(daily) -ge 4 ]] && break; sleep 0.1; done
[[ $(daily) -ge 4 ]] || fail "the run did not start: $(tail -3 "$WORK/run.err")"
"$FINSYNC" -w "$WS" pause p >/dev/null || fail "pause exited $?"
for _ in $(seq 1 3000); do grep -q "pause acknowledged" "$WORK/run.err" && break; sleep 0.01; done
at_ack=$(daily)
line=$(grep "pause acknowledged" "$WORK/run.err") || fail "no acknowledgement: $(tail -3 "$WORK/run.err")"
in_flight=$(sed -E 's/.*pause acknowledged; ([0-9]+) requests in flight.*/\1/' <<<"$line")
[[ $in_flight =~ ^[0-9]+$ ]] || fail "the acknowledgement does not state the requests in flight: $line"
sleep 3
after=$(daily)
# Every request that reaches the emulator after the acknowledgement was in flight at it.
started=$((after - at_ack > in_flight ? after - at_ack - in_flight : 0))
assert_eq 0 "$started" "requests started after the pause was acknowledged ($at_ack at it, $in_flight in flight, $after 3 s later)"
"$FINSYNC" -w "$WS" plan list | grep -Eq "^p +tushare/daily +paused " || fail "plan list does not show paused"
kill -0 $RUN 2>/dev/null || fail "the paused run exited: $(tail -3 "$WORK/run.err")"

"$FINSYNC" -w "$WS" resume p >/dev/null || fail "resume exited $?"
wait "$RUN" || fail "the run exited $? after resume: $(tail -3 "$WORK/run.err")"
[[ $(daily) -gt $after ]] || fail "nothing was sent after resume"
canonical_from :memory: "read_parquet('$WS/data/p/**/*.parquet', hive_partitioning = true)" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -3)"
echo "pause_limiter: ok ($at_ack daily requests at the acknowledgement, $in_flight in flight, $after after 3 s)"
