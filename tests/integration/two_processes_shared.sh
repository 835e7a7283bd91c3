#!/usr/bin/env bash
# Two `finsync run` of one plan into the postgres sink with the PostgreSQL state store: the sink
# takes several writers, so the second process helps. Every task is leased before it is fetched:
# both processes fetch tasks, the emulator's audit log shows every data request exactly once, and
# the table equals the truth. Then one process is killed (kill -9) mid-run, once as if on another
# machine (its leases expire, the other waits for that, takes its tasks and finishes) and once on
# this one (the other sees its pid is gone and takes its tasks at once).
# In both, the rows equal the truth and the requests sent twice are at most those the stopped
# process had in flight. Needs FINSYNC_TEST_PG_DSN (scripts/test.sh starts the server).
source "$(dirname "$0")/lib.sh"

[[ -n "${FINSYNC_TEST_PG_DSN:-}" ]] || fail "FINSYNC_TEST_PG_DSN is unset: this test needs a PostgreSQL server (scripts/test.sh starts one)"
BASE="finsync_it_$$_$RANDOM"
PIDS=()
pg_cleanup() {
  local rc=$? s pid
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for s in help expire kill; do
    psql_q "DROP SCHEMA IF EXISTS ${BASE}_$s CASCADE; DROP SCHEMA IF EXISTS ${BASE}_${s}_state CASCADE" >/dev/null 2>&1 || true
  done
  (exit $rc)
  cleanup
}
trap pg_cleanup EXIT

SEED=43 SYMBOLS=8 RATE=10 CONCURRENCY=4 LEASE=8s
start_emulator emu --seed $SEED --symbols $SYMBOLS
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"

# workspace CASE: a workspace whose sink lands in schema BASE_CASE and whose state store is
# schema BASE_CASE_state, with short leases; both limited to RATE requests a second in all.
workspace() {
  local ws="$WORK/$1"
  new_workspace "$ws"
  sed -i "s|^state: .*|state: { kind: postgres, dsn: \"\${FINSYNC_TEST_PG_DSN}\", schema: ${BASE}_$1_state, lease: $LEASE }|" "$ws/finsync.yaml"
  grep -q "lease: $LEASE" "$ws/finsync.yaml" || fail "state not rewritten"
  tushare_limit "$ws" "{ scope: account, limit: $RATE, per: 1s }"
  write_plan "$ws/plans/two.yaml" two postgres 2016-01-01 2016-12-31 "split: { window: 2m }"
}
# The audit log's data requests, one line each: the task's parameters.
sent_params() { grep '"api_name":"daily"' "$emu_AUDIT" | grep -o '"params":{[^}]*}' || true; }
sent() { sent_params | wc -l; }
# start_run CASE NAME: runs `finsync run two` in the background; its pid in ${NAME}_PID.
start_run() {
  "$FINSYNC" -w "$WORK/$1" run two -c $CONCURRENCY >"$WORK/$1.$2.out" 2>"$WORK/$1.$2.err" &
  printf -v "${2}_PID" '%s' "$!"
  PIDS+=($!)
}
wait_sent() {  # N: until the emulator saw N more data requests than at the case's start
  for _ in $(seq 1 300); do [[ $(($(sent) - START)) -ge $1 ]] && return 0; sleep 0.05; done
  fail "only $(($(sent) - START)) data requests after 15 s"
}
check_truth() {  # CASE
  canonical_pg "${BASE}_$1" two >"$WORK/$1.landed.csv"
  diff -q "$WORK/truth.csv" "$WORK/$1.landed.csv" >/dev/null ||
    fail "$1: landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/$1.landed.csv" | head -5)"
}
# Tasks each run of CASE landed, by run id.
landed_by_run() { psql_q "SELECT count(*) FROM ${BASE}_$1_state.tasks WHERE state = 'succeeded' GROUP BY run_id ORDER BY 1"; }

