#!/usr/bin/env bash
# A daily quota (here a 6-second "day", epoch-aligned in the emulator and in the provider
# override alike) that the backfill needs four of: with --no-wait each run spends what is left,
# parks the rest and exits 75, and a run started again at once sends nothing (the ledger in the
# state store knows the quota is spent); without --no-wait one run waits for each reset and
# finishes. The emulator never refuses a request, and the landed rows equal the truth.
source "$(dirname "$0")/lib.sh"

SEED=21 SYMBOLS=6 QUOTA=8 DAY_S=6
"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20160101 --end 20161231 >"$WORK/truth.csv"
TRUTH_ROWS=$(($(wc -l <"$WORK/truth.csv") - 1))

setup_ws() {  # DIR EMULATOR_PORT
  new_workspace "$1"
  tushare_limit "$1" "{ scope: endpoint, endpoint: daily, limit: $QUOTA, per: ${DAY_S}s, align: epoch, quota: true }"
  write_plan "$1/plans/quota.yaml" quota parquet 2016-01-01 2016-12-31 "split: { window: 2m }"
}

# Daily requests per emulator "day" never above the quota, and never a refusal.
check_audit() {  # AUDIT
  grep -q '"outcome":"rate_limited' "$1" && fail "the emulator refused a request: $(grep -m1 rate_limited "$1")"
  local worst
  worst=$(grep '"api_name":"daily"' "$1" | grep -o '"t":[0-9.]*' | cut -d: -f2 |
    awk -v d=$DAY_S '{ n[int($1 / d)]++ } END { m = 0; for (k in n) if (n[k] > m) m = n[k]; print m }')
  [[ $worst -le $QUOTA ]] || fail "$worst daily requests in one day, quota $QUOTA"
  local days
  days=$(grep '"api_name":"daily"' "$1" | grep -o '"t":[0-9.]*' | cut -d: -f2 |
    awk -v d=$DAY_S '{ n[int($1 / d)]++ } END { print length(n) }')
  [[ $days -ge 4 ]] || fail "the backfill used only $days quota days: parking was not exercised"
}

check_truth() {  # WS
  canonical_from :memory: "read_parquet('$1/data/quota/**/*.parquet', hive_partitioning = true)" >"$WORK/landed.csv"
  diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null ||
    fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/landed.csv" | head -5)"
}

# --- --no-wait: exit 75, resume on the next run, no burst right after a restart.
start_emulator a --seed $SEED --symbols $SYMBOLS --per-day $QUOTA --day-seconds $DAY_S
export TUSHARE_URL="http://127.0.0.1:$a_PORT" TUSHARE_TOKEN="$TOKEN"
setup_ws "$WORK/a"
# The estimate fetches metadata only, and prices the backfill in requests, rows and time.
"$FINSYNC" -w "$WORK/a" plan estimate quota >"$WORK/estimate.out" 2>"$WORK/estimate.err" ||
  fail "plan estimate exited $?: $(tail -3 "$WORK/estimate.err")"
assert_eq 0 "$(grep -c '"api_name":"daily"' "$a_AUDIT" || true)" "daily requests sent by plan estimate"
EST_REQ=$(awk '$1 == "requests" { print $2 }' "$WORK/estimate.out")
EST_ROWS=$(awk '$1 == "rows" { print $3 }' "$WORK/estimate.out")
[[ $EST_ROWS -ge $TRUTH_ROWS ]] || fail "estimated rows $EST_ROWS below the truth's $TRUTH_ROWS"
grep -q "pace set by default daily $QUOTA/${DAY_S}s@epoch" "$WORK/estimate.out" || fail "estimate: $(cat "$WORK/estimate.out")"
# Start at the beginning of a day, so that the restart below falls in the day the quota was spent.
sleep "$(awk -v d=$DAY_S -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", d - (t - int(t / d) * d) + 0.2 }')"
rc=0
"$FINSYNC" -w "$WORK/a" run quota --no-wait >"$WORK/a1.out" 2>"$WORK/a1.err" || rc=$?
assert_eq 75 "$rc" "exit code of a run that spends the quota"
grep -q "quota default daily $QUOTA/${DAY_S}s@epoch spent ($QUOTA/$QUOTA)" "$WORK/a1.err" ||
  fail "no line naming the quota: $(grep -i quota "$WORK/a1.err" | head -3)"
grep -Eq "[0-9]+ tasks parked until .* UTC \(in .*\); progress is saved" "$WORK/a1.err" ||
  fail "no parked line: $(tail -3 "$WORK/a1.err")"
