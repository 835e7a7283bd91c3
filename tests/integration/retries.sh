#!/usr/bin/env bash
# What happens after an error, by its kind (docs/architecture.md, "Result, Error, ErrorKind"):
# - transient: each request is sent max_attempts times, then its task is dead with its last
#   error kept (plan show); `retry --dead` and a healthy provider land the exact truth;
# - auth: the plan stops at once (one request with -c 1), exit 77, the task stays failed and the
#   next run with a good key takes it without `retry`;
# - permanent, the plan's (every symbol refused, nothing ever landed): the plan stops after the
#   first 3 symbols, exit 78, with a message that says so;
# - permanent, a symbol's (refused after others landed): that task is dead, the run goes on,
#   exit 3.
source "$(dirname "$0")/lib.sh"

SEED=17
WS="$WORK/ws"
new_workspace "$WS"
sed -i 's/max_attempts: 6/max_attempts: 3/' "$WS/finsync.yaml"
grep -q "max_attempts: 3" "$WS/finsync.yaml" || fail "max_attempts not set"
sed 's/- { scope: account, limit: 5, per: 1m }/- { scope: account, limit: 100, per: 1s }/' \
  "$SOURCE_DIR/providers/polygon.yaml" >"$WS/providers/polygon.yaml"
grep -q "limit: 100, per: 1s" "$WS/providers/polygon.yaml" || fail "polygon override not written"
KLINES='"api_name":"/api/v3/klines"'
AGGS='"api_name":"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}"'
state_count() {  # PLAN STATE: tasks of PLAN in STATE (plan show)
  "$FINSYNC" -w "$WS" plan show "$1" | awk -v s="$2" '$1 == "tasks" && $2 == s { print $3 }' | grep . || echo 0
}

# --- transient: every answer is a 5xx.
start_emulator down --personality binance --seed $SEED --symbols 3 --error-rate 1
export BINANCE_URL="http://127.0.0.1:$down_PORT"
cat >"$WS/plans/bn.yaml" <<YAML
name: bn
provider: binance
endpoint: klines
params: { interval: 1d }
universe: { symbols: [BTCUSDT, ETHUSDT] }
range: { start: 2024-01-01, end: 2024-03-31 }
sink: { kind: duckdb, table: bn }
YAML
rc=0; "$FINSYNC" -w "$WS" run bn >"$WORK/bn1.out" 2>"$WORK/bn1.err" || rc=$?
assert_eq 3 "$rc" "exit code when every send is a 5xx"
for s in BTCUSDT ETHUSDT; do
  assert_eq 3 "$(grep "$KLINES" "$down_AUDIT" | count_matching /dev/stdin "\"symbol\":\"$s\"")" "sends of $s (max_attempts)"
done
assert_eq 6 "$(count_matching "$down_AUDIT" "$KLINES")" "klines requests in all"
assert_eq 2 "$(state_count bn dead)" "dead tasks"
"$FINSYNC" -w "$WS" plan show bn >"$WORK/bn-show.out"
for s in BTCUSDT ETHUSDT; do
  grep -Eq "^task +bn/$s/20240101-20240331 dead: binance error: HTTP 50[023]: .*\(after 3 attempts\)$" "$WORK/bn-show.out" ||
    fail "no last error kept for $s: $(cat "$WORK/bn-show.out")"
done
# A later run does not retry dead tasks; `retry --dead` does, and the data lands exactly.
start_emulator up --personality binance --seed $SEED --symbols 3
export BINANCE_URL="http://127.0.0.1:$up_PORT"
"$FINSYNC" -w "$WS" run bn >"$WORK/bn2.out" 2>"$WORK/bn2.err" || fail "a run with only dead tasks exited $?"
assert_eq 0 "$(count_matching "$up_AUDIT" "$KLINES")" "requests for dead tasks without retry"
"$FINSYNC" -w "$WS" retry bn --dead | grep -q "plan bn: 2 tasks queued again" || fail "retry --dead"
"$FINSYNC" -w "$WS" run bn >"$WORK/bn3.out" 2>"$WORK/bn3.err" || fail "run after retry exited $?: $(tail -3 "$WORK/bn3.err")"
assert_eq 2 "$(count_matching "$up_AUDIT" "$KLINES")" "requests after retry --dead"
"$EMULATOR" truth --personality binance --api klines --seed $SEED --symbols 3 --symbol BTCUSDT,ETHUSDT \
  --interval 1d --start 20240101 --end 20240331 >"$WORK/bn-truth.csv"
