#!/usr/bin/env bash
# The dolphindb sink end to end against the DolphinDB API recorder (tests/tools/ddb_recorder.mjs:
# neither Debian nor npm ships a DolphinDB server; the recorder decodes requests with the official
# npm client's decoder and keeps the tables):
# - a backfill from the emulator into a DFS table lands exactly the truth (the recorder's decoded
#   table compared row by row), typed SYMBOL/DATE/DOUBLE with the key in the column comments,
#   one marker per task; a second run adds nothing; a row changed in the table is put right by
#   an upsert of its re-fetched task; an in-memory (keyed, shared) table lands the truth too;
# - a landing of every column type with nulls (ddb_typed_landing) decodes to the exact values;
# - every request finsync sent in both is replayed through the official `dolphindb` npm client
#   (the same calls: login, each script, each tableInsert/upsert! with the same typed table) and
#   the two byte streams are equal, request by request;
# - the recorder restarting while tasks are pending still gives the exact truth, and the report
#   counts a reconnect;
# - `finsync sinks check` reports the server and the table; a wrong password exits 77 with an
#   error naming the sink kind and host, never the password.
source "$(dirname "$0")/lib.sh"

: "${DDB_TYPED_LANDING:?DDB_TYPED_LANDING must point at the ddb_typed_landing tool}"
PASSWORD="it-ddb-$RANDOM$RANDOM-secret"
start_ddb_recorder rec --password "$PASSWORD"
export FINSYNC_IT_DDB_PORT=$rec_TCP FINSYNC_IT_DDB_PASSWORD=$PASSWORD

start_emulator emu --seed 8 --symbols 5
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
"$EMULATOR" truth --api daily --seed 8 --symbols 5 --start 20150101 --end 20151231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
daily_requests() { grep -c '"api_name":"daily"' "$emu_AUDIT" || true; }

state_q() { python3 -c "import json, sys; s = json.load(open(sys.argv[1])); print($2)" "$1"; }

WS="$WORK/ws"
new_workspace "$WS"
DDB_DATABASE=dfs://it write_plan "$WS/plans/ddb.yaml" ddb dolphindb 2015-01-01 2015-12-31 "split: { window: 6m }"
"$FINSYNC" -w "$WS" run ddb >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -5 "$WORK/run1.err")"
canonical_ddb "$rec_STATE" dfs://it/ddb >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
assert_eq "ts_code SYMBOL finsync key 1|trade_date DATE finsync key 2|open DOUBLE |amount DOUBLE " \
  "$(state_q "$rec_STATE" "'|'.join(c + ' ' + ty + ' ' + s['tables']['dfs://it/ddb']['comments'].get(c, '') for c, ty in zip(s['tables']['dfs://it/ddb']['columns'], s['tables']['dfs://it/ddb']['types']) if c in ('ts_code', 'trade_date', 'open', 'amount'))")" \
  "column types and key comments"
assert_eq "$TRUTH_ROWS" "$(state_q "$rec_STATE" "sum(int(r[4]) for r in s['tables']['dfs://it/_finsync_landed']['rows'])")" "rows in the markers"
tasks=$(state_q "$rec_STATE" "len(s['tables']['dfs://it/_finsync_landed']['rows'])")
grep -qE "^  tasks +$tasks total: $tasks succeeded this run" "$WORK/run1.out" || fail "$tasks markers, but the report says: $(grep tasks "$WORK/run1.out")"
[[ $tasks -ge 8 ]] || fail "only $tasks markers"
grep -q '"text":"function\\nupsert!{loadTable(\\"dfs://it\\", \\"ddb\\"),,ignoreNull=false,keyColNames=`ts_code`trade_date}' "$rec_LOG" ||
  fail "no upsert! of the rows in the recorder's log"
grep -qE "^  sink +dolphindb: [0-9]+ commits, 0 reconnects, 0 transactions retried$" "$WORK/run1.out" ||
  fail "the report has no sink line: $(cat "$WORK/run1.out")"

before=$(daily_requests)
"$FINSYNC" -w "$WS" run ddb >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
grep -q "nothing new" "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
assert_eq "$before" "$(daily_requests)" "daily requests of the second run"
canonical_ddb "$rec_STATE" dfs://it/ddb >"$WORK/landed2.csv"
diff -q "$WORK/truth.csv" "$WORK/landed2.csv" >/dev/null || fail "after the second run: $(diff "$WORK/truth.csv" "$WORK/landed2.csv" | head -5)"

