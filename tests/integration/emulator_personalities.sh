#!/usr/bin/env bash
# The alphavantage, polygon and binance personalities of finsync-emulator, and tushare's
# trade_date / comma-list selections, checked against `finsync-emulator truth`
# (docs/emulator.md).
# usage: emulator_personalities.sh PATH/TO/finsync-emulator
# Needs bash, curl and python3 (json, csv, base64 modules). Servers run on 127.0.0.1 with
# --port 0 and are stopped by their pid. Windows are shortened with --minute-seconds so the
# limit checks take seconds.
set -euo pipefail

EMU=${1:-${EMULATOR:?usage: emulator_personalities.sh PATH/TO/finsync-emulator}}
TOKEN="pers-Secret-k3y-$$"
NAME=emulator_personalities
source "$(dirname "$0")/emulator_lib.sh"
command -v python3 >/dev/null || fail "python3 is required"

# start NAME [serve options...]: start_server, and count the requests the test sends to NAME in
# $work/NAME.n.
start() {
  start_server "$@"
  CUR=$1
  : >"$work/$1.n"
}

# requests NAME: how many requests the test sent to server NAME (counted in a file, since the
# senders run in command substitutions).
requests() { lines "$work/$1.n"; }

# get URL OUT: body to OUT, headers to OUT.h; prints the HTTP status.
get() {
  echo >>"$work/$CUR.n"
  curl -sS --max-time 20 -D "$2.h" -o "$2" -w '%{http_code}' "${@:3}" "$1"
}

# py SCRIPT ARGS...: runs an assertion script; its message on failure becomes the FAIL text.
py() {
  local script=$1
  shift
  python3 -c "$script" "$@" || fail "check failed (see above)"
}


# fresh_window S: sleep until 50 ms after the next multiple of S seconds of Unix time, the start
# of an epoch-aligned window, so the steps that follow (well under a second) share one window.
fresh_window() {
  python3 -c 'import sys, time; s = float(sys.argv[1]); t = time.time(); time.sleep((t // s + 1) * s - t + 0.05)' "$1"
}

# Every audit line is JSON, seq runs 1..n, the key never appears (in any form).
check_audit() {
  local log=$1 expected=$2
  [[ $(lines "$log") == "$expected" ]] || fail "$log: $(lines "$log") lines for $expected requests"
  if grep -qF "$TOKEN" "$log"; then fail "the key appears in $log"; fi
  py '
import json, sys
seqs = sorted(json.loads(l)["seq"] for l in open(sys.argv[1]))
assert seqs == list(range(1, len(seqs) + 1)), seqs
' "$log"
}

# --- tushare: trade_date across all symbols, comma lists --------------------------------------
start ts --seed 5 --symbols 40
TS=$PORT
tushare() {
  echo >>"$work/$CUR.n"
  curl -sS --max-time 20 -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"api_name\":\"daily\",\"token\":\"$TOKEN\",\"params\":$1}" "http://127.0.0.1:$TS/"
}
# items of a daily answer -> truth CSV rows, sorted.
tushare_rows='
import json, sys
d = json.load(open(sys.argv[1]))
assert d["code"] == 0, d
rows = []
for it in d["data"]["items"]:
    r = dict(zip(d["data"]["fields"], it))
    t = r["trade_date"]
    vals = [r["ts_code"], t[:4] + "-" + t[4:6] + "-" + t[6:]]
    vals += ["%.2f" % r[k] for k in ["open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"]]
    rows.append(",".join(vals))
truth = open(sys.argv[2]).read().splitlines()[1:]
assert sorted(rows) == sorted(truth), (len(rows), len(truth))
assert len(rows) == int(sys.argv[3]), (len(rows), sys.argv[3])
'
tushare '{"trade_date":"20240105"}' >"$work/ts1.json"
"$EMU" truth --seed 5 --symbols 40 --api daily --trade-date 20240105 >"$work/ts1.csv"
n=$(($(lines "$work/ts1.csv") - 1))
((n >= 25)) || fail "trade_date 20240105: only $n stocks traded in truth"
py "$tushare_rows" "$work/ts1.json" "$work/ts1.csv" "$n"
codes=$(awk -F, 'NR == 2 || NR == 4 { printf "%s%s", sep, $1; sep = "," }' "$work/ts1.csv")
tushare "{\"ts_code\":\"$codes\",\"start_date\":\"20231220\",\"end_date\":\"20240110\"}" >"$work/ts2.json"
"$EMU" truth --seed 5 --symbols 40 --api daily --ts-code "${codes%,*}" --ts-code "${codes#*,}" \
  --start 20231220 --end 20240110 >"$work/ts2.csv"
