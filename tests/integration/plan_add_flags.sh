#!/usr/bin/env bash
# `finsync plan add` from flags: the written plan is an ordinary plan file (no secret in it),
# runs by name and lands exactly the emulator's truth (Tushare into Parquet with the universe
# from stock_basic; Binance into DuckDB with symbols from a file and a parameter taken from the
# environment). Every bad flag gives its exact message and exit code (64 or 78), writes
# nothing, and no literal credential reaches any output or file.
source "$(dirname "$0")/lib.sh"

SEED=23 SYMBOLS=6
start_emulator ts --seed $SEED --symbols $SYMBOLS
start_emulator bn --personality binance --seed $SEED --symbols 3
export TUSHARE_URL="http://127.0.0.1:$ts_PORT" TUSHARE_TOKEN="$TOKEN" BINANCE_URL="http://127.0.0.1:$bn_PORT"
WS="$WORK/ws"
new_workspace "$WS"

# --- Tushare daily, every listed symbol, into Parquet.
"$FINSYNC" -w "$WS" plan add --name ts-flags --provider tushare --endpoint daily \
  --symbols-from stock_basic --from 2016-01-01 --to 2016-06-30 \
  --sink parquet:ts-flags,table=ts_flags,partition_by=ts_code+year >"$WORK/add1.out" 2>"$WORK/add1.err" ||
  fail "plan add exited $?: $(cat "$WORK/add1.err")"
grep -q "^plan ts-flags added as $WS/plans/ts-flags.yaml; \`finsync run ts-flags\` starts it$" "$WORK/add1.out" ||
  fail "plan add output: $(cat "$WORK/add1.out")"
cat >"$WORK/ts-flags.expected" <<'YAML'
# Written by `finsync plan add`; edit it like any plan file (docs/configuration.md).
name: ts-flags
provider: tushare
endpoint: daily
universe:
  from: stock_basic
range: {start: 2016-01-01, end: 2016-06-30}
sink:
  kind: parquet
  path: ts-flags
  table: ts_flags
  partition_by: [ts_code, year]
YAML
diff "$WORK/ts-flags.expected" "$WS/plans/ts-flags.yaml" >&2 || fail "the written plan differs"
"$FINSYNC" -w "$WS" validate >"$WORK/validate.out" || fail "validate of the written plan exited $?"
grep -q "^ok .*plans/ts-flags.yaml (plan ts-flags)$" "$WORK/validate.out" || fail "validate: $(cat "$WORK/validate.out")"
"$FINSYNC" -w "$WS" run ts-flags >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run exited $?: $(tail -3 "$WORK/run1.err")"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20160630 >"$WORK/ts-truth.csv"
[[ $(wc -l <"$WORK/ts-truth.csv") -gt 100 ]] || fail "the truth is too small to mean anything"
canonical_from :memory: "read_parquet('$WS/data/ts-flags/**/*.parquet', hive_partitioning = true)" >"$WORK/ts-landed.csv"
diff -q "$WORK/ts-truth.csv" "$WORK/ts-landed.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/ts-truth.csv" "$WORK/ts-landed.csv" | head -3)"

# --- Binance 1d klines of the symbols in a file, the interval from the environment, into DuckDB.
printf '# two of the three\nBTCUSDT\n\nETHUSDT  # and a comment\nBTCUSDT\n' >"$WORK/symbols.txt"
"$FINSYNC" -w "$WS" plan add --name bn-flags --provider binance --endpoint klines \
  --param 'interval=${BN_INTERVAL}' --symbols-file "$WORK/symbols.txt" --from 2023-01-01 \
  --to 2024-06-30 --sink duckdb:bn.duckdb,table=bn_flags,mode=upsert >"$WORK/add2.out" 2>"$WORK/add2.err" ||
  fail "plan add (binance) exited $?: $(cat "$WORK/add2.err")"
grep -q '^  interval: ${BN_INTERVAL}$' "$WS/plans/bn-flags.yaml" || fail "param not written as a reference: $(cat "$WS/plans/bn-flags.yaml")"
grep -q '^  symbols: \[BTCUSDT, ETHUSDT\]$' "$WS/plans/bn-flags.yaml" || fail "symbols file: $(cat "$WS/plans/bn-flags.yaml")"
rc=0; "$FINSYNC" -w "$WS" run bn-flags >/dev/null 2>"$WORK/run2-unset.err" || rc=$?
assert_eq 78 "$rc" "run with the parameter's variable unset"
grep -q "params.interval: environment variable BN_INTERVAL is not set" "$WORK/run2-unset.err" ||
  fail "unset variable message: $(cat "$WORK/run2-unset.err")"
