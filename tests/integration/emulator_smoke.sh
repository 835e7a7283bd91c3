#!/usr/bin/env bash
# Smoke test of finsync-emulator (tools/emulator, docs/emulator.md).
# usage: emulator_smoke.sh PATH/TO/finsync-emulator
# Needs only bash, curl and grep/awk/sed/sort/coreutils (no python, no jq). Servers run on
# 127.0.0.1 with --port 0 and are stopped by their pid.
set -euo pipefail

EMU=${1:?usage: emulator_smoke.sh PATH/TO/finsync-emulator}
TOKEN="smoke-Secret-t0ken-$$"
NAME=emulator_smoke
# The server writes one audit line per request before answering it, so when curl has the
# answer, the line is there.
source "$(dirname "$0")/emulator_lib.sh"

# post PORT JSON: prints the response body.
post() {
  curl -sS --max-time 20 -X POST -H 'Content-Type: application/json' --data-binary "$2" \
    "http://127.0.0.1:$1/"
}

# items_to_csv: a daily JSON answer on stdin -> CSV rows as `truth` prints them (unordered).
items_to_csv() {
  sed -e 's/.*"items":\[\[//' -e 's/\]\],"has_more".*//' -e 's/\],\[/\n/g' |
    sed -e 's/"//g' -E -e 's/^([^,]*),([0-9]{4})([0-9]{2})([0-9]{2}),/\1,\2-\3-\4,/'
}

# --- server A: no limits -----------------------------------------------------------------
start_server a --seed 7 --symbols 50
A=$PORT
requests_a=0

# 1. A bad token gives 40101.
body=$(post "$A" '{"api_name":"daily","token":"wrong","params":{"ts_code":"000001.SZ"},"fields":""}')
requests_a=$((requests_a + 1))
[[ $body == *'"code":40101'* && $body == *'"data":null'* ]] || fail "bad token: $body"
[[ $body == *'您的token不对，请确认。'* ]] || fail "bad token message: $body"

# 2. Malformed JSON is answered, not fatal.
body=$(post "$A" '{"api_name": "daily", "token": ')
requests_a=$((requests_a + 1))
[[ $body == *'"code":-1'* ]] || fail "malformed JSON: $body"

# 3. daily for one code matches `truth` row for row.
code=$("$EMU" truth --seed 7 --symbols 50 --api stock_basic --list-status L |
  awk -F, 'NR == 2 { print $1 }')
[[ -n $code ]] || fail "truth stock_basic gave no listed stock"
req=$(printf '{"api_name":"daily","token":"%s","params":{"ts_code":"%s","start_date":"20230101","end_date":"20231231"},"fields":""}' "$TOKEN" "$code")
body=$(post "$A" "$req")
requests_a=$((requests_a + 1))
[[ $body == *'"code":0'* ]] || fail "daily failed: ${body:0:300}"
truth=$("$EMU" truth --seed 7 --symbols 50 --api daily --ts-code "$code" --start 20230101 --end 20231231)
expected_header="ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount"
[[ $(head -n 1 <<<"$truth") == "$expected_header" ]] || fail "truth header: $(head -n 1 <<<"$truth")"
truth_rows=$(tail -n +2 <<<"$truth" | awk 'END { print NR }')
api_rows=$(items_to_csv <<<"$body" | awk -F, -v c="$code" '$1 == c { n++ } END { print n + 0 }')
((truth_rows > 100)) || fail "too few truth rows for $code in 2023: $truth_rows"
[[ $api_rows == "$truth_rows" ]] || fail "daily row count: api $api_rows, truth $truth_rows"
api_csv=$(items_to_csv <<<"$body" | LC_ALL=C sort)
truth_csv=$(tail -n +2 <<<"$truth" | LC_ALL=C sort)
[[ $api_csv == "$truth_csv" ]] || fail "daily rows differ from truth for $code"
# One row by value: the latest day of 2023 comes first in the API (descending dates).
first_api=$(items_to_csv <<<"$body" | awk 'NR == 1')
last_truth=$(tail -n 1 <<<"$truth")
[[ $first_api == "$last_truth" ]] || fail "first API row '$first_api' != last truth row '$last_truth'"
awk -F, -v row="$last_truth" 'BEGIN {
  split(row, f, ",")
  if (!(f[5] + 0 <= f[3] + 0 && f[5] + 0 <= f[6] + 0 && f[4] + 0 >= f[3] + 0 && f[4] + 0 >= f[6] + 0 && f[5] + 0 > 0.01)) exit 1
  if (sprintf("%.2f", f[6] - f[7]) != f[8] && sprintf("%.2f", f[6] - f[7]) != "-" f[8]) exit 1
}' || fail "inconsistent row: $last_truth"