n=$(($(lines "$work/ts2.csv") - 1))
((n >= 24)) || fail "comma list: truth has only $n rows"
py "$tushare_rows" "$work/ts2.json" "$work/ts2.csv" "$n"
# trade_date wins over a range, combined with a comma list.
tushare "{\"ts_code\":\"$codes\",\"trade_date\":\"20240105\",\"start_date\":\"20230101\"}" >"$work/ts3.json"
"$EMU" truth --seed 5 --symbols 40 --api daily --ts-code "$codes" --trade-date 20240105 >"$work/ts3.csv"
py "$tushare_rows" "$work/ts3.json" "$work/ts3.csv" 2
# The row cap still cuts silently: 5 of the day's rows, has_more false.
stop_servers
start ts2 --seed 5 --symbols 40 --row-cap 5
TS=$PORT
tushare '{"trade_date":"20240105"}' >"$work/ts4.json"
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["code"] == 0 and len(d["data"]["items"]) == 5 and d["data"]["has_more"] is False, d
' "$work/ts4.json"
grep -q '"rows":5,"capped":true' "$work/ts2.audit" || fail "ts2 audit: no capped line"
stop_servers

# --- alphavantage ---------------------------------------------------------------------------
start av --personality alphavantage --seed 9 --symbols 30 --last-date 20240628 \
  --per-minute 4 --per-day 8 --minute-seconds 2 --day-seconds 86400
AV=$PORT
av() {
  get "http://127.0.0.1:$AV/query?$1" "$2"
}
[[ $(av "function=LISTING_STATUS&apikey=$TOKEN" "$work/av_list.csv") == 200 ]] || fail "LISTING_STATUS"
"$EMU" truth --personality alphavantage --api listing_status --seed 9 --symbols 30 \
  --last-date 20240628 >"$work/av_list_truth.csv"
py '
import csv, sys
api = list(csv.reader(open(sys.argv[1], newline="")))
assert open(sys.argv[1], "rb").read().count(b"\r\n") == len(api), "CSV lines must end with CRLF"
assert api[0] == ["symbol", "name", "exchange", "assetType", "ipoDate", "delistingDate", "status"], api[0]
truth = [r for r in csv.reader(open(sys.argv[2])) if r[-1] == "Active"]
want = [r[:5] + ["null", "Active"] for r in truth]
assert api[1:] == want, (len(api), len(want))
' "$work/av_list.csv" "$work/av_list_truth.csv"
sym=$(awk -F, 'NR == 2 { print $1 }' "$work/av_list.csv")
"$EMU" truth --personality alphavantage --seed 9 --symbols 30 --last-date 20240628 \
  --symbol "$sym" >"$work/av_truth.csv"
# full JSON: every truth row, newest first, four-decimal strings.
[[ $(av "function=TIME_SERIES_DAILY&symbol=$sym&outputsize=full&apikey=$TOKEN" "$work/av_full.json") == 200 ]]
py '
import json, sys
d = json.load(open(sys.argv[1]))
meta, ts = d["Meta Data"], d["Time Series (Daily)"]
assert meta["2. Symbol"] == sys.argv[3] and meta["4. Output Size"] == "Full size", meta
truth = open(sys.argv[2]).read().splitlines()
assert truth[0] == "symbol,timestamp,open,high,low,close,volume", truth[0]
rows = []
dates = list(ts)
assert dates == sorted(dates, reverse=True), "not newest first"
for day in dates:
    v = ts[day]
    for k in ["1. open", "2. high", "3. low", "4. close"]:
        assert v[k].endswith("00") and len(v[k].split(".")[1]) == 4, v[k]
    rows.append(",".join([sys.argv[3], day] + [v[k][:-2] for k in ["1. open", "2. high", "3. low", "4. close"]] + [v["5. volume"]]))
