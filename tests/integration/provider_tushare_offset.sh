#!/usr/bin/env bash
# Offset/limit paging against the emulator's tushare personality, which takes `limit` and
# `offset` in `params` as Tushare does. A provider override gives `daily` pages of 100 rows: each
# symbol-year task asks offsets 0, 100, ... until a page comes back short, and the rows landed
# equal the truth. A run killed between two pages (one request at a time) resumes at the next
# offset: over both runs no page is asked twice. Bad `limit`/`offset` values are refused.
source "$(dirname "$0")/lib.sh"

SEED=5 SYMBOLS=5 PAGE=100
start_emulator emu --seed $SEED --symbols $SYMBOLS
export TUSHARE_URL="http://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
sed -e "0,/^    params:\$/s//    params:\n      limit: { type: int }\n      offset: { type: int }/" \
  -e "s/^    max_rows_per_request: 6000\$/&\n    pagination: { kind: offset, offset_param: offset, limit_param: limit, page_size: $PAGE }/" \
  "$SOURCE_DIR/providers/tushare.yaml" >"$WS/providers/tushare.yaml"
grep -q "page_size: $PAGE" "$WS/providers/tushare.yaml" || fail "pagination not written into the override"

"$EMULATOR" truth --api daily --seed $SEED --symbols $SYMBOLS --start 20150101 --end 20161231 >"$WORK/truth.csv"
# Pages each symbol-year needs: full pages, then one short (possibly empty) page.
expected_pages=$(tail -n +2 "$WORK/truth.csv" | awk -F, '{ print $1 "," substr($2, 1, 4) }' | sort | uniq -c |
  awk -v p=$PAGE '{ for (o = 0; o <= $1; o += p) print $2 " " o }' | sort)
[[ $(wc -l <<<"$expected_pages") -gt 12 ]] || fail "too few pages expected: $expected_pages"

# pages AUDIT: "ts_code,year offset limit" per served daily request, sorted.
pages() {
  python3 - "$1" <<'PY'
import json, sys
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("api_name") != "daily" or r.get("outcome") != "ok":
        continue
    p = r["params"]
    out.append("%s,%s %s %s" % (p["ts_code"], str(p["start_date"])[:4], p["offset"], p["limit"]))
print("\n".join(sorted(out)))
PY
}

write_plan "$WS/plans/paged.yaml" paged duckdb 2015-01-01 2016-12-31 "split: { window: 1y }"
"$FINSYNC" -w "$WS" run "$WS/plans/paged.yaml" >"$WORK/run.out" 2>"$WORK/run.err" ||
  fail "run exited $?: $(tail -5 "$WORK/run.err")"
got=$(pages "$emu_AUDIT")
assert_eq "$(sed "s/\$/ $PAGE/" <<<"$expected_pages")" "$got" "pages requested (symbol,year offset limit)"
canonical_from "$WS/data/finsync.duckdb" paged >"$WORK/paged.csv"
diff -q "$WORK/truth.csv" "$WORK/paged.csv" >/dev/null ||
  fail "landed rows differ from truth: $(diff "$WORK/truth.csv" "$WORK/paged.csv" | head -5)"
"$FINSYNC" -w "$WS" run paged >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
assert_eq "$got" "$(pages "$emu_AUDIT")" "pages after a second run (nothing to ask)"

# Killed at the 3rd page boundary, one request at a time: the resumed run starts at the next
# offset of the interrupted task, and every page is asked exactly once over both runs.
sed -i 's/concurrency: 4/concurrency: 1/' "$WS/finsync.yaml"
sed -e 's/^name: paged$/name: resumed/' -e 's/table: paged }/table: resumed }/' \
  "$WS/plans/paged.yaml" >"$WS/plans/resumed.yaml"
: >"$emu_AUDIT"
rc=0
FINSYNC_FAILPOINTS="engine.between_pages:kill@3" "$FINSYNC" -w "$WS" run resumed \
  >"$WORK/crash.out" 2>"$WORK/crash.err" || rc=$?
assert_eq 137 "$rc" "exit code of the run killed between pages"
before=$(pages "$emu_AUDIT" | wc -l)
[[ $before -ge 3 ]] || fail "only $before pages before the kill"
"$FINSYNC" -w "$WS" run resumed >"$WORK/resume.out" 2>"$WORK/resume.err" ||
  fail "resume exited $?: $(tail -5 "$WORK/resume.err")"
assert_eq "$(sed "s/\$/ $PAGE/" <<<"$expected_pages")" "$(pages "$emu_AUDIT")" "pages over both runs"
canonical_from "$WS/data/finsync.duckdb" resumed >"$WORK/resumed.csv"
diff -q "$WORK/truth.csv" "$WORK/resumed.csv" >/dev/null ||
  fail "rows landed across the kill differ from truth: $(diff "$WORK/truth.csv" "$WORK/resumed.csv" | head -5)"

# The personality refuses what Tushare refuses.
for bad in '"limit": "-1"' '"offset": "x"'; do
  body=$(curl -s -X POST "$TUSHARE_URL/" -d "{\"api_name\":\"daily\",\"token\":\"$TOKEN\",\"params\":{\"ts_code\":\"000001.SZ\",$bad}}")
  grep -q '应为非负整数' <<<"$body" || fail "$bad: expected a parameter error, got $body"
done
pages_total=$(wc -l <<<"$expected_pages")
echo "provider_tushare_offset: ok ($pages_total pages of $PAGE rows; killed after $before pages, resumed at the next offset)"
