#!/usr/bin/env bash
# The planner's strategies against the emulator, each landing exactly the truth with no limit
# refused: the cheapest choice (lists of ts_code), one symbol per request, one request per
# trade_date for every symbol, the same for a subset of the market (others' rows dropped); a
# by-date answer that hits the row cap is re-split into lists and never landed cut; sparse
# answers widen the next windows, persisted so that a run killed mid-way resumes with the same
# tasks and lands no row twice.
source "$(dirname "$0")/lib.sh"

SEED=17 SYMBOLS=40 LIMIT=40 WINDOW_S=2 LIST_MAX=10
START=2016-01-01 END=2016-03-31
start_emulator emu --seed $SEED --symbols $SYMBOLS --per-minute $LIMIT --minute-seconds $WINDOW_S \
  --max-codes $LIST_MAX
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
sed -e "s/- { scope: account, limit: 200, per: 1m }/- { scope: account, limit: $LIMIT, per: ${WINDOW_S}s }/" \
  -e "s/separator: \",\", max: 100 }/separator: \",\", max: $LIST_MAX }/" \
  "$SOURCE_DIR/providers/tushare.yaml" >"$WS/providers/tushare.yaml"
grep -q "max: $LIST_MAX }" "$WS/providers/tushare.yaml" || fail "override not written"

daily_since() { tail -n +$(($1 + 1)) "$emu_AUDIT" | grep '"api_name":"daily"' || true; }

run_plan() {  # NAME: runs plans/NAME.yaml; sets SENT (its daily requests) and writes NAME.daily
  local before
  before=$(wc -l <"$emu_AUDIT")
  "$FINSYNC" -w "$WS" run "$1" >"$WORK/$1.out" 2>"$WORK/$1.err" || fail "run $1 exited $?: $(tail -5 "$WORK/$1.err")"
  daily_since "$before" >"$WORK/$1.daily"
  SENT=$(wc -l <"$WORK/$1.daily")
}

check_exact() {  # TABLE TRUTH_FILE
  canonical_from "$WS/data/finsync.duckdb" "$1" >"$WORK/$1.landed.csv"
  diff -q "$2" "$WORK/$1.landed.csv" >/dev/null ||
    fail "$1: landed rows differ from truth: $(diff "$2" "$WORK/$1.landed.csv" | head -5)"
}