assert sorted(rows) == sorted(truth[1:]), (len(rows), len(truth) - 1)
assert meta["3. Last Refreshed"] == truth[-1].split(",")[1], meta
assert len(rows) > 1000, len(rows)
' "$work/av_full.json" "$work/av_truth.csv" "$sym"
# compact CSV: the latest 100 rows, newest first.
[[ $(av "function=TIME_SERIES_DAILY&symbol=$sym&datatype=csv&apikey=$TOKEN" "$work/av_compact.csv") == 200 ]]
py '
import sys
api = open(sys.argv[1], newline="").read().split("\r\n")
assert api[0] == "timestamp,open,high,low,close,volume" and api[-1] == "", api[:1]
truth = open(sys.argv[2]).read().splitlines()[1:]
want = []
for r in reversed(truth[-100:]):
    f = r.split(",")
    want.append(",".join([f[1]] + [x + "00" for x in f[2:6]] + [f[6]]))
assert api[1:-1] == want, (len(api), api[1:3], want[:2])
' "$work/av_compact.csv" "$work/av_truth.csv"
# Errors: unknown symbol, missing function, bad key - all HTTP 200.
[[ $(av "function=TIME_SERIES_DAILY&symbol=NOPE1&apikey=$TOKEN" "$work/av_e1.json") == 200 ]]
[[ $(av "symbol=$sym&apikey=$TOKEN" "$work/av_e2.json") == 200 ]]
[[ $(av "function=TIME_SERIES_DAILY&symbol=$sym&apikey=wrong-$TOKEN" "$work/av_e3.json") == 200 ]]
py '
import json, sys
e1, e2, e3 = (json.load(open(p)) for p in sys.argv[1:4])
assert e1 == {"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."}, e1
assert e2 == {"Error Message": "This API function () does not exist."}, e2
assert e3 == {"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}, e3
' "$work/av_e1.json" "$work/av_e2.json" "$work/av_e3.json"
# Served so far: 3 (the errors do not count). Minute limit 4 per 2 s: wait for a fresh window.
sleep 2.1
for i in 1 2 3 4; do
  [[ $(av "function=LISTING_STATUS&apikey=$TOKEN" "$work/av_m$i.csv") == 200 ]]
  [[ $(head -c 6 "$work/av_m$i.csv") == symbol ]] || fail "call $i within the minute limit: $(cat "$work/av_m$i.csv")"
done
[[ $(av "function=LISTING_STATUS&apikey=$TOKEN" "$work/av_m5.json") == 200 ]]
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly (4 requests per minute). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to raise the burst limit and instantly access all premium endpoints."}, d
' "$work/av_m5.json"
# In a new minute window the 8th call is served; then the day quota is gone.
sleep 2.1
[[ $(av "function=LISTING_STATUS&apikey=$TOKEN" "$work/av_8.csv") == 200 ]]
[[ $(head -c 6 "$work/av_8.csv") == symbol ]] || fail "8th call: $(cat "$work/av_8.csv")"
[[ $(av "function=LISTING_STATUS&apikey=$TOKEN" "$work/av_d.json") == 200 ]]
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 8 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}, d
' "$work/av_d.json"
check_audit "$work/av.audit" "$(requests av)"
py '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
outcomes = [r["outcome"] for r in recs]
assert outcomes == ["ok", "ok", "ok", "bad_request", "bad_request", "auth", "ok", "ok", "ok", "ok", "rate_limited_minute", "ok", "rate_limited_day"], outcomes
assert all(r["params"].get("apikey") == "***" and r["token"] == "***" for r in recs if r["outcome"] != "bad_request" or "apikey" in r["params"])
assert recs[1]["api_name"] == "TIME_SERIES_DAILY" and recs[2]["rows"] == 100 and recs[2]["capped"] is True, recs[2]
assert recs[4]["api_name"] is None, recs[4]
' "$work/av.audit"
stop_servers
# The older {"Note": ...} form.
start avn --personality alphavantage --symbols 5 --per-minute 1 --limit-style note
AV=$PORT
av "function=LISTING_STATUS&apikey=$TOKEN" "$work/avn1.csv" >/dev/null
av "function=LISTING_STATUS&apikey=$TOKEN" "$work/avn2.json" >/dev/null
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 1 calls per minute. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."}, d
' "$work/avn2.json"
check_audit "$work/avn.audit" 2
stop_servers

