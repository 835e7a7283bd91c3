#!/usr/bin/env bash
# The mongodb sink end to end against mongo_recorder, a loopback MongoDB wire-protocol recorder
# (Debian ships no MongoDB server; tests/tools/mongo_recorder.hpp). What a server would hold is
# the recorder's log replayed (tests/tools/mongo_landed.py: upserts replace by key, inserts skip
# a key already there), compared with the emulator's truth value by value:
#   - a backfill lands exactly the truth; every update statement is an upsert by the key; the
#     collection got its validator and unique key index first; every task has a marker;
#   - a second run sends no data request and no document;
#   - the recorder restarting while tasks are pending (asserted from its log) still gives the
#     exact truth, and the report counts a reconnect;
#   - a wrong password and a closed port fail with a clear error naming the sink and the host,
#     never the password.
# The server's own behaviour (real uniqueness, validation, SCRAM) is the live test's
# (SinkMongoLive, FINSYNC_TEST_MONGO_URI).
source "$(dirname "$0")/lib.sh"
LANDED=(python3 "$SOURCE_DIR/tests/tools/mongo_landed.py")

# mongo_plan FILE NAME COLLECTION DSN [extra sink keys] [extra plan line]
mongo_plan() {
  cat >"$1" <<YAML
name: $2
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2015-01-01, end: 2016-12-31 }
sink: { kind: mongodb, dsn: "$4", table: $3, mode: upsert, batch_size: 200${5:+, $5} }
${6:-}
YAML
}

# commands LOG NAME COLLECTION: how many NAME commands on COLLECTION the log holds.
commands() {
  python3 - "$@" <<'PY'
import json, sys
log, name, coll = sys.argv[1:]
n = 0
for line in open(log):
    r = json.loads(line)
    if r["cmd"] == name and r["body"] and r["body"].get(name) == coll:
        n += 1
print(n)
PY
}

SEED=5 SYMBOLS=6
start_emulator emu --seed $SEED --symbols $SYMBOLS
start_emulator slow --seed $SEED --symbols $SYMBOLS --latency-ms 40
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20150101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
[[ $TRUTH_ROWS -gt 1200 ]] || fail "truth has only $TRUTH_ROWS rows"
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
start_recorder mongo

WS="$WORK/ws"
new_workspace "$WS"
mongo_plan "$WS/plans/m.yaml" bars-m daily "mongodb://127.0.0.1:$mongo_PORT/market"
"$FINSYNC" -w "$WS" run "$WS/plans/m.yaml" >"$WORK/run1.out" 2>"$WORK/run1.err" ||
  fail "run exited $?: $(tail -5 "$WORK/run1.err")"

# The collection: validator, then the unique index on the key in key order, before any row.
python3 - "$mongo_LOG" <<'PY' || fail "collection setup"
import json, sys
cmds = [json.loads(l) for l in open(sys.argv[1])]
on = [c for c in cmds if c["body"] and c["body"].get(c["cmd"]) == "daily"]
names = [c["cmd"] for c in on]
assert names[:2] == ["create", "createIndexes"], names[:4]
js = on[0]["body"]["validator"]["$jsonSchema"]
assert js["required"] == ["ts_code", "trade_date"], js["required"]
assert js["properties"]["trade_date"] == {"bsonType": "date"}, js["properties"]["trade_date"]
assert js["properties"]["close"] == {"bsonType": ["double", "null"]}, js["properties"]["close"]
ix = on[1]["body"]["indexes"]
assert ix == [{"key": {"ts_code": {"$numberInt": "1"}, "trade_date": {"$numberInt": "1"}},
               "name": "finsync_key", "unique": True}], ix
assert all(n == "update" for n in names[2:]), set(names[2:])
PY
"${LANDED[@]}" "$mongo_LOG" daily --check-statements >"$WORK/landed.csv" || fail "replaying the log"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed documents differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
tasks=$("$FINSYNC" -w "$WS" status bars-m | awk '$1 == "bars-m" { print $2 }')
markers=$(python3 - "$mongo_LOG" <<'PY'
import json, sys
ids = set()
for l in open(sys.argv[1]):
    c = json.loads(l)
    if c["cmd"] == "update" and c["body"] and c["body"]["update"] == "_finsync_landed":
        for st in c["body"]["updates"]:
            assert c["body"]["writeConcern"] == {"j": True}, c["body"].get("writeConcern")
            ids.add(st["q"]["_id"]["task_id"])
print(len(ids))
PY
)
assert_eq "$tasks" "$markers" "tasks with a landed marker"
rows=$("$FINSYNC" -w "$WS" report bars-m --json | grep '"rows"' | head -1 | tr -dc 0-9)
assert_eq "$TRUTH_ROWS" "$rows" "rows in the report"