BN_INTERVAL=1d "$FINSYNC" -w "$WS" run bn-flags >"$WORK/run2.out" 2>"$WORK/run2.err" ||
  fail "run (binance) exited $?: $(tail -3 "$WORK/run2.err")"
grep -q '"interval":"1d"' "$bn_AUDIT" || fail "the request did not carry interval=1d: $(head -1 "$bn_AUDIT")"
grep -q '"interval":"${BN_INTERVAL}"\|BN_INTERVAL' "$bn_AUDIT" && fail "the reference itself was sent"
BN_COLS="symbol, \"interval\", epoch_ms(open_time) AS open_time, printf('%.2f', open) AS open,
  printf('%.2f', high) AS high, printf('%.2f', low) AS low, printf('%.2f', close) AS close,
  printf('%.2f', volume) AS volume, epoch_ms(close_time) AS close_time,
  printf('%.2f', quote_volume) AS quote_volume, trades, printf('%.2f', taker_buy_base) AS taker_buy_base,
  printf('%.2f', taker_buy_quote) AS taker_buy_quote"
"$EMULATOR" truth --personality binance --api klines --seed $SEED --symbols 3 --symbol BTCUSDT,ETHUSDT \
  --interval 1d --start 20230101 --end 20240630 >"$WORK/bn-truth.csv"
"$DUCKDB_READ" "$WS/data/bn.duckdb" "SELECT $BN_COLS FROM bn_flags ORDER BY symbol, open_time" >"$WORK/bn-landed.csv"
# 2023 and the first half of 2024: 365 + 182 days a symbol (crypto trades every day).
assert_eq $((1 + 2 * 547)) "$(wc -l <"$WORK/bn-truth.csv")" "lines of the binance truth"
diff -q "$WORK/bn-truth.csv" "$WORK/bn-landed.csv" >/dev/null ||
  fail "binance rows differ from truth: $(diff "$WORK/bn-truth.csv" "$WORK/bn-landed.csv" | head -3)"