# --- polygon ---------------------------------------------------------------------------------
start pg --personality polygon --seed 11 --symbols 25 --last-date 20240628 \
  --per-minute 5 --minute-seconds 3 --plan-history-days 730 --plan-tickers 20
PG=$PORT
pg() {
  get "$1" "$2" "${@:3}"
}
# Enumerate tickers with next_url pages of 7 (the key goes in the header; next_url has none).
url="http://127.0.0.1:$PG/v3/reference/tickers?limit=7"
: >"$work/pg_tickers.txt"
pages=0
while [[ -n $url ]]; do
  ((pages < 10)) || fail "tickers: too many pages"
  if ((pages > 0 && pages % 5 == 0)); then sleep 3.1; fi
  [[ $(pg "$url" "$work/pg_t.json" -H "Authorization: Bearer $TOKEN") == 200 ]] || fail "tickers page: $(cat "$work/pg_t.json")"
  url=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "OK" and d["count"] == len(d["results"]), d
with open(sys.argv[2], "a") as f:
    for r in d["results"]:
        f.write(r["ticker"] + "\n")
n = d.get("next_url", "")
assert sys.argv[3] not in n and "apiKey" not in n, n
print(n)
' "$work/pg_t.json" "$work/pg_tickers.txt" "$TOKEN")
  pages=$((pages + 1))
done
"$EMU" truth --personality polygon --api tickers --seed 11 --symbols 25 --last-date 20240628 |
  awk -F, 'NR > 1 && $7 == "true" { print $1 }' >"$work/pg_tickers_truth.txt"