# 4. fields selects and orders columns; unknown names are ignored.
req=$(printf '{"api_name":"trade_cal","token":"%s","params":{"start_date":"20240101","end_date":"20240103"},"fields":"cal_date,nonsense,is_open"}' "$TOKEN")
body=$(post "$A" "$req")
requests_a=$((requests_a + 1))
[[ $body == *'"fields":["cal_date","is_open"],"items":[["20240103",1],["20240102",1],["20240101",0]]'* ]] ||
  fail "trade_cal fields: $body"

# --- server B: --per-minute 3 --------------------------------------------------------------
start_server b --per-minute 3
B=$PORT
req=$(printf '{"api_name":"trade_cal","token":"%s","params":{"start_date":"20240101","end_date":"20240101"}}' "$TOKEN")
for i in 1 2 3; do
  body=$(post "$B" "$req")
  [[ $body == *'"code":0'* ]] || fail "call $i under the minute limit: $body"
done
body=$(post "$B" "$req")
minute_msg='抱歉，您每分钟最多访问该接口3次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。'
[[ $body == *'"code":40203'* && $body == *"\"msg\":\"$minute_msg\""* ]] ||
  fail "4th call should be rate limited: $body"
# Limits are per api_name.
req_other=$(printf '{"api_name":"stock_basic","token":"%s","params":{"ts_code":"000001.SZ"}}' "$TOKEN")
body=$(post "$B" "$req_other")
[[ $body == *'"code":0'* ]] || fail "another api_name must not be limited: ${body:0:300}"
requests_b=5

# --- audit logs ------------------------------------------------------------------------------
[[ $(lines "$work/a.audit") == "$requests_a" ]] ||
  fail "audit log a: $(lines "$work/a.audit") lines for $requests_a requests"
[[ $(lines "$work/b.audit") == "$requests_b" ]] ||
  fail "audit log b: $(lines "$work/b.audit") lines for $requests_b requests"
for log in "$work/a.audit" "$work/b.audit"; do
  if grep -qF "$TOKEN" "$log"; then fail "the token appears in $log"; fi
done
grep -q '"outcome":"auth","code":40101' "$work/a.audit" || fail "no auth line in audit log a"
grep -q '"outcome":"bad_request"' "$work/a.audit" || fail "no bad_request line in audit log a"
grep -q "\"api_name\":\"daily\",\"params\":{\"end_date\":\"20231231\",\"start_date\":\"20230101\",\"ts_code\":\"$code\"}.*\"outcome\":\"ok\",\"code\":0,\"http_status\":200,\"rows\":$truth_rows,\"capped\":false" \
  "$work/a.audit" || fail "no ok line with $truth_rows rows in audit log a"
[[ $(grep -c '"outcome":"rate_limited_minute","code":40203' "$work/b.audit" || true) == 1 ]] ||
  fail "audit log b should have one rate_limited_minute line"
awk -F'"seq":' '{ split($2, s, ","); if (s[1] != NR) exit 1 }' "$work/b.audit" ||
  fail "audit log b: seq is not 1..n in order"

# --calendar: the weekend of 2026-12-05 is closed in the China calendar, open in every-day; a
# name it does not know is a usage error naming the value.
cal() { "$EMU" truth --api trade_cal --start 20261205 --end 20261207 "$@" | awk -F, 'NR > 1 { printf "%s", $3 }'; }
[[ $(cal) == 001 ]] || fail "china calendar of 2026-12-05..07: $(cal)"
[[ $(cal --calendar every-day) == 111 ]] || fail "every-day calendar of 2026-12-05..07: $(cal --calendar every-day)"
rc=0
"$EMU" truth --api trade_cal --calendar weekly >/dev/null 2>"$work/cal.err" || rc=$?
[[ $rc == 2 ]] && grep -q "^finsync-emulator: --calendar: 'weekly' is not china or every-day$" "$work/cal.err" ||
  fail "--calendar weekly: exit $rc, $(cat "$work/cal.err")"

stop_servers
echo "emulator_smoke: ok"