# --- Bad flags: the exact message, the documented exit code, nothing written.
ls "$WS/plans" >"$WORK/plans.before"
SECRET="Lit3ral-pw-$RANDOM$RANDOM"
GOOD=(--name bad --provider tushare --endpoint daily --symbols-from stock_basic --from 2016-01-01 --to 2016-06-30 --sink parquet:bad)
n=0
bad() {  # CODE MESSAGE ARGS...: plan add ARGS fails with CODE and exactly MESSAGE on stderr
  local want=$1 msg=$2
  shift 2
  n=$((n + 1))
  local rc=0
  "$FINSYNC" -w "$WS" plan add "$@" >"$WORK/bad$n.out" 2>"$WORK/bad$n.err" || rc=$?
  [[ $rc -eq $want ]] || fail "case $n ($msg): exit $rc, expected $want: $(cat "$WORK/bad$n.err")"
  local got
  got=$(sed -E 's/^[0-9:]+ \[error\] //' "$WORK/bad$n.err")
  [[ $got == "$msg" ]] || fail "case $n: message
  got:      $got
  expected: $msg"
  [[ ! -s "$WORK/bad$n.out" ]] || fail "case $n printed to stdout: $(cat "$WORK/bad$n.out")"
}
args() {  # FLAG VALUE: GOOD with FLAG's value replaced (or the flag removed if VALUE is -)
  local flag=$1 value=$2 i
  A=()
  for ((i = 0; i < ${#GOOD[@]}; i += 2)); do
    if [[ ${GOOD[$i]} == "$flag" ]]; then
      [[ $value == - ]] || A+=("$flag" "$value")
    else
      A+=("${GOOD[$i]}" "${GOOD[$((i + 1))]}")
    fi
  done
}
args --provider tushar
bad 78 "plan add --provider (provider): value 'tushar' is not valid: expected one of alphavantage, binance, polygon, tushare (did you mean 'tushare'?)" "${A[@]}"
args --endpoint dialy
bad 78 "plan add --endpoint (endpoint): value 'dialy' is not valid: expected an endpoint of tushare (daily, stock_basic, trade_cal) (did you mean 'daily'?)" "${A[@]}"
args --from 2016-13-01
bad 78 "plan add --from (range.start): value '2016-13-01' is not valid: expected a date YYYY-MM-DD" "${A[@]}"
args --to 2015-12-31
bad 78 "plan add --to (range.end): value '2015-12-31' is not valid: expected a date on or after start (2016-01-01)" "${A[@]}"
args --name 'my plan'
bad 78 "plan add --name (name): value 'my plan' is not valid: expected a name without spaces or slashes" "${A[@]}"
args --sink parquet:bad,tabel=x
bad 78 "plan add --sink 'parquet:bad,tabel=x': option 'tabel' is not a sink key (did you mean 'table'?): expected one of path, table, mode, partition_by, replace, dsn, password, batch_size, schema_drift, schema, max_retries, load, sheets, sheet_column, sheet_rows, url, database" "${A[@]}"
args --sink parquet:bad,mode=merge
bad 78 "plan add --sink (sink.mode): value 'merge' is not valid: expected one of append, replace, upsert" "${A[@]}"
args --sink parquet:bad,partition_by=ts_code+yr
bad 78 "plan add --sink (sink.partition_by): value 'yr' is not valid: expected a column of daily, or year" "${A[@]}"
args --sink Parquet
bad 78 "plan add --sink 'Parquet': sink kind 'Parquet' is not valid: expected KIND:PATH or KIND:URL with a lower-case kind, e.g. parquet:./data, duckdb:./finsync.duckdb, postgres:postgresql://user@host:5432/db?table=bars" "${A[@]}"
args --sink "postgres:postgresql://finsync:$SECRET@127.0.0.1:5432/market?table=bars"
bad 78 "plan add --sink 'postgres:postgresql://finsync:***@127.0.0.1:5432/market?table=bars': a password in the URL is not accepted on the command line: leave it out of the URL and give the query parameter 'password' the value \${VAR}, the environment variable that holds it (in single quotes, so that the shell leaves it to finsync)" "${A[@]}"
args --sink "duckdb:x.duckdb,password=$SECRET"
bad 78 "plan add --sink 'duckdb:x.duckdb,password=***': 'password' holds a credential, and a literal one is not accepted on the command line: give it the value \${VAR}, the environment variable that holds it (in single quotes, so that the shell leaves it to finsync)" "${A[@]}"
bad 78 "plan add --param 'token' holds a credential, and a literal one is not accepted on the command line: give it the value \${VAR}, the environment variable that holds it (in single quotes, so that the shell leaves it to finsync); provider tushare sends it anyway, from \${TUSHARE_TOKEN}" \
  "${GOOD[@]}" --param "token=$SECRET"
bad 78 "plan add --param (params): 'adj' is not a parameter of endpoint daily: expected one of ts_code, trade_date, start_date, end_date" \
  "${GOOD[@]}" --param adj=qfq
args --symbols-from stock_basics
bad 78 "plan add --symbols-from (universe.from): value 'stock_basics' is not valid: expected an endpoint of tushare that lists symbols (has a 'universe' section)" "${A[@]}"
args --symbols-from -
bad 78 "plan add --symbols, --symbols-from or --symbols-file (universe): endpoint daily takes a symbol (ts_code); expected universe.symbols or universe.from" "${A[@]}"
bad 78 "plan add --symbols-file '$WORK/none.txt': cannot read the file" "${A[@]}" --symbols-file "$WORK/none.txt"
printf '# nothing\n\n' >"$WORK/empty.txt"
bad 78 "plan add --symbols-file '$WORK/empty.txt' names no symbol: expected symbols separated by commas or one a line" "${A[@]}" --symbols-file "$WORK/empty.txt"
bad 78 "$WS/plans/ts-flags.yaml already exists: a plan named 'ts-flags' is defined; remove it first" \
  --name ts-flags --provider tushare --endpoint daily --symbols 000001.SZ --from 2016-01-01 --to 2016-01-31 --sink duckdb
bad 64 "plan add: --symbols and --symbols-from are both given: expected at most one of --symbols, --symbols-from, --symbols-file" \
  "${GOOD[@]}" --symbols 000001.SZ
args --to -
bad 64 "plan add: --to missing: the flag form needs --name, --provider, --endpoint, --from, --to and --sink" "${A[@]}"
bad 64 "plan add: --param 'adj' is not valid: expected NAME=VALUE" "${GOOD[@]}" --param adj
bad 64 "plan add: --param adj is given twice" "${GOOD[@]}" --param adj=a --param adj=b
bad 64 "plan add: give a plan FILE or the flags (--name, --provider, ...), not both" "$WS/plans/ts-flags.yaml" --name x
bad 64 "plan add: expected a plan FILE, or --name, --provider, --endpoint, --from, --to and --sink (see finsync plan add --help)"
ls "$WS/plans" >"$WORK/plans.after"
diff "$WORK/plans.before" "$WORK/plans.after" >&2 || fail "a refused plan add wrote a file"
if grep -rqF "$SECRET" "$WORK"/bad*.err "$WORK"/bad*.out "$WS"; then fail "a literal credential was printed or written"; fi
if grep -rqF "$TOKEN" "$WS/plans" "$WORK"/*.out "$WORK"/*.err; then fail "the token appears in a plan or an output"; fi
echo "plan_add_flags: ok ($(($(wc -l <"$WORK/ts-truth.csv") - 1)) + 1094 rows exact; $n bad-flag cases)"