parked=$("$FINSYNC" -w "$WORK/a" status quota | awk '$1 == "quota" { print $6 }')
[[ ${parked:-0} -gt 0 ]] || fail "status shows no parked task: $("$FINSYNC" -w "$WORK/a" status quota)"
"$FINSYNC" -w "$WORK/a" status quota >"$WORK/status.out"
grep -Eq "^  parked until [0-9-]+ [0-9:]+ UTC$" "$WORK/status.out" || fail "status: no resume time: $(cat "$WORK/status.out")"
grep -Eq "^limit tushare +default daily $QUOTA/${DAY_S}s@epoch +[0-9]+/$QUOTA used, resets in " "$WORK/status.out" ||
  fail "status: no quota window line: $(cat "$WORK/status.out")"
# The ETA: one request per task left (pending and parked); under the quota window, what still
# fits this day goes at once, the rest waits for the reset and a day per QUOTA after that
# (recomputed here from the window's line, rounded to 0.1 s as printed).
left=$(awk '$1 == "quota" { print $4 + $5 + $6 }' "$WORK/status.out")
eta=$(grep -E "^  eta +[0-9.]+s for $left requests: bound by " "$WORK/status.out") ||
  fail "status: no eta line for $left requests: $(cat "$WORK/status.out")"
window="limit default daily $QUOTA/${DAY_S}s@epoch"
case $eta in
  *"bound by $window"*) limit_s=$(awk '{ sub(/s$/, "", $2); print $2 }' <<<"$eta") ;;
  *"bound by the last run's rate, "*"($window allows "*) limit_s=$(sed -E 's/.* allows ([0-9.]+)s\)$/\1/' <<<"$eta") ;;
  *) fail "status: the eta does not name the quota window: $eta" ;;
esac
awk -v line="$(grep -E "^limit tushare +default daily" "$WORK/status.out")" -v left="$left" -v q=$QUOTA \
  -v d=$DAY_S -v got="$limit_s" 'BEGIN {
    match(line, /[0-9]+\/[0-9]+ used/); split(substr(line, RSTART, RLENGTH), u, "/"); used = u[1] + 0
    match(line, /resets in [0-9.]+s/); reset = substr(line, RSTART + 10, RLENGTH - 11) + 0
    rest = left - (q - used); want = rest <= 0 ? 0 : reset + (int((rest + q - 1) / q) - 1) * d
    if (got - want > 0.2 || want - got > 0.2) { print "eta under the limits " got "s, expected " want "s"; exit 1 }
  }' || fail "status: $eta"
day_of() { awk -v d=$DAY_S -v t="$1" 'BEGIN { print int(t / d) }'; }
before=$(grep -c '"api_name":"daily"' "$a_AUDIT")
# The quota was spent in the day of the first run's last request.
spent_at=$(grep '"api_name":"daily"' "$a_AUDIT" | tail -1 | grep -o '"t":[0-9.]*' | cut -d: -f2)
rc=0
"$FINSYNC" -w "$WORK/a" run quota --no-wait >"$WORK/a2.out" 2>"$WORK/a2.err" || rc=$?
t1=$(date +%s.%N)
if [[ $(day_of "$spent_at") == $(day_of "$t1") ]]; then
  assert_eq 75 "$rc" "exit code of a restart within the spent day"
  after=$(grep -c '"api_name":"daily"' "$a_AUDIT")
  assert_eq "$before" "$after" "daily requests sent by a restart within the spent day"
  RESTART_CHECKED=1
fi
for _ in $(seq 1 20); do
  [[ $rc == 0 ]] && break
  assert_eq 75 "$rc" "exit code while parked"
  sleep 1
  rc=0
  "$FINSYNC" -w "$WORK/a" run quota --no-wait >"$WORK/a3.out" 2>"$WORK/a3.err" || rc=$?
done
assert_eq 0 "$rc" "exit code once the backfill is done"
check_audit "$a_AUDIT"
check_truth "$WORK/a"
assert_eq "$EST_REQ" "$(grep -c '"api_name":"daily"' "$a_AUDIT")" "daily requests: estimated vs sent"

# --- Default: one run waits for each reset by itself.
start_emulator b --seed $SEED --symbols $SYMBOLS --per-day $QUOTA --day-seconds $DAY_S
export TUSHARE_URL="http://127.0.0.1:$b_PORT"
setup_ws "$WORK/b"
"$FINSYNC" -w "$WORK/b" run quota >"$WORK/b.out" 2>"$WORK/b.err" || fail "waiting run exited $?: $(tail -3 "$WORK/b.err")"
grep -q "waiting for the reset" "$WORK/b.err" || fail "the run did not wait: $(tail -5 "$WORK/b.err")"
grep -q "quota reset reached: resuming plan quota" "$WORK/b.err" || fail "the run did not resume"
check_audit "$b_AUDIT"
check_truth "$WORK/b"
echo "quota_parking: ok ($TRUTH_ROWS rows; quota $QUOTA per ${DAY_S}s day; restart in the spent day checked: ${RESTART_CHECKED:-no, the day had turned})"
