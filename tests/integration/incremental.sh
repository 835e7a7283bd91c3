#!/usr/bin/env bash
# A plan that ends `today`, run three times, with the emulator's audit log as the referee:
# 1. before today's publication: today's bars are not out, the run says its last day is
#    provisional, the landed rows equal the truth as published at that moment;
# 2. after the publication, with a vendor revision of the last days and a new symbol in the
#    universe: one request per old symbol over the lookback and the days after its mark, one
#    backfill from the plan's start for the new symbol; the landed rows equal the revised truth;
# 3. again the same day: only the lookback requests, and nothing changes.
source "$(dirname "$0")/lib.sh"

SEED=31 SYMBOLS=5
# Every calendar day is open, so that today is a trading day whatever day the test runs on and
# the publication checks always apply.
CAL="--calendar every-day"
# A zone where it is about noon now, so that "today" stays one day through the test, a
# publication at 01:00 has passed and one at 23:00 has not.
H=$((10#$(date -u +%H)))
OFF=$((12 - H))
if ((OFF >= 0)); then
  ZONE="Etc/GMT-$OFF" UTC_OFF=$(printf '+%02d:00' $OFF)
else
  ZONE="Etc/GMT+$((-OFF))" UTC_OFF=$(printf -- '-%02d:00' $((-OFF)))
fi
TODAY=$(TZ=$ZONE date +%Y%m%d)
START=$(date -d "$TODAY -40 days" +%Y%m%d)
LOOKBACK=3

WS="$WORK/ws"
new_workspace "$WS"
# The built-in tushare definition with the publication time of this test.
published_at() {
  sed "s|available_after: \"16:00 Asia/Shanghai\"|available_after: \"$1 $ZONE\"|" \
    "$SOURCE_DIR/providers/tushare.yaml" >"$WS/providers/tushare.yaml"
  grep -qF "available_after: \"$1 $ZONE\"" "$WS/providers/tushare.yaml" ||
    fail "override not written: the built-in daily no longer declares available_after 16:00"
}
iso() { echo "${1:0:4}-${1:4:2}-${1:6:2}"; }
write_plan "$WS/plans/inc.yaml" inc duckdb "$(iso "$START")" today
DB="$WS/data/finsync.duckdb"

# Open days of the emulator's calendar, and the first of the LOOKBACK open days up to a day.
"$EMULATOR" truth --api trade_cal $CAL --start "$START" --end "$TODAY" |
  awk -F, 'NR > 1 && $3 == 1 { gsub(/-/, "", $2); print $2 }' >"$WORK/open.txt"
lookback_start() { awk -v d="$1" '$1 <= d' "$WORK/open.txt" | tail -n $LOOKBACK | head -1; }
grep -qx "$TODAY" "$WORK/open.txt" || fail "today $TODAY is not open in the every-day calendar"

truth() {  # emulator options...
  "$EMULATOR" truth --api daily $CAL --seed $SEED --start "$START" --end "$TODAY" --utc-offset "$UTC_OFF" "$@"
}
daily_requests() {  # AUDIT FROM_LINE: "ts_code start end" per daily request, sorted
  tail -n +"$2" "$1" | grep '"api_name":"daily"' |
    sed -E 's/.*"end_date":"([0-9]+)","start_date":"([0-9]+)","ts_code":"([^"]+)".*/\3 \2 \1/' | sort
}

# Every symbol of the test is listed over the whole range, so each has exactly one task.
"$EMULATOR" truth --api stock_basic $CAL --seed $SEED --symbols $((SYMBOLS + 1)) >"$WORK/basic.csv"
awk -F, -v s="$(iso "$START")" 'NR > 1 && ($8 != "L" || $9 > s) { exit 1 }' "$WORK/basic.csv" ||
  fail "seed $SEED: a symbol is not listed over the whole range: $(cat "$WORK/basic.csv")"
"$EMULATOR" truth --api stock_basic $CAL --seed $SEED --symbols $SYMBOLS | awk -F, 'NR > 1 { print $1 }' |
  sort >"$WORK/old_codes.txt"
NEW_CODE=$(awk -F, 'NR > 1 { print $1 }' "$WORK/basic.csv" | sort | comm -23 - "$WORK/old_codes.txt")
[[ -n $NEW_CODE ]] || fail "no new symbol with --symbols $((SYMBOLS + 1))"

# --- Run 1: before today's publication.
start_emulator e1 $CAL --seed $SEED --symbols $SYMBOLS --publish-at 23:00 --utc-offset "$UTC_OFF"
export TUSHARE_URL="http://127.0.0.1:$e1_PORT" TUSHARE_TOKEN="$TOKEN"
published_at 23:00
"$FINSYNC" -w "$WS" run inc >"$WORK/run1.out" 2>"$WORK/run1.err" || fail "run 1 exited $?: $(tail -5 "$WORK/run1.err")"
truth --symbols $SYMBOLS --publish-at 23:00 >"$WORK/truth1.csv"
canonical_from "$DB" inc >"$WORK/db1.csv"
diff -q "$WORK/truth1.csv" "$WORK/db1.csv" >/dev/null || fail "run 1 differs from truth: $(diff "$WORK/truth1.csv" "$WORK/db1.csv" | head -5)"
assert_eq "$SYMBOLS" "$(daily_requests "$e1_AUDIT" 1 | wc -l)" "daily requests of run 1"
grep -q ",$(iso "$TODAY")," "$WORK/truth1.csv" && fail "the emulator served today's bars before their publication"
grep -q "provisional" "$WORK/run1.err" || fail "run 1 did not say today is provisional: $(cat "$WORK/run1.err")"
kill "${EMU_PIDS[0]}"
wait "${EMU_PIDS[0]}" 2>/dev/null || true

# --- Run 2: published, revised from the first lookback day, one symbol more.
MARK1=$(date -d "$TODAY -1 day" +%Y%m%d)
LB1=$(lookback_start "$MARK1")
start_emulator e2 $CAL --seed $SEED --symbols $((SYMBOLS + 1)) --publish-at 01:00 --utc-offset "$UTC_OFF" \
  --revision 1 --revised-from "$LB1"
export TUSHARE_URL="http://127.0.0.1:$e2_PORT"
published_at 01:00
{
  while read -r code; do echo "$code $LB1 $TODAY"; done <"$WORK/old_codes.txt"
  # The new symbol's backfill: the plan's trading days, first to last.
  echo "$NEW_CODE $(head -1 "$WORK/open.txt") $(tail -1 "$WORK/open.txt")"
} | sort >"$WORK/want2.txt"
# The estimate counts what the run will send, the refresh included, and sends no data request.
check_estimate() {  # RUN WANT_FILE REFRESH_TASKS AUDIT
  local from=$(($(wc -l <"$4") + 1))
  "$FINSYNC" -w "$WS" plan estimate inc >"$WORK/est$1.out" 2>"$WORK/est$1.err" ||
    fail "estimate before run $1 exited $?: $(tail -3 "$WORK/est$1.err")"
  grep -qx "  requests   $(wc -l <"$2") data requests of weight 1 (plus metadata: symbols, calendar)" "$WORK/est$1.out" ||
    fail "estimate before run $1, want $(wc -l <"$2") requests: $(cat "$WORK/est$1.out")"
  grep -qx "  refresh    $3 of them fetch again the last $LOOKBACK trading days of a parameter set and every day after" "$WORK/est$1.out" ||
    fail "estimate before run $1, want $3 refresh tasks: $(cat "$WORK/est$1.out")"
  assert_eq 0 "$(tail -n +"$from" "$4" | grep -c '"api_name":"daily"' || true)" "daily requests of the estimate before run $1"
}
check_estimate 2 "$WORK/want2.txt" "$SYMBOLS" "$e2_AUDIT"
"$FINSYNC" -w "$WS" run inc >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "run 2 exited $?: $(tail -5 "$WORK/run2.err")"
daily_requests "$e2_AUDIT" 1 >"$WORK/got2.txt"
diff -q "$WORK/want2.txt" "$WORK/got2.txt" >/dev/null || fail "requests of run 2: $(diff "$WORK/want2.txt" "$WORK/got2.txt")"
truth --symbols $((SYMBOLS + 1)) --publish-at 01:00 --revision 1 --revised-from "$LB1" >"$WORK/truth2.csv"
canonical_from "$DB" inc >"$WORK/db2.csv"
diff -q "$WORK/truth2.csv" "$WORK/db2.csv" >/dev/null || fail "run 2 differs from the revised truth: $(diff "$WORK/truth2.csv" "$WORK/db2.csv" | head -5)"
# The revision changed rows the first run had landed: the lookback is what picked them up.
changed=$(truth --symbols $((SYMBOLS + 1)) --publish-at 01:00 | diff - "$WORK/truth2.csv" | grep -c '^>' || true)
((changed > 0)) || fail "revision 1 changed no row"
grep -q ",$(iso "$TODAY")," "$WORK/db2.csv" || fail "today's bars did not land once published"

# --- Run 3: the same day again: one lookback request per symbol, nothing else.
LB2=$(lookback_start "$TODAY")
lines=$(wc -l <"$e2_AUDIT")
awk -F, 'NR > 1 { print $1 }' "$WORK/basic.csv" | sort | awk -v a="$LB2" -v b="$TODAY" '{ print $1, a, b }' >"$WORK/want3.txt"
check_estimate 3 "$WORK/want3.txt" $((SYMBOLS + 1)) "$e2_AUDIT"
lines=$(wc -l <"$e2_AUDIT")
"$FINSYNC" -w "$WS" run inc >"$WORK/run3.out" 2>"$WORK/run3.err" || fail "run 3 exited $?: $(tail -5 "$WORK/run3.err")"
daily_requests "$e2_AUDIT" $((lines + 1)) >"$WORK/got3.txt"
diff -q "$WORK/want3.txt" "$WORK/got3.txt" >/dev/null || fail "requests of run 3: $(diff "$WORK/want3.txt" "$WORK/got3.txt")"
canonical_from "$DB" inc >"$WORK/db3.csv"
diff -q "$WORK/truth2.csv" "$WORK/db3.csv" >/dev/null || fail "run 3 changed the landed rows"
echo "incremental: ok (zone $ZONE, today $TODAY, lookback from $LB1 then $LB2, $changed revised rows)"