# 1. Both help.
workspace help
export FINSYNC_IT_PG_SCHEMA="${BASE}_help"
START=$(sent)
start_run help a
wait_sent 3
start_run help b
wait "$a_PID" || fail "help: first run exited $?: $(tail -3 "$WORK/help.a.err")"
wait "$b_PID" || fail "help: second run exited $?: $(tail -3 "$WORK/help.b.err")"
tasks=$(psql_q "SELECT count(*) FROM ${BASE}_help_state.tasks WHERE state <> 'split'")
assert_eq "$tasks" "$(psql_q "SELECT count(*) FROM ${BASE}_help_state.tasks WHERE state = 'succeeded'")" "help: succeeded tasks"
mapfile -t per_run < <(landed_by_run help)
assert_eq 2 "${#per_run[@]}" "help: runs that landed tasks (${per_run[*]})"
[[ ${per_run[0]} -gt 0 ]] || fail "help: a process fetched nothing"
assert_eq "$tasks" $((per_run[0] + per_run[1])) "help: tasks landed by the two runs"
sent_help=$(($(sent) - START))
assert_eq "$tasks" "$sent_help" "help: data requests vs tasks"
assert_eq "$sent_help" "$(sent_params | sort -u | wc -l)" "help: distinct data requests"
assert_eq 0 "$(psql_q "SELECT count(*) FROM ${BASE}_help_state.tasks WHERE lease_holder <> '' OR lease_until IS NOT NULL")" "help: leases left behind"
check_truth help
echo "help: $tasks tasks, ${per_run[0]} + ${per_run[1]} by the two processes, each requested once"

# repeats_since N: data requests after the N-th that repeat an earlier one.
repeats_since() { sent_params | tail -n +$(($1 + 1)) | sort | uniq -d | wc -l; }

# 2. A process on another machine dies: its leases expire and the other takes its tasks. The
# first process runs under another host name (a UTS namespace), so the second cannot tell from
# the pid that it is gone and must wait for its leases.
workspace expire
export FINSYNC_IT_PG_SCHEMA="${BASE}_expire"
unshare -U -u --map-root-user true 2>/dev/null ||
  fail "unshare -U -u (user and UTS namespaces) is not available: this test needs it to run a process under another host name"
START=$(sent)
unshare -U -u --map-root-user sh -c 'hostname finsync-elsewhere && exec "$0" "$@"' \
  "$FINSYNC" -w "$WORK/expire" run two -c $CONCURRENCY >"$WORK/expire.a.out" 2>"$WORK/expire.a.err" &
a_PID=$!
PIDS+=($!)
wait_sent 3
start_run expire b
wait_sent 12
kill -9 "$a_PID"
wait "$a_PID" 2>/dev/null || true
killed_at=$(sent)
wait "$b_PID" || fail "expire: second run exited $?: $(tail -3 "$WORK/expire.b.err")"
grep -q "waiting for [0-9]* tasks leased by another finsync process (finsync-elsewhere:$a_PID:" "$WORK/expire.b.err" ||
  fail "expire: the second run did not wait for the dead one's leases: $(grep -i lease "$WORK/expire.b.err" | head -3)"
grep -q "tasks came free; taking them" "$WORK/expire.b.err" || fail "expire: no takeover: $(tail -3 "$WORK/expire.b.err")"
grep -q "is gone; they are free again" "$WORK/expire.b.err" && fail "expire: a holder of another host was taken for dead"
check_truth expire
repeated=$(repeats_since "$START")
[[ $repeated -le $CONCURRENCY ]] || fail "expire: $repeated requests repeated, more than the $CONCURRENCY in flight"
echo "expire: the dead process's leases expired, the other finished; $repeated requests repeated ($((killed_at - START)) sent before the kill)"

# 3. One process is killed: the other sees that its pid is gone and finishes without waiting for
# the leases to expire.
workspace kill
export FINSYNC_IT_PG_SCHEMA="${BASE}_kill"
START=$(sent)
start_run kill a
wait_sent 3
start_run kill b
wait_sent 12
kill -9 "$a_PID"
wait "$a_PID" 2>/dev/null || true
wait "$b_PID" || fail "kill: second run exited $?: $(tail -3 "$WORK/kill.b.err")"
grep -q "the finsync process [^ ]*:$a_PID:[^ ]* that held [0-9]* tasks is gone; they are free again" "$WORK/kill.b.err" ||
  fail "kill: the second run did not notice the first is gone: $(grep -i lease "$WORK/kill.b.err" | head -3)"
check_truth kill
repeated=$(repeats_since "$START")
[[ $repeated -le $CONCURRENCY ]] || fail "kill: $repeated requests repeated, more than the $CONCURRENCY in flight"
tasks=$(psql_q "SELECT count(*) FROM ${BASE}_kill_state.tasks WHERE state <> 'split'")
assert_eq "$tasks" "$(psql_q "SELECT count(*) FROM ${BASE}_kill_state.tasks WHERE state = 'succeeded'")" "kill: succeeded tasks"
echo "two_processes_shared: ok (kill: $repeated requests repeated)"