cmp -s "$work/pg_tickers.txt" "$work/pg_tickers_truth.txt" || fail "tickers differ from truth"
n_active=$(lines "$work/pg_tickers.txt")
[[ $pages == $(((n_active + 6) / 7)) ]] || fail "tickers: $pages pages for $n_active tickers"
# Aggregates of one ticker for the plan's two years, 100 a page, via next_url + apiKey again.
tk=$(head -n 1 "$work/pg_tickers.txt")
from=2022-07-01
url="http://127.0.0.1:$PG/v2/aggs/ticker/$tk/range/1/day/$from/2024-06-28?limit=100&sort=asc"
: >"$work/pg_rows.csv"
pages=0
sleep 3.1
while [[ -n $url ]]; do
  ((pages < 20)) || fail "aggs: too many pages"
  if ((pages > 0 && pages % 5 == 0)); then sleep 3.1; fi
  sep='?'
  [[ $url == *'?'* ]] && sep='&'
  [[ $(pg "$url${sep}apiKey=$TOKEN" "$work/pg_a.json") == 200 ]] || fail "aggs page: $(cat "$work/pg_a.json")"
  url=$(py '
import json, sys, datetime
d = json.load(open(sys.argv[1]))
assert d["status"] == "OK" and d["ticker"] == sys.argv[3] and d["resultsCount"] == d["count"] == len(d["results"]), d
assert d["adjusted"] is True
ny = datetime.timezone(datetime.timedelta(hours=-4))
with open(sys.argv[2], "a") as f:
    for r in d["results"]:
        f.write("%s,%d,%.2f,%.2f,%.2f,%.2f,%d,%.2f,%d\n" % (sys.argv[3], r["t"], r["o"], r["h"], r["l"], r["c"], r["v"], r["vw"], r["n"]))
n = d.get("next_url", "")
assert sys.argv[4] not in n and "apiKey" not in n, n
assert (n != "") == (d["count"] == 100), (n, d["count"])
print(n)
' "$work/pg_a.json" "$work/pg_rows.csv" "$tk" "$TOKEN")
  pages=$((pages + 1))
done
"$EMU" truth --personality polygon --seed 11 --symbols 25 --last-date 20240628 --symbol "$tk" \
  --start 20220701 >"$work/pg_truth.csv"
py '
import sys, datetime, zoneinfo
api = open(sys.argv[1]).read().splitlines()
truth = open(sys.argv[2]).read().splitlines()
assert truth[0] == "ticker,date,t,o,h,l,c,v,vw,n", truth[0]
ny = zoneinfo.ZoneInfo("America/New_York")
want = []
for r in truth[1:]:
    f = r.split(",")
    y, m, d = map(int, f[1].split("-"))
    t = int(datetime.datetime(y, m, d, tzinfo=ny).timestamp() * 1000)
    assert t == int(f[2]), (f, t)
    want.append(",".join([f[0]] + f[2:]))
assert len(api) == len(set(api)), "duplicate rows across pages"
assert api == want, (len(api), len(want))
assert len(api) > 480, len(api)
' "$work/pg_rows.csv" "$work/pg_truth.csv"
n_rows=$(($(lines "$work/pg_truth.csv") - 1))
[[ $pages == $(((n_rows + 99) / 100)) ]] || fail "aggs: $pages pages for $n_rows rows"
sleep 3.1
# desc with ms bounds: the newest first.
pg "http://127.0.0.1:$PG/v2/aggs/ticker/$tk/range/1/day/1704085200000/1704862800000?sort=desc&apiKey=$TOKEN" "$work/pg_desc.json" >/dev/null
py '
import json, sys
d = json.load(open(sys.argv[1]))
ts = [r["t"] for r in d["results"]]
assert ts == sorted(ts, reverse=True) and ts[0] <= 1704862800000 and ts[-1] >= 1704085200000 and len(ts) >= 5, ts
assert "next_url" not in d
' "$work/pg_desc.json"
# 401 unknown key, 401 no key, 403 plan timeframe, 403 ticker outside the plan.
[[ $(pg "http://127.0.0.1:$PG/v2/aggs/ticker/$tk/range/1/day/2024-01-02/2024-01-05?apiKey=x$TOKEN" "$work/pg_401.json") == 401 ]]
[[ $(pg "http://127.0.0.1:$PG/v2/aggs/ticker/$tk/range/1/day/2024-01-02/2024-01-05" "$work/pg_401b.json") == 401 ]]
[[ $(pg "http://127.0.0.1:$PG/v2/aggs/ticker/$tk/range/1/day/2020-01-02/2024-01-05?apiKey=$TOKEN" "$work/pg_403.json") == 403 ]]
last=$("$EMU" truth --personality polygon --api tickers --seed 11 --symbols 25 | awk -F, 'NR == 22 { print $1 }')
[[ $(pg "http://127.0.0.1:$PG/v2/aggs/ticker/$last/range/1/day/2024-01-02/2024-01-05?apiKey=$TOKEN" "$work/pg_403b.json") == 403 ]]
py '
import json, sys
a, b, c, d = (json.load(open(p)) for p in sys.argv[1:5])
assert a["status"] == "ERROR" and a["error"] == "Unknown API Key" and len(a["request_id"]) == 32, a
assert b["status"] == "ERROR" and b["error"] == "API Key was not provided", b
assert c["status"] == "NOT_AUTHORIZED" and c["message"] == "Your plan doesn'"'"'t include this data timeframe. Please upgrade your plan at https://polygon.io/pricing", c
assert d["status"] == "NOT_AUTHORIZED" and d["message"] == "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing", d
' "$work/pg_401.json" "$work/pg_401b.json" "$work/pg_403.json" "$work/pg_403b.json"
# 5 per window: 4 more served (the desc call was the first), then 429 without Retry-After.
for i in 1 2 3 4; do
  [[ $(pg "http://127.0.0.1:$PG/v3/reference/tickers?limit=1&apiKey=$TOKEN" "$work/pg_l$i.json") == 200 ]] || fail "call $i under the limit: $(cat "$work/pg_l$i.json")"
done
[[ $(pg "http://127.0.0.1:$PG/v3/reference/tickers?limit=1&apiKey=$TOKEN" "$work/pg_429.json") == 429 ]] || fail "expected 429: $(cat "$work/pg_429.json")"
if grep -qi '^retry-after' "$work/pg_429.json.h"; then fail "polygon 429 must not carry Retry-After"; fi
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "ERROR" and d["error"] == "You'"'"'ve exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. https://polygon.io/pricing", d
' "$work/pg_429.json"
check_audit "$work/pg.audit" "$(requests pg)"
py '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["outcome"] for r in recs[-10:]] == ["ok", "auth", "auth", "not_authorized", "not_authorized", "ok", "ok", "ok", "ok", "rate_limited_minute"], [r["outcome"] for r in recs[-10:]]
assert recs[-9]["token"] == "***" and recs[-9]["params"]["apiKey"] == "***", recs[-9]
assert recs[-8]["token"] == "missing", recs[-8]
assert recs[0]["token"] == "***" and "apiKey" not in recs[0]["params"], recs[0]
assert all(r["http_status"] == 200 for r in recs if r["outcome"] == "ok")
' "$work/pg.audit"
stop_servers

# --- binance ---------------------------------------------------------------------------------
start bn --personality binance --seed 13 --symbols 6 --last-date 20240628 \
  --weight-limit 40 --minute-seconds 2
BN=$PORT
bn() {
  get "http://127.0.0.1:$BN$1" "$2"
}
used() { awk 'tolower($1) == "x-mbx-used-weight-1m:" { gsub(/\r/, ""); print $2 }' "$1.h"; }
retry_after() { awk 'tolower($1) == "retry-after:" { gsub(/\r/, ""); print $2 }' "$1.h"; }
[[ $(bn "/api/v3/exchangeInfo" "$work/bn_info.json") == 200 ]]
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["symbol"] for s in d["symbols"]] == ["ADAUSDT", "BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], d["symbols"]
assert d["rateLimits"][0]["limit"] == 40, d["rateLimits"]
' "$work/bn_info.json"
[[ $(used "$work/bn_info.json") == 20 ]] || fail "exchangeInfo weight: $(used "$work/bn_info.json")"
# A 1h backfill of one day of BTCUSDT in pages of 10 (weight 2 each), compared with truth.
fresh_window 2
start=1719273600000 # 2024-06-25 00:00 UTC
: >"$work/bn_rows.csv"
for page in 1 2 3; do
  [[ $(bn "/api/v3/klines?symbol=BTCUSDT&interval=1h&startTime=$start&endTime=1719359999999&limit=10" "$work/bn_k.json") == 200 ]]
  [[ $(used "$work/bn_k.json") == $((2 * page)) ]] || fail "klines page $page: used weight $(used "$work/bn_k.json")"
  start=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
with open(sys.argv[2], "a") as f:
    for k in d:
        assert len(k) == 12 and k[11] == "0" and k[6] == k[0] + 3600000 - 1, k
        for i in (1, 2, 3, 4, 5, 7, 9, 10):
            assert k[i].endswith("000000") and len(k[i].split(".")[1]) == 8, k[i]
        f.write("BTCUSDT,1h,%d,%s,%s,%s,%s,%s,%d,%s,%d,%s,%s\n" % (k[0], k[1][:-6], k[2][:-6], k[3][:-6], k[4][:-6], k[5][:-6], k[6], k[7][:-6], k[8], k[9][:-6], k[10][:-6]))
print(d[-1][0] + 1 if d else 0)
' "$work/bn_k.json" "$work/bn_rows.csv")
done
"$EMU" truth --personality binance --seed 13 --symbols 6 --last-date 20240628 --symbol BTCUSDT \
  --interval 1h --start 20240625 --end 20240625 >"$work/bn_truth.csv"
[[ $(head -n 1 "$work/bn_truth.csv") == "symbol,interval,open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote" ]] ||
  fail "binance truth header"
[[ $(lines "$work/bn_truth.csv") == 25 ]] || fail "binance truth: $(lines "$work/bn_truth.csv") lines"
tail -n +2 "$work/bn_truth.csv" | cmp -s - "$work/bn_rows.csv" || fail "klines differ from truth"
# Without startTime: the latest `limit` klines, ending with the last day.
[[ $(bn "/api/v3/klines?symbol=ETHUSDT&interval=1d&limit=3" "$work/bn_last.json") == 200 ]]
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert [k[0] for k in d] == [1719360000000, 1719446400000, 1719532800000], [k[0] for k in d]
' "$work/bn_last.json"
# depth weights by limit: 5 for 100, 25 for 101.
fresh_window 2
[[ $(bn "/api/v3/depth?symbol=ETHUSDT&limit=100" "$work/bn_d1.json") == 200 ]]
[[ $(used "$work/bn_d1.json") == 5 ]] || fail "depth 100 weight: $(used "$work/bn_d1.json")"
[[ $(bn "/api/v3/depth?symbol=ETHUSDT&limit=101" "$work/bn_d2.json") == 200 ]]
[[ $(used "$work/bn_d2.json") == 30 ]] || fail "depth 101 weight: $(used "$work/bn_d2.json")"
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["bids"]) == 101 and len(d["asks"]) == 101, (len(d["bids"]), len(d["asks"]))
bids = [float(b[0]) for b in d["bids"]]
asks = [float(a[0]) for a in d["asks"]]
assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
' "$work/bn_d2.json"
# 30 used: weight 20 would exceed 40 -> 429 with Retry-After; sending again during it -> 418.
[[ $(bn "/api/v3/exchangeInfo" "$work/bn_429.json") == 429 ]] || fail "expected 429: $(cat "$work/bn_429.json")"
ra=$(retry_after "$work/bn_429.json")
[[ $ra =~ ^[12]$ ]] || fail "429 Retry-After: '$ra'"
[[ $(used "$work/bn_429.json") == 30 ]] || fail "429: used weight $(used "$work/bn_429.json")"
[[ $(bn "/api/v3/ping" "$work/bn_418.json") == 418 ]] || fail "expected 418: $(cat "$work/bn_418.json")"
[[ $(retry_after "$work/bn_418.json") == 4 ]] || fail "first ban: Retry-After $(retry_after "$work/bn_418.json")"
py '
import json, sys, re
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == {"code": -1003, "msg": "Too much request weight used; current limit is 40 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}, a
assert b["code"] == -1003 and re.fullmatch(r"Way too much request weight used; IP banned until \d{13}\. Please use WebSocket Streams for live updates to avoid bans\.", b["msg"]), b
' "$work/bn_429.json" "$work/bn_418.json"
# Banned: every request gets 418 until the ban (2 "minutes" = 4 s) ends.
[[ $(bn "/api/v3/ping" "$work/bn_418b.json") == 418 ]]
sleep 4.1
fresh_window 2
# Ban over: served again; then exceed and ignore Retry-After again -> a longer ban (8 s).
[[ $(bn "/api/v3/exchangeInfo" "$work/bn_ok1.json") == 200 ]] || fail "after the ban: $(cat "$work/bn_ok1.json")"
[[ $(bn "/api/v3/exchangeInfo" "$work/bn_ok1b.json") == 200 ]] || fail "2nd after the ban: $(cat "$work/bn_ok1b.json")"
code=$(bn "/api/v3/exchangeInfo" "$work/bn_ok2.json")
[[ $code == 429 ]] || fail "expected a second 429, got $code: $(cat "$work/bn_ok2.json")"
[[ $(bn "/api/v3/ping" "$work/bn_418c.json") == 418 ]]
[[ $(retry_after "$work/bn_418c.json") == 8 ]] || fail "second ban: Retry-After $(retry_after "$work/bn_418c.json")"
# Errors: 400 with Binance codes, and the weight header even there.
[[ $(bn "/api/v3/klines?symbol=NOPE&interval=1d" "$work/bn_e1.json") == 400 ]]
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"code": -1121, "msg": "Invalid symbol."}, d
' "$work/bn_e1.json"
[[ -n $(used "$work/bn_e1.json") ]] || fail "no X-MBX-USED-WEIGHT-1M on an error"
check_audit "$work/bn.audit" "$(requests bn)"
py '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
out = [r["outcome"] for r in recs]
assert out.count("rate_limited") == 2 and out.count("banned") == 3, out
w = {r["api_name"]: r["weight"] for r in recs if "weight" in r}
assert w == {"/api/v3/exchangeInfo": 20, "/api/v3/klines": 2, "/api/v3/depth": 25, "/api/v3/ping": 1}, w
assert [r["http_status"] for r in recs if r["outcome"] == "banned"] == [418, 418, 418]
assert "weight" not in recs[-1], recs[-1]
' "$work/bn.audit"
stop_servers

check_audit "$work/ts.audit" "$(requests ts)"
check_audit "$work/ts2.audit" "$(requests ts2)"
echo "$NAME: ok"