"$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT symbol, \"interval\", epoch_ms(open_time) AS open_time,
  printf('%.2f', open) AS open, printf('%.2f', high) AS high, printf('%.2f', low) AS low,
  printf('%.2f', close) AS close, printf('%.2f', volume) AS volume, epoch_ms(close_time) AS close_time,
  printf('%.2f', quote_volume) AS quote_volume, trades, printf('%.2f', taker_buy_base) AS taker_buy_base,
  printf('%.2f', taker_buy_quote) AS taker_buy_quote FROM bn ORDER BY symbol, open_time" >"$WORK/bn-landed.csv"
assert_eq $((1 + 2 * 91)) "$(wc -l <"$WORK/bn-landed.csv")" "landed lines (2 symbols x 91 days + header)"
diff -q "$WORK/bn-truth.csv" "$WORK/bn-landed.csv" >/dev/null || fail "binance rows differ from truth"

# --- auth: a wrong key stops the plan at the first answer.
PG_COLS="ticker, epoch_ms(t) AS t, printf('%.2f', o) AS o, printf('%.2f', c) AS c, n"
start_emulator pg --personality polygon --seed $SEED --symbols 6
export POLYGON_URL="http://127.0.0.1:$pg_PORT"
"$EMULATOR" truth --personality polygon --api tickers --seed $SEED --symbols 6 >"$WORK/tickers.csv"
mapfile -t TICKERS < <(tail -n +2 "$WORK/tickers.csv" | cut -d, -f1 | LC_ALL=C sort)
assert_eq 6 "${#TICKERS[@]}" "tickers of the emulator"
SYMS=$(IFS=,; echo "${TICKERS[*]}")
plan_pg() {  # NAME START END
  cat >"$WS/plans/$1.yaml" <<YAML
name: $1
provider: polygon
endpoint: aggs
universe: { symbols: [$SYMS] }
range: { start: $2, end: $3 }
sink: { kind: duckdb, table: ${1//-/_} }
YAML
}
plan_pg pg-auth 2024-01-01 2024-03-31
rc=0; POLYGON_API_KEY="wrong-$TOKEN" "$FINSYNC" -w "$WS" run pg-auth -c 1 >"$WORK/auth.out" 2>"$WORK/auth.err" || rc=$?
assert_eq 77 "$rc" "exit code of a refused key"
assert_eq 1 "$(count_matching "$pg_AUDIT" "$AGGS")" "requests sent after the provider refused the key"
grep -Fq "provider polygon refused the credentials: plan pg-auth stopped at once; progress is saved and the next run carries on. polygon error: HTTP 401: " "$WORK/auth.err" ||
  fail "no clear auth message: $(tail -3 "$WORK/auth.err")"
grep -Fq 'Check the value of ${POLYGON_API_KEY} (auth.value in ' "$WORK/auth.err" || fail "the auth message does not say what to check"
assert_eq 1 "$(state_count pg-auth failed)" "failed tasks after the auth stop"
assert_eq 5 "$(state_count pg-auth pending)" "tasks left pending after the auth stop"
POLYGON_API_KEY="$TOKEN" "$FINSYNC" -w "$WS" run pg-auth >"$WORK/auth2.out" 2>"$WORK/auth2.err" ||
  fail "run with the right key exited $?: $(tail -3 "$WORK/auth2.err")"
assert_eq 7 "$(count_matching "$pg_AUDIT" "$AGGS")" "requests: the refused one again and the five others"
"$EMULATOR" truth --personality polygon --api aggs --seed $SEED --symbols 6 --start 20240101 --end 20240331 |
  python3 -c "import csv, sys; r = csv.DictReader(sys.stdin); print('ticker,t,o,c,n'); [print(','.join([x['ticker'], x['t'], x['o'], x['c'], x['n']])) for x in r]" >"$WORK/pg-truth.csv"
"$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT $PG_COLS FROM pg_auth ORDER BY ticker, t" >"$WORK/pg-landed.csv"
[[ $(wc -l <"$WORK/pg-truth.csv") -gt 100 ]] || fail "polygon truth too small"
diff -q "$WORK/pg-truth.csv" "$WORK/pg-landed.csv" >/dev/null ||
  fail "polygon rows differ from truth: $(diff "$WORK/pg-truth.csv" "$WORK/pg-landed.csv" | head -3)"
export POLYGON_API_KEY="$TOKEN"

# --- permanent, the plan's: the key's plan holds 30 days of history, the range is older.
start_emulator hist --personality polygon --seed $SEED --symbols 6 --plan-history-days 30
export POLYGON_URL="http://127.0.0.1:$hist_PORT"
plan_pg pg-old 2020-01-01 2020-03-31
rc=0; "$FINSYNC" -w "$WS" run pg-old -c 1 >"$WORK/old.out" 2>"$WORK/old.err" || rc=$?
assert_eq 78 "$rc" "exit code of a plan the provider refuses"
assert_eq 3 "$(count_matching "$hist_AUDIT" "$AGGS")" "requests before the plan stopped"
assert_eq 3 "$(count_matching "$hist_AUDIT" '"outcome":"not_authorized"')" "403 answers"
first3="${TICKERS[0]}, ${TICKERS[1]}, ${TICKERS[2]}"
grep -Fq "plan pg-old: the provider refused the plan, not a symbol: the first 3 symbols ($first3) failed for good and no task of the plan has ever succeeded; last answer: " "$WORK/old.err" ||
  fail "no plan-level message: $(tail -3 "$WORK/old.err")"
grep -Fq "Your plan doesn't include this data timeframe" "$WORK/old.err" || fail "the vendor's message is not shown"
grep -Fq "then \`finsync retry pg-old --dead\`" "$WORK/old.err" || fail "the message does not say how to go on"
assert_eq 3 "$(state_count pg-old dead)" "dead tasks of the refused plan"
assert_eq 3 "$(state_count pg-old pending)" "tasks of the refused plan never sent"

# --- permanent, a symbol's: the key covers the first 3 tickers; the others die, the run goes on.
start_emulator some --personality polygon --seed $SEED --symbols 6 --plan-tickers 3
export POLYGON_URL="http://127.0.0.1:$some_PORT"
plan_pg pg-some 2024-01-01 2024-03-31
rc=0; "$FINSYNC" -w "$WS" run pg-some -c 1 >"$WORK/some.out" 2>"$WORK/some.err" || rc=$?
assert_eq 3 "$rc" "exit code when some symbols are refused"
assert_eq 6 "$(count_matching "$some_AUDIT" "$AGGS")" "requests: one per ticker, the refused ones once"
assert_eq 3 "$(state_count pg-some dead)" "dead tasks (the refused tickers)"
assert_eq 3 "$(state_count pg-some succeeded)" "landed tasks"
grep -q "refused the plan" "$WORK/some.err" && fail "refusals after a success were taken for the plan's"
"$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT $PG_COLS FROM pg_some ORDER BY ticker, t" >"$WORK/some-landed.csv"
{ echo 'ticker,t,o,c,n'; grep -E "^(${TICKERS[0]}|${TICKERS[1]}|${TICKERS[2]})," "$WORK/pg-truth.csv"; } >"$WORK/some-truth.csv"
diff -q "$WORK/some-truth.csv" "$WORK/some-landed.csv" >/dev/null ||
  fail "entitled tickers differ from truth: $(diff "$WORK/some-truth.csv" "$WORK/some-landed.csv" | head -3)"
echo "retries: ok (transient: 3 sends a task then dead, retried exact; auth: 1 request then exit 77; plan refused after 3 symbols; 3 of 6 symbols refused alone)"
