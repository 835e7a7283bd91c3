#!/usr/bin/env bash
# Plan lifecycle from a second process: pause (requests in flight land, then nothing is sent
# until resume), resume, cancel (the run stops, its tasks are cancelled, a new run refuses until
# resume), retry of one named task, and plan add/list/show/rm. Landed rows equal the truth.
source "$(dirname "$0")/lib.sh"

SEED=31 SYMBOLS=8 RATE=8
start_emulator emu --seed $SEED --symbols $SYMBOLS --per-minute $RATE --minute-seconds 1
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
tushare_limit "$WS" "{ scope: account, limit: $RATE, per: 1s }"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"

daily() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }
wait_for() {  # PATTERN FILE: up to 30 s
  for _ in $(seq 1 300); do grep -q -- "$1" "$2" && return 0; sleep 0.1; done
  fail "'$1' never appeared in $2: $(tail -3 "$2")"
}
check_truth() {  # PLAN
  canonical_from :memory: "read_parquet('$WS/data/$1/**/*.parquet', hive_partitioning = true)" >"$WORK/$1.csv"
  diff -q "$WORK/truth.csv" "$WORK/$1.csv" >/dev/null || fail "$1 differs from truth: $(diff "$WORK/truth.csv" "$WORK/$1.csv" | head -3)"
}

# plan add puts a checked plan into plans_dir; plan list shows it before it ever ran.
write_plan "$WORK/p1.yaml" p1 parquet 2016-01-01 2016-12-31 "split: { window: 1m }"
"$FINSYNC" -w "$WS" plan add "$WORK/p1.yaml" >"$WORK/add.out" || fail "plan add exited $?"
[[ -f "$WS/plans/p1.yaml" ]] || fail "plan add did not write plans/p1.yaml"
"$FINSYNC" -w "$WS" plan list | grep -Eq "^p1 +tushare/daily +new +not run yet" || fail "plan list: $("$FINSYNC" -w "$WS" plan list)"
echo "name: [bad" >"$WORK/bad.yaml"
rc=0; "$FINSYNC" -w "$WS" plan add "$WORK/bad.yaml" 2>"$WORK/bad.err" || rc=$?
assert_eq 78 "$rc" "plan add of a malformed file"

# --- pause and resume from a second process.
"$FINSYNC" -w "$WS" run p1 >"$WORK/p1.out" 2>"$WORK/p1.err" &
RUN=$!
for _ in $(seq 1 300); do [[ $(daily) -ge 10 ]] && break; sleep 0.1; done
"$FINSYNC" -w "$WS" pause p1 >/dev/null || fail "pause exited $?"
wait_for "pause acknowledged" "$WORK/p1.err"
sleep 1  # requests already in flight at the acknowledgement arrive and land
at_pause=$(daily)
sleep 3
assert_eq "$at_pause" "$(daily)" "daily requests sent while paused"
"$FINSYNC" -w "$WS" plan list | grep -Eq "^p1 +tushare/daily +paused " || fail "plan list does not show paused"
"$FINSYNC" -w "$WS" resume p1 >/dev/null || fail "resume exited $?"
wait "$RUN" || fail "the paused run exited $? after resume: $(tail -3 "$WORK/p1.err")"
grep -q "plan p1: resumed" "$WORK/p1.err" || fail "the run did not log the resume"
[[ $(daily) -gt $at_pause ]] || fail "nothing was sent after resume"
check_truth p1

# --- cancel: the run stops, tasks are cancelled, a new run refuses until resume.
write_plan "$WS/plans/p2.yaml" p2 parquet 2016-01-01 2016-12-31 "split: { window: 1m }"
"$FINSYNC" -w "$WS" run p2 >"$WORK/p2.out" 2>"$WORK/p2.err" &
RUN=$!
start=$(daily)
for _ in $(seq 1 300); do [[ $(($(daily) - start)) -ge 10 ]] && break; sleep 0.1; done
"$FINSYNC" -w "$WS" cancel p2 >/dev/null || fail "cancel exited $?"
rc=0; wait "$RUN" || rc=$?
assert_eq 130 "$rc" "exit code of a cancelled run"
cancelled=$("$FINSYNC" -w "$WS" plan show p2 | awk '$1 == "tasks" && $2 == "cancelled" { print $3 }')
[[ ${cancelled:-0} -gt 0 ]] || fail "no cancelled task: $("$FINSYNC" -w "$WS" plan show p2)"
before=$(daily)
rc=0; "$FINSYNC" -w "$WS" run p2 >"$WORK/p2b.out" 2>"$WORK/p2b.err" || rc=$?
assert_eq 130 "$rc" "exit code of a run of a cancelled plan"
grep -q "plan p2 is cancelled: nothing runs until \`finsync resume p2\`" "$WORK/p2b.err" || fail "refusal: $(cat "$WORK/p2b.err")"
assert_eq "$before" "$(daily)" "daily requests sent by a run of a cancelled plan"
"$FINSYNC" -w "$WS" resume p2 | grep -Eq "resumed \(${cancelled} cancelled tasks queued again\)" || fail "resume did not re-queue $cancelled tasks"
"$FINSYNC" -w "$WS" run p2 >"$WORK/p2c.out" 2>"$WORK/p2c.err" || fail "run after resume exited $?"
check_truth p2

# --- retry: only the named task is fetched again.
task=$(python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT id FROM tasks WHERE plan = 'p2' AND state = 'succeeded' ORDER BY id LIMIT 1\").fetchone()[0])" "$WS/state/state.db")
"$FINSYNC" -w "$WS" retry p2 | grep -q "0 tasks queued again" || fail "retry without failed or dead tasks queued some"
"$FINSYNC" -w "$WS" retry p2 --task "$task" | grep -q "1 tasks queued again" || fail "retry --task did not queue it"
before=$(daily)
"$FINSYNC" -w "$WS" run p2 >"$WORK/p2d.out" 2>"$WORK/p2d.err" || fail "run after retry exited $?"
assert_eq 1 "$(($(daily) - before))" "daily requests after retrying one task"
check_truth p2
rc=0; "$FINSYNC" -w "$WS" retry p2 --task nope 2>/dev/null || rc=$?
assert_eq 78 "$rc" "retry of an unknown task"

# --- plan rm forgets the state, keeps the data.
"$FINSYNC" -w "$WS" plan rm p2 | grep -q "landed data is kept" || fail "plan rm"
rm "$WS/plans/p2.yaml"
"$FINSYNC" -w "$WS" plan list | grep -q "^p2 " && fail "p2 still listed after plan rm"
check_truth p2
echo "lifecycle: ok (paused at $at_pause daily requests; $cancelled tasks cancelled and resumed)"