"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start "${START//-/}" --end "${END//-/}" >"$WORK/truth.csv"
OPEN_DAYS=$("$EMULATOR" truth --api trade_cal --seed $SEED --start "${START//-/}" --end "${END//-/}" | grep -c ',1,')

# --- The cheapest: the 32 symbols listed then, about 60 days, fit 4 lists of up to 10 (600 rows).
PLAN_STRATEGY= write_plan "$WS/plans/cheap.yaml" cheap duckdb $START $END
"$FINSYNC" -w "$WS" plan estimate cheap >"$WORK/estimate.out" 2>"$WORK/estimate.err" ||
  fail "estimate exited $?: $(tail -3 "$WORK/estimate.err")"
grep -Eq "^  strategy +symbol_list \(the fewest requests of 3 priced\)" "$WORK/estimate.out" ||
  fail "estimate does not choose symbol_list: $(cat "$WORK/estimate.out")"
est() { awk -v s="$1" '$1 == "split" && $2 == s { print $3 }' "$WORK/estimate.out"; }
assert_eq 4 "$(est symbol_list)" "estimated requests of symbol_list"
assert_eq "$OPEN_DAYS" "$(est date_all_symbols)" "estimated requests of date_all_symbols"
[[ $(est symbol_window) -ge 30 ]] || fail "symbol_window priced at $(est symbol_window) requests"
run_plan cheap
assert_eq 4 "$SENT" "daily requests of the cheapest plan"
grep -q "planned 4 new tasks: symbol_list, 4 requests (symbol_window $(est symbol_window), date_all_symbols $OPEN_DAYS)" \
  "$WORK/cheap.err" || fail "no choice in the log: $(grep planned "$WORK/cheap.err")"
lists=$(grep -o '"ts_code":"[^"]*"' "$WORK/cheap.daily" | awk -F, '{ n += NF } END { print n }')
assert_eq "$(est symbol_window)" "$lists" "codes across the lists (every symbol listed in the range)"
check_exact cheap "$WORK/truth.csv"

# --- One symbol per request.
PLAN_STRATEGY=symbol_window write_plan "$WS/plans/single.yaml" single duckdb $START $END
run_plan single
assert_eq "$(est symbol_window)" "$SENT" "daily requests of symbol_window"
grep -q '"ts_code":"[^"]*,' "$WORK/single.daily" && fail "a list sent by symbol_window"
check_exact single "$WORK/truth.csv"

# --- One request per trade_date for every symbol.
PLAN_STRATEGY=date_all_symbols write_plan "$WS/plans/bydate.yaml" bydate duckdb $START $END
run_plan bydate
assert_eq "$OPEN_DAYS" "$SENT" "daily requests by date"
assert_eq "$OPEN_DAYS" "$(grep -c '"trade_date":"' "$WORK/bydate.daily")" "requests with trade_date"
grep -q '"ts_code"' "$WORK/bydate.daily" && fail "a request by date named a ts_code"
check_exact bydate "$WORK/truth.csv"

# --- A subset of the market by date: the market's list is fetched (metadata), every answer
# holds 40 symbols, only the three of the plan land.
SUBSET=$("$EMULATOR" truth --api stock_basic --seed $SEED --symbols $SYMBOLS --list-status L |
  awk -F, 'NR > 1 && NR % 9 == 2 { print $1 }' | head -3 | paste -sd,)
cat >"$WS/plans/subset.yaml" <<YAML
name: subset
provider: tushare
endpoint: daily
universe: { symbols: [$SUBSET] }
range: { start: $START, end: $END }
sink: { kind: duckdb, table: subset }
split: { strategy: date_all_symbols }
YAML
before=$(wc -l <"$emu_AUDIT")
run_plan subset
assert_eq "$OPEN_DAYS" "$SENT" "daily requests of the subset by date"
assert_eq 3 "$(tail -n +$((before + 1)) "$emu_AUDIT" | grep -c '"api_name":"stock_basic"')" \
  "stock_basic requests for the market's list (L, D, P)"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --ts-code "$SUBSET" \
  --start "${START//-/}" --end "${END//-/}" >"$WORK/truth-subset.csv"
check_exact subset "$WORK/truth-subset.csv"
# The same subset left to the planner: one list of three.
sed -e 's/name: subset/name: subset-auto/' -e 's/table: subset/table: subset_auto/' \
  -e '/split:/d' "$WS/plans/subset.yaml" >"$WS/plans/subset-auto.yaml"
run_plan subset-auto
assert_eq 1 "$SENT" "daily requests of the subset left to the planner"
check_exact subset_auto "$WORK/truth-subset.csv"

# Zero limit violations across every run: no refusal, no window over the limit, no list too long.
grep -q '"outcome":"rate_limited' "$emu_AUDIT" && fail "the emulator refused a request"
grep -q '"outcome":"bad_request' "$emu_AUDIT" && fail "the emulator rejected a request: $(grep -m1 bad_request "$emu_AUDIT")"
over=$(grep -o '"t":[0-9.]*' "$emu_AUDIT" | cut -d: -f2 | sort -n |
  awk -v w=$WINDOW_S -v lim=$LIMIT '{ t[NR] = $1 } END { j = 1; worst = 0
    for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= w) j++; if (i - j + 1 > worst) worst = i - j + 1 }
    print (worst > lim) ? worst : 0 }')
assert_eq 0 "$over" "largest number of requests in a ${WINDOW_S}s window above $LIMIT"