# A second run: no data request, no document sent.
before_updates=$(commands "$mongo_LOG" update daily)
before_audit=$(wc -l <"$emu_AUDIT")
"$FINSYNC" -w "$WS" run bars-m >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run did not say nothing new: $(cat "$WORK/run2.out")"
assert_eq 0 "$(tail -n +$((before_audit + 1)) "$emu_AUDIT" | grep -c '"api_name":"daily"' || true)" \
  "daily requests in the second run"
assert_eq "$before_updates" "$(commands "$mongo_LOG" update daily)" "update commands after the second run"

# The server restarts while tasks are pending: a slow provider, one task at a time.
start_recorder again
mongo_plan "$WS/plans/r.yaml" bars-r restart "mongodb://127.0.0.1:$again_PORT/market" \
  "max_retries: 20" "split: { window: 1m }"
TUSHARE_URL="http://127.0.0.1:$slow_PORT" "$FINSYNC" -w "$WS" run "$WS/plans/r.yaml" --concurrency 1 \
  >"$WORK/run-r.out" 2>"$WORK/run-r.err" &
run_pid=$!
for _ in $(seq 1 400); do
  [[ $(commands "$again_LOG" update _finsync_landed) -ge 2 ]] && break
  sleep 0.05
done
landed_at_restart=$(commands "$again_LOG" update _finsync_landed)
[[ $landed_at_restart -ge 2 ]] || fail "no landing before the restart"
kill -HUP "$again_PID"
wait "$run_pid" || fail "run across the restart exited $?: $(tail -5 "$WORK/run-r.err")"
tasks_r=$("$FINSYNC" -w "$WS" status bars-r | awk '$1 == "bars-r" { print $2 }')
[[ $landed_at_restart -lt $tasks_r ]] ||
  fail "all $tasks_r tasks had landed before the restart ($landed_at_restart): nothing was pending"
grep -q restarted "$WORK/again.stdout" || fail "the recorder did not restart"
"${LANDED[@]}" "$again_LOG" restart --check-statements >"$WORK/landed-r.csv" || fail "replaying the log"
diff -q "$WORK/truth.csv" "$WORK/landed-r.csv" >/dev/null ||
  fail "documents after the restart differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed-r.csv" | head -5)"
reconnects=$(sed -n 's/^  sink *mongodb: [0-9]* commits, \([0-9]*\) reconnects, .*/\1/p' "$WORK/run-r.out")
[[ -n $reconnects && $reconnects -ge 1 ]] || fail "the report shows no reconnect: $(cat "$WORK/run-r.out")"

# A wrong password: exit 77, the sink and the host named, the password nowhere.
export MONGO_TEST_PW="pw-$RANDOM-never-shown"
mongo_plan "$WS/plans/pw.yaml" bars-pw pw "mongodb://trader@127.0.0.1:$mongo_PORT/market" 'password: "${MONGO_TEST_PW}"'
rc=0
"$FINSYNC" -w "$WS" run "$WS/plans/pw.yaml" >"$WORK/pw.out" 2>"$WORK/pw.err" || rc=$?
assert_eq 77 "$rc" "exit code for a wrong password"
grep -q "mongodb sink 127.0.0.1:$mongo_PORT/market" "$WORK/pw.err" || fail "the error names no sink and host: $(cat "$WORK/pw.err")"
grep -q "authentication failed for user 'trader'" "$WORK/pw.err" || fail "no clear auth error: $(cat "$WORK/pw.err")"
if grep -rq -- "$MONGO_TEST_PW" "$WORK"; then
  fail "the password was written: $(grep -rl -- "$MONGO_TEST_PW" "$WORK")"
fi

# No server at the port: exit 69, the host named.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mongo_plan "$WS/plans/no.yaml" bars-no no "mongodb://127.0.0.1:$closed/market?serverSelectionTimeoutMS=500"
rc=0
"$FINSYNC" -w "$WS" run "$WS/plans/no.yaml" >"$WORK/no.out" 2>"$WORK/no.err" || rc=$?
assert_eq 69 "$rc" "exit code with no server"
grep -q "mongodb sink 127.0.0.1:$closed/market" "$WORK/no.err" || fail "the error names no sink and host: $(cat "$WORK/no.err")"
grep -q "cannot reach the server" "$WORK/no.err" || fail "no clear unreachable error: $(cat "$WORK/no.err")"

echo "sink_mongodb: ok ($TRUTH_ROWS rows, $tasks tasks; restart after $landed_at_restart of $tasks_r landings, $reconnects reconnects)"