# A bar changed in the table (through the npm client): fetching its task again upserts the
# vendor's row over it.
key=$(sed -n 202p "$WORK/truth.csv")
sym=${key%%,*} day=${key#*,} day=${day%%,*}
node "$SOURCE_DIR/tests/tools/ddb_eval.mjs" --npm "$DOLPHINDB_NPM" --url "ws://127.0.0.1:$rec_WS" --password "$PASSWORD" \
  --script "update loadTable(\"dfs://it\", \"ddb\") set close = -1 where ts_code = \"$sym\" and trade_date = ${day//-/.}" \
  >"$WORK/update.out" 2>&1 || fail "the update exited $?: $(cat "$WORK/update.out")"
canonical_ddb "$rec_STATE" dfs://it/ddb >"$WORK/changed.csv"
assert_eq 1 "$(diff "$WORK/truth.csv" "$WORK/changed.csv" | grep -c '^> ')" "rows changed by the update"
grep -q "^$sym,$day,.*,-1.00," "$WORK/changed.csv" || fail "the update did not change $sym $day: $(grep "^$sym,$day," "$WORK/changed.csv")"
task=$(state_q "$rec_STATE" "[r[1] for r in s['tables']['dfs://it/_finsync_landed']['rows'] if r[1].startswith('ddb/$sym/') and r[2][:8] <= '${day//-/}' <= r[2][9:17]][0]")
"$FINSYNC" -w "$WS" retry ddb --task "$task" >/dev/null || fail "retry --task $task exited $?"
"$FINSYNC" -w "$WS" run ddb >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/run3.err")"
assert_eq $((before + 1)) "$(daily_requests)" "daily requests after retrying one task"
canonical_ddb "$rec_STATE" dfs://it/ddb >"$WORK/landed3.csv"
diff -q "$WORK/truth.csv" "$WORK/landed3.csv" >/dev/null || fail "after the upsert: $(diff "$WORK/truth.csv" "$WORK/landed3.csv" | head -5)"

"$FINSYNC" -w "$WS" sinks check ddb >"$WORK/check.out" 2>"$WORK/check.err" || fail "sinks check exited $?: $(cat "$WORK/check.err")"
grep -qx "sink dolphindb admin@127.0.0.1:$rec_TCP dfs://it" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"
grep -qE "^  server +DolphinDB 3.00.0 recorder$" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"
grep -qE "^  columns +match the plan's schema \(11 columns, primary key \(ts_code, trade_date\)\)$" "$WORK/check.out" ||
  fail "check: $(cat "$WORK/check.out")"

# In memory: a shared keyed table, and markers beside it.
WS3="$WORK/ws3"
new_workspace "$WS3"
write_plan "$WS3/plans/mem.yaml" mem dolphindb 2015-01-01 2015-12-31 "split: { window: 6m }"
"$FINSYNC" -w "$WS3" run mem >"$WORK/mem.out" 2>"$WORK/mem.err" || fail "in-memory run exited $?: $(tail -5 "$WORK/mem.err")"
canonical_ddb "$rec_STATE" mem >"$WORK/mem.csv"
diff -q "$WORK/truth.csv" "$WORK/mem.csv" >/dev/null || fail "in-memory table differs from truth: $(diff "$WORK/truth.csv" "$WORK/mem.csv" | head -5)"
assert_eq "ts_code trade_date" "$(state_q "$rec_STATE" "' '.join(s['tables']['mem']['key'])")" "the in-memory table's key"
grep -q '"text":"script\\nif (!defined(\\"mem\\", SHARED)) {\\n  share keyedTable(`ts_code`trade_date, 1:0,' "$rec_LOG" ||
  fail "the in-memory table was not made a shared keyed table"

# The server restarts while tasks are pending (a slow provider, one task at a time): the
# recorder closes every connection and refuses for 300 ms; the DFS table stays. The run
# reconnects, the table is the exact truth, and the report counts the reconnect.
start_ddb_recorder again --password "$PASSWORD"
start_emulator slow --seed 8 --symbols 5 --latency-ms 40
WS4="$WORK/ws4"
new_workspace "$WS4"
DDB_DATABASE=dfs://it write_plan "$WS4/plans/r.yaml" r dolphindb 2015-01-01 2015-12-31 "split: { window: 1m }"
markers() {
  python3 -c "
import json, sys
try: print(len(json.load(open(sys.argv[1]))['tables']['dfs://it/_finsync_landed']['rows']))
except (OSError, KeyError, ValueError): print(0)" "$again_STATE"
}
TUSHARE_URL="http://127.0.0.1:$slow_PORT" FINSYNC_IT_DDB_PORT=$again_TCP \
  "$FINSYNC" -w "$WS4" run "$WS4/plans/r.yaml" --concurrency 1 >"$WORK/run-r.out" 2>"$WORK/run-r.err" &
run_pid=$!
for _ in $(seq 1 400); do
  [[ $(markers) -ge 2 ]] && break
  sleep 0.05
done
at_restart=$(markers)
[[ $at_restart -ge 2 ]] || fail "no landing before the restart"
kill -HUP "$again_PID"
wait "$run_pid" || fail "run across the restart exited $?: $(tail -5 "$WORK/run-r.err")"
tasks_r=$(markers)
[[ $at_restart -lt $tasks_r ]] || fail "all $tasks_r tasks had landed before the restart: nothing was pending"
grep -q restarted "$WORK/again.stdout" || fail "the recorder did not restart"
canonical_ddb "$again_STATE" dfs://it/r >"$WORK/landed-r.csv"
diff -q "$WORK/truth.csv" "$WORK/landed-r.csv" >/dev/null ||
  fail "rows after the restart differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed-r.csv" | head -5)"