# --- A by-date answer over the cap. The provider here lists only listed stocks (L) as the market,
# so the planner expects at most MAX_L rows a day, while the answers also hold delisted and
# suspended stocks still trading then: with a cap of MAX_L + 1, the fuller days come back capped.
TSTART=20120101 TEND=20120131
"$EMULATOR" truth --api stock_basic --seed $SEED --symbols $SYMBOLS --list-status L >"$WORK/listed.csv"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start $TSTART --end $TEND >"$WORK/truth-jan.csv"
MAX_L=$("$EMULATOR" truth --api trade_cal --seed $SEED --start $TSTART --end $TEND | awk -F, '$3 == 1 { print $2 }' |
  while read -r day; do awk -F, -v d="$day" 'NR > 1 && $9 <= d' "$WORK/listed.csv" | wc -l; done | sort -n | tail -1)
CAP=$((MAX_L + 1))
# A full answer (CAP rows) may have been cut: it is split. The emulator marks those it cut.
per_day() { tail -n +2 "$WORK/truth-jan.csv" | cut -d, -f2 | sort | uniq -c; }
FULL_DAYS=$(per_day | awk -v c=$CAP '$1 >= c' | wc -l)
CUT_DAYS=$(per_day | awk -v c=$CAP '$1 > c' | wc -l)
[[ $CUT_DAYS -ge 1 ]] || fail "precondition: no day of January 2012 holds more than $CAP rows (seed $SEED)"
start_emulator capped --seed $SEED --symbols $SYMBOLS --row-cap $CAP --max-codes $LIST_MAX
WS2="$WORK/ws2"
new_workspace "$WS2"
sed -e "s/max_rows_per_request: 6000/max_rows_per_request: $CAP/" \
  -e "s/separator: \",\", max: 100 }/separator: \",\", max: $LIST_MAX }/" \
  -e "s/statuses: \[L, D, P\]/statuses: [L]/" "$SOURCE_DIR/providers/tushare.yaml" >"$WS2/providers/tushare.yaml"
grep -q "statuses: \[L\]" "$WS2/providers/tushare.yaml" || fail "override not written"
cat >"$WS2/plans/capped.yaml" <<YAML
name: capped
provider: tushare
endpoint: daily
universe: { from: stock_basic }
range: { start: 2012-01-01, end: 2012-01-31 }
sink: { kind: duckdb, table: capped }
split: { strategy: date_all_symbols }
YAML
TUSHARE_URL="http://127.0.0.1:$capped_PORT" "$FINSYNC" -w "$WS2" run capped >"$WORK/capped.out" 2>"$WORK/capped.err" ||
  fail "capped run exited $?: $(tail -5 "$WORK/capped.err")"
hit=$(grep '"api_name":"daily"' "$capped_AUDIT" | grep -c '"capped":true' || true)
assert_eq "$CUT_DAYS" "$hit" "answers by date the emulator cut"
split=$("$FINSYNC" -w "$WS2" report capped --json | grep '"split"' | tr -dc 0-9)
assert_eq "$FULL_DAYS" "$split" "tasks split vs full answers"
grep -q 'rows hit the cap of '"$CAP"'; splitting into capped/.*+' "$WORK/capped.err" || fail "no split into lists in the log"
# Each capped day comes again as lists of the listed stocks trading that day, never by date.
relisted=$(grep '"api_name":"daily"' "$capped_AUDIT" | grep -c '"ts_code":' || true)
[[ $relisted -ge $FULL_DAYS ]] || fail "$relisted list requests for $FULL_DAYS capped days"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --list-status L --start $TSTART --end $TEND >"$WORK/truth-jan-l.csv"
canonical_from "$WS2/data/finsync.duckdb" capped >"$WORK/capped.landed.csv"
diff -q "$WORK/truth-jan-l.csv" "$WORK/capped.landed.csv" >/dev/null ||
  fail "capped: landed rows differ from truth: $(diff "$WORK/truth-jan-l.csv" "$WORK/capped.landed.csv" | head -5)"

