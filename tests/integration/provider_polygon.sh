#!/usr/bin/env bash
# The built-in polygon provider against the emulator's polygon personality, under the free
# plan's 5 calls a minute (a 2-second minute here): the universe comes from the paged tickers
# reference, every aggregates chain is followed through next_url with the key added again, the
# landed rows equal the truth value by value, the emulator never refuses a call, and a second
# run sends no data request. A ticker outside the plan (403 NOT_AUTHORIZED) fails its task
# with the vendor's message while the others land.
source "$(dirname "$0")/lib.sh"

SEED=31 SYMBOLS=5 LIMIT=5 WINDOW_S=2 PAGE=200
start_emulator pg --personality polygon --seed $SEED --symbols $SYMBOLS --per-minute $LIMIT --minute-seconds $WINDOW_S
export POLYGON_URL="http://127.0.0.1:$pg_PORT" POLYGON_API_KEY="$TOKEN"

setup_ws() {  # DIR
  new_workspace "$1"
  # The free plan's window in seconds; small pages, so that every chain has several.
  sed -e "s/- { scope: account, limit: 5, per: 1m }/- { scope: account, limit: $LIMIT, per: ${WINDOW_S}s }/" \
    -e "s/limit: \"50000\"/limit: \"$PAGE\"/" -e 's/limit: "1000"/limit: "2"/' \
    "$SOURCE_DIR/providers/polygon.yaml" >"$1/providers/polygon.yaml"
  grep -q "limit: $LIMIT, per: ${WINDOW_S}s" "$1/providers/polygon.yaml" || fail "override not written"
  grep -q "limit: \"$PAGE\"" "$1/providers/polygon.yaml" || fail "page size not overridden"
}

WS="$WORK/ws"
setup_ws "$WS"
cat >"$WS/plans/aggs.yaml" <<YAML
name: pg-aggs
provider: polygon
endpoint: aggs
universe: { from: tickers }
range: { start: 2023-01-01, end: 2024-12-31 }
sink: { kind: parquet, path: pg-aggs, table: pg_aggs, partition_by: [ticker, year] }
YAML
"$FINSYNC" -w "$WS" run "$WS/plans/aggs.yaml" >"$WORK/run1.out" 2>"$WORK/run1.err" ||
  fail "run exited $?: $(tail -5 "$WORK/run1.err")"

"$EMULATOR" truth --personality polygon --api aggs --seed $SEED --symbols $SYMBOLS \
  --start 20230101 --end 20241231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))
[[ $TRUTH_ROWS -gt 1000 ]] || fail "truth has only $TRUTH_ROWS rows"
PG_COLS="ticker, strftime(make_timestamp(epoch_ms(t) * 1000), '%Y-%m-%d') AS date, epoch_ms(t) AS t,
  printf('%.2f', o) AS o, printf('%.2f', h) AS h, printf('%.2f', l) AS l, printf('%.2f', c) AS c,
  CAST(v AS BIGINT) AS v, printf('%.2f', vw) AS vw, n"
"$DUCKDB_READ" :memory: "SELECT $PG_COLS FROM read_parquet('$WS/data/pg-aggs/**/*.parquet', hive_partitioning = true) ORDER BY ticker, t" >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"

AGGS='"api_name":"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}"'
grep -q '"outcome":"rate_limited' "$pg_AUDIT" && fail "the emulator refused a call: $(grep -m1 rate_limited "$pg_AUDIT")"
grep -v -q '"token":"\*\*\*"' "$pg_AUDIT" && fail "a request without the key: $(grep -v -m1 '"token":"\*\*\*"' "$pg_AUDIT")"
aggs=$(count_matching "$pg_AUDIT" "$AGGS")
followed=$(grep "$AGGS" "$pg_AUDIT" | count_matching /dev/stdin '"cursor":')
tickers_pages=$(count_matching "$pg_AUDIT" '"api_name":"/v3/reference/tickers"')
# Every ticker has more than one page of bars; the tickers list, 2 a page: 4 active in 2 pages,
# 1 delisted in 1.
[[ $followed -ge $SYMBOLS && $((aggs - followed)) -eq $SYMBOLS ]] ||
  fail "$aggs aggregates requests, $followed of them next_url pages, for $SYMBOLS tickers"
assert_eq 3 "$tickers_pages" "tickers pages"
assert_eq "$(grep -c '"outcome":"ok"' "$pg_AUDIT")" "$(wc -l <"$pg_AUDIT")" "requests answered ok"
over=$(grep -o '"t":[0-9.]*' "$pg_AUDIT" | cut -d: -f2 | sort -n |
  awk -v w=$WINDOW_S -v lim=$LIMIT '{ t[NR] = $1 } END { j = 1; worst = 0
    for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= w) j++; if (i - j + 1 > worst) worst = i - j + 1 }
    print (worst > lim) ? worst : 0 }')
