#!/usr/bin/env bash
# `finsync status` names the processes that hold a plan's tasks. A run killed mid-way (kill -9 at
# the 6th response, with 4 requests in flight) leaves its leases in the state store: status
# shows one line for that holder with exactly the tasks the store has leased to it, and says its
# process is gone; a pause shows as the plan's control. The next run takes the tasks, and status
# shows no lease afterwards.
source "$(dirname "$0")/lib.sh"

SEED=5 SYMBOLS=6
start_emulator emu --seed $SEED --symbols $SYMBOLS --latency-ms 50
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/sl.yaml" sl parquet 2016-01-01 2017-12-31 "split: { window: 1m }"

FINSYNC_FAILPOINTS="engine.fetched_not_landed:kill@6" "$FINSYNC" -w "$WS" run sl -c 4 \
  >"$WORK/run1.out" 2>"$WORK/run1.err" &
pid=$!
set +e
wait $pid
rc=$?
set -e
assert_eq 137 "$rc" "exit code of the killed run"
grep -q "failpoint engine.fetched_not_landed hit 6: SIGKILL" "$WORK/run1.err" || fail "no kill line"

leased_in_store() {
  python3 - "$WS/state/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT lease_holder, count(*) FROM tasks WHERE state = 'running' AND "
                  "lease_holder <> '' GROUP BY lease_holder").fetchall()
print("\n".join("%s %d" % r for r in rows))
PY
}
store=$(leased_in_store)
[[ $(wc -l <<<"$store") -eq 1 && -n $store ]] || fail "expected one holder in the store, found: $store"
read -r holder held <<<"$store"
[[ $held -ge 1 && $held -le 4 ]] || fail "$held tasks leased, expected 1 to 4 (4 in flight)"
[[ $holder == *":$pid:"* ]] || fail "holder $holder does not name the killed pid $pid"

"$FINSYNC" -w "$WS" status sl >"$WORK/status1.out" 2>"$WORK/status1.err" || fail "status exited $?"
lines=$(grep -c '^  leased ' "$WORK/status1.out" || true)
assert_eq 1 "$lines" "lease lines in status: $(cat "$WORK/status1.out")"
grep -Eq "^  leased    $held tasks to ${holder//./\\.} until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC \(its process is gone: the next run takes them\)$" \
  "$WORK/status1.out" || fail "status lease line: $(grep leased "$WORK/status1.out")"

"$FINSYNC" -w "$WS" pause sl >/dev/null 2>&1 || fail "pause exited $?"
"$FINSYNC" -w "$WS" status sl >"$WORK/status2.out"
grep -qx "  control   paused" "$WORK/status2.out" || fail "no paused control line: $(cat "$WORK/status2.out")"
"$FINSYNC" -w "$WS" resume sl >/dev/null 2>&1 || fail "resume exited $?"

"$FINSYNC" -w "$WS" run sl -c 4 >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?: $(tail -3 "$WORK/run2.err")"
"$FINSYNC" -w "$WS" status sl >"$WORK/status3.out"
grep -q "leased\|control" "$WORK/status3.out" && fail "leases or control left after the run: $(cat "$WORK/status3.out")"
assert_eq "" "$(leased_in_store)" "leases in the store after the run"
total=$(awk '$1 == "sl" { print $2 }' "$WORK/status3.out")
assert_eq "$total" "$(awk '$1 == "sl" { print $3 }' "$WORK/status3.out")" "succeeded tasks after the run"
echo "status_leases: ok ($held tasks leased to the killed run, shown and taken over)"