reconnects=$(sed -n 's/^  sink *dolphindb: [0-9]* commits, \([0-9]*\) reconnects, .*/\1/p' "$WORK/run-r.out")
[[ -n $reconnects && $reconnects -ge 1 ]] || fail "the report shows no reconnect: $(cat "$WORK/run-r.out")"
echo "restart: $at_restart of $tasks_r tasks landed before it, $reconnects reconnect(s), rows exact"

# Every column type, nulls included, into a recorder of its own.
start_ddb_recorder typed --password "$PASSWORD"
"$DDB_TYPED_LANDING" --dsn "dolphindb://admin@127.0.0.1:$typed_TCP" --password "$PASSWORD" --database dfs://typed \
  >"$WORK/typed.out" 2>"$WORK/typed.err" || fail "typed landing exited $?: $(cat "$WORK/typed.err")"
python3 - "$typed_STATE" <<'PY' || fail "typed landing: the decoded rows differ"
import json, sys
s = json.load(open(sys.argv[1]))["tables"]
t = s["dfs://typed/typed"]
assert t["types"] == ["SYMBOL", "DATE", "STRING", "TIMESTAMP", "DOUBLE", "LONG", "BOOL"], t["types"]
want = [["AAA", "2024-01-02", "first", "2024-01-02T09:30:00.123Z", 10.5, "100", True],
        ["BBB", "1969-12-31", None, None, None, None, None],
        ["AAA", "2024-01-03", "\u65e5\u672c \"quoted\"", "1969-12-31T23:59:59.999Z", -0.25, "-5", False]]
assert t["rows"] == want, t["rows"]
m = s["dfs://typed/_finsync_landed"]
assert m["types"] == ["STRING", "STRING", "STRING", "INT", "LONG", "STRING", "TIMESTAMP"], m["types"]
assert [r[:5] for r in m["rows"]] == [["typed#1", "typed/AAA", "20240101-20240131", 0, "3"]], m["rows"]
PY

# The same calls through the official client, into fresh recorders: byte for byte equal.
compare_bytes() {  # FINSYNC_LOG REPLAY_LOG
  python3 - "$1" "$2" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ref = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(ours) == len(ref), f"{len(ours)} requests from finsync, {len(ref)} from the npm client"
kinds = {}
for a, b in zip(ours, ref):
    if a["hex"] != b["hex"]:
        x, y = bytes.fromhex(a["hex"]), bytes.fromhex(b["hex"])
        at = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
        sys.exit(f"request {a['seq']} ({a['text'][:60]!r}) differs at byte {at}: finsync {x[at:at+16].hex()}, npm {y[at:at+16].hex()}")
    kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
print(" ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
PY
}
for log in rec typed; do
  start_ddb_recorder "replay_$log" --password "$PASSWORD"
  ws_port="replay_${log}_WS" replay_log="replay_${log}_LOG" src_log="${log}_LOG"
  node "$SOURCE_DIR/tests/tools/ddb_replay.mjs" --npm "$DOLPHINDB_NPM" --log "${!src_log}" --url "ws://127.0.0.1:${!ws_port}" \
    >"$WORK/replay_$log.out" 2>&1 || fail "replay of $log exited $?: $(tail -5 "$WORK/replay_$log.out")"
  counts=$(compare_bytes "${!src_log}" "${!replay_log}" 2>&1) || fail "$log: finsync's bytes differ from the npm client's: $counts"
  [[ $counts == *"function="* && $counts == *"script="* && $counts == *"connect="* ]] || fail "$log: replayed only $counts"
  echo "$log: same bytes as the npm client ($counts)"
done
grep -q '"error"' "$typed_LOG" && fail "the recorder refused a request of the typed landing: $(grep '"error"' "$typed_LOG" | head -1)"

# A wrong password: exit 77, the sink and host named, the password never printed.
export FINSYNC_IT_DDB_PASSWORD="Wr0ng-it-$RANDOM$RANDOM-secret"
WS2="$WORK/ws2"
new_workspace "$WS2"
DDB_DATABASE=dfs://it write_plan "$WS2/plans/pw.yaml" pw dolphindb 2015-01-01 2015-03-31
for cmd in "run pw" "sinks check pw"; do
  rc=0
  "$FINSYNC" -w "$WS2" $cmd >"$WORK/pw.out" 2>"$WORK/pw.err" || rc=$?
  assert_eq 77 "$rc" "exit code of '$cmd' with a wrong password"
  grep -q "dolphindb sink admin@127.0.0.1:$rec_TCP dfs://it" "$WORK/pw.err" || fail "$cmd: the error does not name the sink and host: $(cat "$WORK/pw.err")"
  grep -q "the server refused the login of user 'admin': The user name or password is incorrect." "$WORK/pw.err" ||
    fail "$cmd: the error does not say why: $(cat "$WORK/pw.err")"
  grep -qF "$FINSYNC_IT_DDB_PASSWORD" "$WORK/pw.err" "$WORK/pw.out" && fail "$cmd: the password was printed"
done
echo "ok: dolphindb sink ($TRUTH_ROWS rows exact in a DFS and an in-memory table, $tasks tasks, bytes equal to the npm client's)"
