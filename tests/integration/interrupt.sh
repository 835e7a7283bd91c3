#!/usr/bin/env bash
# The first SIGINT stops new requests, lets in-flight ones land and checkpoint, and exits 130;
# no request is sent after it was acknowledged. The next run resumes and the result is exact,
# without duplicates. A second signal aborts at once, and that too is safe on resume.
source "$(dirname "$0")/lib.sh"

SEED=9 SYMBOLS=10
start_emulator emu --seed $SEED --symbols $SYMBOLS --latency-ms 40
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/int.yaml" int parquet 2015-01-01 2016-12-31 "split: { window: 1m }"

wait_for_daily() {  # N: until the audit log holds N daily requests
  for _ in $(seq 1 400); do
    [[ $(grep -c '"api_name":"daily"' "$emu_AUDIT" || true) -ge $1 ]] && return 0
    sleep 0.05
  done
  fail "the run did not reach $1 daily requests"
}

"$FINSYNC" -w "$WS" run int >"$WORK/run1.out" 2>"$WORK/run1.err" &
pid=$!
wait_for_daily 20
t_signal=$(date +%s.%N)
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
assert_eq 130 "$rc" "exit code after SIGINT"
grep -q "stopping: no new requests" "$WORK/run1.err" || fail "no stop acknowledgement"
# After the signal nothing new is sent: arrivals after it are at most the 4 requests that were
# already on their way (concurrency 4).
after=$(awk -v t="$t_signal" -F'"t":' 'NF > 1 { split($2, a, ","); if (a[1] + 0 > t + 0) n++ } END { print n + 0 }' "$emu_AUDIT")
[[ $after -le 4 ]] || fail "$after requests arrived after the signal"
done1=$("$FINSYNC" -w "$WS" status int | awk '$1 == "int" { print $3 }')
total=$("$FINSYNC" -w "$WS" status int | awk '$1 == "int" { print $2 }')
[[ $done1 -gt 0 && $done1 -lt $total ]] || fail "after the interrupt $done1 of $total tasks are done"

# A second signal aborts at once.
"$FINSYNC" -w "$WS" run int >"$WORK/run2.out" 2>"$WORK/run2.err" &
pid=$!
before=$(grep -c '"api_name":"daily"' "$emu_AUDIT")
wait_for_daily $((before + 10))
kill -INT $pid
sleep 0.01
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
assert_eq 130 "$rc" "exit code after a second SIGINT"

"$FINSYNC" -w "$WS" run int >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "resume exited $?: $(tail -3 "$WORK/run3.err")"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20150101 --end 20161231 >"$WORK/truth.csv"
canonical_from :memory: "read_parquet('$WS/data/int/**/*.parquet', hive_partitioning = true)" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null || fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -3)"
canonical_from "$WS/data/finsync.duckdb" int >"$WORK/staged.csv"
diff -q "$WORK/truth.csv" "$WORK/staged.csv" >/dev/null || fail "staging table differs from truth"
echo "interrupt: ok ($done1 of $total tasks done at the first interrupt)"