assert_eq 0 "$over" "largest number of calls in a ${WINDOW_S}s window above $LIMIT"

before=$(wc -l <"$pg_AUDIT")
"$FINSYNC" -w "$WS" run pg-aggs >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
new_aggs=$(tail -n +$((before + 1)) "$pg_AUDIT" | count_matching /dev/stdin "$AGGS")
assert_eq 0 "$new_aggs" "aggregates requests in the second run"

# --- A plan that covers 2 tickers: the others answer 403 and their tasks die with the message.
start_emulator nz --personality polygon --seed $SEED --symbols $SYMBOLS --plan-tickers 2
export POLYGON_URL="http://127.0.0.1:$nz_PORT"
setup_ws "$WORK/nz"
cat >"$WORK/nz/plans/aggs.yaml" <<YAML
name: pg-nz
provider: polygon
endpoint: aggs
universe: { symbols: [GC, IBR, OWMS] }
range: { start: 2024-01-01, end: 2024-03-31 }
sink: { kind: duckdb, table: pg_nz }
YAML
rc=0
"$FINSYNC" -w "$WORK/nz" run "$WORK/nz/plans/aggs.yaml" >"$WORK/nz.out" 2>"$WORK/nz.err" || rc=$?
[[ $rc -ne 0 && $rc -lt 128 ]] || fail "a run with a refused ticker exited $rc"
grep -q "You are not entitled to this data" "$WORK/nz.err" || fail "the vendor's message is not shown: $(tail -3 "$WORK/nz.err")"
"$EMULATOR" truth --personality polygon --api aggs --seed $SEED --symbols $SYMBOLS --symbol GC,IBR \
  --start 20240101 --end 20240331 >"$WORK/nz-truth.csv"
"$DUCKDB_READ" "$WORK/nz/data/finsync.duckdb" "SELECT $PG_COLS FROM pg_nz ORDER BY ticker, t" >"$WORK/nz-landed.csv"
diff -q "$WORK/nz-truth.csv" "$WORK/nz-landed.csv" >/dev/null ||
  fail "the entitled tickers differ from truth: $(diff "$WORK/nz-truth.csv" "$WORK/nz-landed.csv" | head -5)"
assert_eq 1 "$(count_matching "$nz_AUDIT" '"outcome":"not_authorized"')" "403 answers (no retry of a permanent error)"
# --- A key whose real limit (5 per window) is below what the definition states (50): the 429s
# carry no Retry-After, so the account waits for its own window to pass, and the rows still
# land exactly.
start_emulator ov --personality polygon --seed $SEED --symbols $SYMBOLS --per-minute $LIMIT --minute-seconds $WINDOW_S
export POLYGON_URL="http://127.0.0.1:$ov_PORT"
setup_ws "$WORK/ov"
sed -i "s/limit: $LIMIT, per: ${WINDOW_S}s/limit: 50, per: ${WINDOW_S}s/" "$WORK/ov/providers/polygon.yaml"
sed -e 's/name: pg-aggs/name: pg-ov/' -e 's/pg-aggs/pg-ov/; s/pg_aggs/pg_ov/' "$WS/plans/aggs.yaml" >"$WORK/ov/plans/ov.yaml"
"$FINSYNC" -w "$WORK/ov" run "$WORK/ov/plans/ov.yaml" >"$WORK/ov.out" 2>"$WORK/ov.err" ||
  fail "run under an unknown limit exited $?: $(tail -5 "$WORK/ov.err")"
"$DUCKDB_READ" :memory: "SELECT $PG_COLS FROM read_parquet('$WORK/ov/data/pg-ov/**/*.parquet', hive_partitioning = true) ORDER BY ticker, t" >"$WORK/ov.csv"
diff -q "$WORK/truth.csv" "$WORK/ov.csv" >/dev/null ||
  fail "rows after 429s differ from truth: $(diff "$WORK/truth.csv" "$WORK/ov.csv" | head -5)"
refused=$(count_matching "$ov_AUDIT" '"outcome":"rate_limited_minute"')
[[ $refused -ge 1 ]] || fail "the server never answered 429: the scenario did not happen"
grep -q "rate limited; waiting until the window passes" "$WORK/ov.err" || fail "no wait after a 429"

echo "provider_polygon: ok ($TRUTH_ROWS rows, $aggs aggregates requests of which $followed followed next_url, $tickers_pages tickers pages; $refused 429s absorbed under an unknown limit)"
