#!/usr/bin/env bash
# Page-level checkpoints: a paginated task lands each page with its cursor, so a run killed
# between two pages resumes the task at its cursor instead of page one. Against the polygon
# personality (next_url chains, small pages): the first run is killed right after the first
# page of its first task is landed and checkpointed (failpoint engine.between_pages); the
# resumed run's first request is that task's second page, no request is sent twice over both
# runs, and the landed rows equal the truth. Then in append mode into Parquet, killed after a
# page's commit and before its checkpoint: that page is asked again but not landed twice.
source "$(dirname "$0")/lib.sh"

SEED=33 SYMBOLS=3 PAGE=100
start_emulator pg --personality polygon --seed $SEED --symbols $SYMBOLS
export POLYGON_URL="http://127.0.0.1:$pg_PORT" POLYGON_API_KEY="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
sed -e "s/limit: \"50000\"/limit: \"$PAGE\"/" -e "s/- { scope: account, limit: 5, per: 1m }/- { scope: account, limit: 50, per: 1s }/" \
  "$SOURCE_DIR/providers/polygon.yaml" >"$WS/providers/polygon.yaml"
grep -q "limit: 50, per: 1s" "$WS/providers/polygon.yaml" || fail "rate limit not overridden"
grep -q "limit: \"$PAGE\"" "$WS/providers/polygon.yaml" || fail "page size not overridden"
cat >"$WS/plans/pages.yaml" <<YAML
name: pages
provider: polygon
endpoint: aggs
universe: { from: tickers }
range: { start: 2023-01-01, end: 2024-12-31 }
sink: { kind: duckdb, table: pages }
YAML
AGGS='"api_name":"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}"'
aggs_lines() { grep "$AGGS" "$pg_AUDIT" || true; }

rc=0
FINSYNC_FAILPOINTS="engine.between_pages:kill@1" "$FINSYNC" -w "$WS" run pages -c 1 \
  >"$WORK/crash.out" 2>"$WORK/crash.err" || rc=$?
assert_eq 137 "$rc" "exit code of the killed run"
grep -q "failpoint engine.between_pages hit 1: SIGKILL" "$WORK/crash.err" || fail "no kill line: $(tail -2 "$WORK/crash.err")"
assert_eq 1 "$(aggs_lines | wc -l)" "aggregates requests before the kill"
first=$(aggs_lines | head -1)
[[ $first != *'"cursor":'* ]] || fail "the first request was not a first page: $first"
landed=$("$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT count(*) FROM pages" | tail -1)
assert_eq "$PAGE" "$landed" "rows landed before the kill (one page)"

"$FINSYNC" -w "$WS" run pages -c 1 >"$WORK/resume.out" 2>"$WORK/resume.err" ||
  fail "resume exited $?: $(tail -3 "$WORK/resume.err")"
second=$(aggs_lines | sed -n 2p)
[[ $second == *'"cursor":'* ]] || fail "the resumed run did not start at the cursor: $second"
ticker() { grep -o '"ticker":"[^"]*"' <<<"$1"; }
assert_eq "$(ticker "$first")" "$(ticker "$second")" "ticker of the resumed page"
sent=$(aggs_lines | wc -l)
distinct=$(aggs_lines | grep -o '"params":{[^}]*}' | sort -u | wc -l)
assert_eq "$sent" "$distinct" "aggregates requests sent over both runs vs distinct"
first_pages=$(aggs_lines | grep -vc '"cursor":' || true)
assert_eq "$SYMBOLS" "$first_pages" "first pages requested (one per task)"

"$EMULATOR" truth --personality polygon --api aggs --seed $SEED --symbols $SYMBOLS \
  --start 20230101 --end 20241231 >"$WORK/truth.csv"
PG_COLS="ticker, strftime(make_timestamp(epoch_ms(t) * 1000), '%Y-%m-%d') AS date, epoch_ms(t) AS t,
  printf('%.2f', o) AS o, printf('%.2f', h) AS h, printf('%.2f', l) AS l, printf('%.2f', c) AS c,
  CAST(v AS BIGINT) AS v, printf('%.2f', vw) AS vw, n"
"$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT $PG_COLS FROM pages ORDER BY ticker, t" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
rows=$(($(wc -l <"$WORK/truth.csv") - 1))

# Append mode, into Parquet: the run is killed after the sink committed its second page and
# before that page's checkpoint. The resumed run asks that page again (the one request in
# flight at the kill), finds its marker, does not land it twice, and goes on at the next.
WS2="$WORK/ws2"
new_workspace "$WS2"
cp "$WS/providers/polygon.yaml" "$WS2/providers/polygon.yaml"
sed -e 's/^name: pages$/name: apages/' -e 's/^sink: .*/sink: { kind: parquet, path: apages, table: apages, mode: append }/' \
  "$WS/plans/pages.yaml" >"$WS2/plans/apages.yaml"
grep -q "mode: append" "$WS2/plans/apages.yaml" || fail "append plan not written"
before=$(aggs_lines | wc -l)
rc=0
FINSYNC_FAILPOINTS="sink.after_commit_before_checkpoint:kill@2" "$FINSYNC" -w "$WS2" run apages -c 1 \
  >"$WORK/acrash.out" 2>"$WORK/acrash.err" || rc=$?
assert_eq 137 "$rc" "exit code of the append run killed after a page's commit"
assert_eq 2 "$(($(aggs_lines | wc -l) - before))" "aggregates requests of the append run before the kill"
second=$(aggs_lines | sed -n "$((before + 2))p" | grep -o '"params":{[^}]*}')
"$FINSYNC" -w "$WS2" run apages -c 1 >"$WORK/aresume.out" 2>"$WORK/aresume.err" ||
  fail "append resume exited $?: $(tail -3 "$WORK/aresume.err")"
again=$(aggs_lines | sed -n "$((before + 3))p" | grep -o '"params":{[^}]*}')
assert_eq "$second" "$again" "the resumed append run's first request (the page in flight at the kill)"
grep -q "this page was landed before the process that fetched it saved its checkpoint; not landing it again" "$WORK/aresume.err" ||
  fail "the resumed run did not recognise the landed page: $(grep -i page "$WORK/aresume.err" | head -3)"
asent=$(($(aggs_lines | wc -l) - before))
adistinct=$(aggs_lines | tail -n "$asent" | grep -o '"params":{[^}]*}' | sort -u | wc -l)
assert_eq $((adistinct + 1)) "$asent" "append: requests over both runs (each page once, the one in flight twice)"
"$DUCKDB_READ" :memory: "SELECT $PG_COLS FROM read_parquet('$WS2/data/apages/**/*.parquet') ORDER BY ticker, t" >"$WORK/alanded.csv"
diff -q "$WORK/truth.csv" "$WORK/alanded.csv" >/dev/null ||
  fail "append: landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/alanded.csv" | head -5)"
echo "page_resume: ok ($sent aggregates requests over both runs, each once; $rows rows; append: $asent requests, 1 repeated, no row twice)"