# --- Widening. Two stocks listed in 2014 or later, planned from 2010 in windows of 40 trading
# days (a 41-row cap): the windows before their listing come back empty, so the next ones merge.
# Appended rows show any row landed twice. A kill mid-way resumes with the merged tasks.
LATE=$(awk -F, 'NR > 1 && $9 >= "2014-01-01" { print $1 }' "$WORK/listed.csv" | head -2 | paste -sd,)
[[ $LATE == *,* ]] || fail "precondition: fewer than two stocks listed from 2014 (seed $SEED)"
start_emulator wide --seed $SEED --symbols $SYMBOLS
WS3="$WORK/ws3"
new_workspace "$WS3"
sed "s/max_rows_per_request: 6000/max_rows_per_request: 41/" "$SOURCE_DIR/providers/tushare.yaml" >"$WS3/providers/tushare.yaml"
cat >"$WS3/plans/wide.yaml" <<YAML
name: wide
provider: tushare
endpoint: daily
universe: { symbols: [$LATE] }
range: { start: 2010-01-01, end: 2016-12-31 }
sink: { kind: duckdb, table: wide, mode: append }
split: { strategy: symbol_window }
concurrency: 1
YAML
export TUSHARE_URL="http://127.0.0.1:$wide_PORT"
rc=0
FINSYNC_FAILPOINTS="engine.fetched_not_landed:kill@12" "$FINSYNC" -w "$WS3" run wide >"$WORK/wide1.out" 2>"$WORK/wide1.err" || rc=$?
assert_eq 137 "$rc" "exit of the run killed at its 12th answer"
PLANNED=$(grep -o 'planned [0-9]* new tasks' "$WORK/wide1.err" | tr -dc 0-9)
grep -q "far under the cap: .* widened into wide/" "$WORK/wide1.err" || fail "nothing widened before the kill"
before=$(wc -l <"$wide_AUDIT")
"$FINSYNC" -w "$WS3" run wide >"$WORK/wide2.out" 2>"$WORK/wide2.err" || fail "resume exited $?: $(tail -5 "$WORK/wide2.err")"
grep -q "planned" "$WORK/wide2.err" && fail "the resumed run planned again: $(grep planned "$WORK/wide2.err")"
# Requests of the first run repeated by the second: at most the one in flight at the kill.
key() { grep '"api_name":"daily"' | grep -o '"params":{[^}]*}' | sort; }
repeated=$(comm -12 <(head -n "$before" "$wide_AUDIT" | key) <(tail -n +$((before + 1)) "$wide_AUDIT" | key) | wc -l)
[[ $repeated -le 1 ]] || fail "$repeated requests repeated after the kill (1 was in flight)"
SENT=$(grep -c '"api_name":"daily"' "$wide_AUDIT")
[[ $SENT -lt $PLANNED ]] || fail "$SENT daily requests for $PLANNED planned windows: nothing was saved by widening"
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --ts-code "$LATE" --start 20100101 --end 20161231 >"$WORK/truth-wide.csv"
canonical_from "$WS3/data/finsync.duckdb" wide >"$WORK/wide.landed.csv"
diff -q "$WORK/truth-wide.csv" "$WORK/wide.landed.csv" >/dev/null ||
  fail "wide: landed rows differ from truth (a row lost or twice): $(diff "$WORK/truth-wide.csv" "$WORK/wide.landed.csv" | head -5)"
before=$(wc -l <"$wide_AUDIT")
"$FINSYNC" -w "$WS3" run wide >"$WORK/wide3.out" 2>"$WORK/wide3.err" || fail "third run exited $?"
assert_eq 0 "$(tail -n +$((before + 1)) "$wide_AUDIT" | grep -c '"api_name":"daily"' || true)" \
  "daily requests of a run after the plan is done"

echo "cheapest_plan: ok (lists 4, per symbol $(est symbol_window), by date $OPEN_DAYS requests; $split full days re-split; $SENT requests for $PLANNED planned windows after widening)"
