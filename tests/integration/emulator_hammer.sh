#!/usr/bin/env bash
# Robustness test of finsync-emulator: parallel load, chaos, rate limits under concurrency,
# malformed HTTP and JSON, TLS and --hang. The server must survive all of it and keep
# answering correctly.
# usage: emulator_hammer.sh PATH/TO/finsync-emulator
# Needs bash, curl, grep/awk/sed/sort/coreutils (and the openssl CLI for the TLS part,
# skipped without it).
# All traffic goes to 127.0.0.1; every loop is bounded.
set -euo pipefail

EMU=${1:?usage: emulator_hammer.sh PATH/TO/finsync-emulator}
N=${EMULATOR_HAMMER_REQUESTS:-200}
TOKEN="hammer-t0ken-$$"
NAME=emulator_hammer
source "$(dirname "$0")/emulator_lib.sh"

alive() {
  kill -0 "$1" 2>/dev/null || fail "server $2 died: $(cat "$work/$2.err")"
}

count() { awk -v p="$2" 'index($0, p) { n++ } END { print n + 0 }' "$1"; }

printf '{"api_name":"daily","token":"%s","params":{},"fields":""}' "$TOKEN" >"$work/daily.json"
printf '{"api_name":"trade_cal","token":"%s","params":{"is_open":"1"}}' "$TOKEN" >"$work/cal.json"
printf '{"api_name":"stock_basic","token":"%s","params":{"list_status":"L,D,P"},"fields":["ts_code","name"]}' \
  "$TOKEN" >"$work/basic.json"
printf '{"api_name":"daily","token":"nope","params":{}}' >"$work/badtoken.json"
printf '{"api_name":"daily","token":"%s","params":' "$TOKEN" >"$work/badjson.json"

# hammer URL_BASE OUTDIR [curl options...]: N requests, 8 at a time, a mix of bodies. The
# curl options apply to every request (--next resets per-request options).
hammer() {
  local base=$1 out=$2
  shift 2
  mkdir -p "$out"
  local q=$((N / 4)) rest=$((N - 3 * (N / 4)))
  local o=(-s --max-time 30 "$@")
  curl --parallel --parallel-max 8 \
    "${o[@]}" -o "$out/daily#1" --data-binary "@$work/daily.json" "$base/?daily=[1-$rest]" --next \
    "${o[@]}" -o "$out/cal#1" --data-binary "@$work/cal.json" "$base/?cal=[1-$q]" --next \
    "${o[@]}" -o "$out/basic#1" --data-binary "@$work/basic.json" "$base/?basic=[1-$q]" --next \
    "${o[@]}" -o "$out/bad#1" --data-binary "@$work/badtoken.json" "$base/?bad=[1-$((q / 2))]" --next \
    "${o[@]}" -o "$out/json#1" --data-binary "@$work/badjson.json" "$base/?json=[1-$((q - q / 2))]" \
    2>>"$work/curl.log" || true
}

# --- 1. plain load: every answer complete and correct -------------------------------------
start_server plain
hammer "http://127.0.0.1:$PORT" "$work/r1"
alive "$PID" plain
[[ $(lines "$work/plain.audit") == "$N" ]] || fail "plain: $(lines "$work/plain.audit") audit lines for $N requests"
[[ $(count "$work/plain.audit" '"outcome":"ok"') == $((N - N / 4)) ]] || fail "plain: wrong number of ok answers"
for f in "$work"/r1/daily*; do
  grep -q '"code":0,' "$f" || fail "plain: bad daily answer in $f"
  awk '/"has_more":false}}$/ { ok = 1 } END { exit !ok }' "$f" || fail "plain: incomplete daily answer $f"
done
grep -q '"rows":6000,"capped":true' "$work/plain.audit" || fail "plain: daily was not capped at 6000 rows"
for f in "$work"/r1/bad*; do grep -q '"code":40101' "$f" || fail "plain: $f"; done
for f in "$work"/r1/json*; do grep -q '"code":-1' "$f" || fail "plain: $f"; done
if grep -qF "$TOKEN" "$work/plain.audit"; then fail "plain: token in the audit log"; fi

# --- 2. chaos: errors, drops, truncation, latency --------------------------------------------
start_server chaos --error-rate 0.2 --drop-rate 0.15 --truncate-rate 0.15 --latency-ms 5 --chaos-seed 3
hammer "http://127.0.0.1:$PORT" "$work/r2"
alive "$PID" chaos
(($(lines "$work/chaos.audit") >= N)) || fail "chaos: fewer audit lines than requests"
for outcome in ok http_error dropped truncated; do
  (($(count "$work/chaos.audit" "\"outcome\":\"$outcome\"") > 0)) || fail "chaos: no '$outcome' outcome"
done
# Still answers correctly afterwards (retry past the chaos).
for ((i = 0; i < 30; i++)); do
  body=$(curl -s --max-time 10 --data-binary "@$work/cal.json" "http://127.0.0.1:$PORT/" || true)
  [[ $body == *'"code":0,'*'"has_more":false}}' ]] && break
done
[[ $body == *'"code":0,'* ]] || fail "chaos: no good answer in 30 tries"

# --- 3. rate limit under concurrency: exactly the quota is served -----------------------------
start_server limited --per-minute 20 --per-day 1000
hammer "http://127.0.0.1:$PORT" "$work/r3"
alive "$PID" limited
[[ $(lines "$work/limited.audit") == "$N" ]] || fail "limited: audit lines"
served=$(awk 'index($0, "\"api_name\":\"daily\"") && index($0, "\"outcome\":\"ok\"") { n++ } END { print n + 0 }' "$work/limited.audit")
[[ $served == 20 ]] || fail "limited: $served daily requests served, expected exactly 20"
(($(count "$work/limited.audit" '"outcome":"rate_limited_minute","code":40203') > 0)) ||
  fail "limited: no rate_limited_minute"

# --- 4. malformed HTTP and JSON --------------------------------------------------------------
start_server garbage
G=$PORT
# raw PAYLOAD [SECONDS]: sends bytes to port $RAW_PORT on a fresh connection, prints the status
# line of the answer (or nothing), waiting at most SECONDS (default 5).
RAW_PORT=$G
raw() {
  local line=""
  trap '' PIPE # the server may close before it has read everything
  exec 3<>"/dev/tcp/127.0.0.1/$RAW_PORT"
  printf '%b' "$1" >&3 2>/dev/null || true
  IFS= read -r -t "${2:-5}" line <&3 || true
  exec 3<&- 3>&-
  printf '%s' "${line%$'\r'}"
}
status=$(raw 'GARBAGE\r\n\r\n')
[[ $status == "HTTP/1.1 400 Bad Request" ]] || fail "garbage request line: '$status'"
status=$(raw 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n{}')
[[ $status == "HTTP/1.1 413 Payload Too Large" ]] || fail "oversized body: '$status'"
status=$(raw 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n')
[[ $status == "HTTP/1.1 400 Bad Request" ]] || fail "bad Content-Length: '$status'"
status=$(raw 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
[[ $status == "HTTP/1.1 405 Method Not Allowed" ]] || fail "GET: '$status'"
status=$(raw 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"a"' 0.3)  # then EOF
status=$(raw 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n')
status=$(raw "POST / HTTP/1.1\r\nHost: x\r\nX-Big: $(printf 'a%.0s' {1..20000})\r\n\r\n")
[[ $status == "HTTP/1.1 400 Bad Request" ]] || fail "huge header: '$status'"
status=$(raw 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n{"token":"\xff\xfe"}')
[[ $status == "HTTP/1.1 200 OK" ]] || fail "invalid UTF-8: '$status'"
# Deeply nested JSON, valid and invalid.
awk 'BEGIN { printf "{\"api_name\":\"daily\",\"params\":"; for (i = 0; i < 100000; i++) printf "["; for (i = 0; i < 100000; i++) printf "]"; printf "}" }' >"$work/deep.json"
awk 'BEGIN { for (i = 0; i < 150000; i++) printf "{\"a\":"; }' >"$work/deep_bad.json"
for f in deep.json deep_bad.json; do
  body=$(curl -s --max-time 20 --data-binary "@$work/$f" "http://127.0.0.1:$G/")
  [[ $body == *'"code":'* ]] || fail "$f: '$body'"
done
body=$(curl -s --max-time 20 --data-binary "@$work/deep.json" -H 'Expect: 100-continue' "http://127.0.0.1:$G/")
[[ $body == *'"code":40101'* ]] || fail "Expect: 100-continue: '$body'"
for payload in 'null' '[]' '"x"' '{"token":null}' "{\"token\":\"$TOKEN\",\"api_name\":5}" \
  "{\"token\":\"$TOKEN\",\"api_name\":\"daily\",\"params\":[1]}" \
  "{\"token\":\"$TOKEN\",\"api_name\":\"daily\",\"params\":{\"ts_code\":{\"x\":1}}}" \
  "{\"token\":\"$TOKEN\",\"api_name\":\"daily\",\"params\":{\"start_date\":\"2024-01-01\"}}" \
  "{\"token\":\"$TOKEN\",\"api_name\":\"trade_cal\",\"params\":{\"is_open\":2}}" \
  "{\"token\":\"$TOKEN\",\"api_name\":\"daily\",\"params\":{\"trade_date\":20240102},\"fields\":[1,null,\"close\"]}" \
  "{\"token\":\"$TOKEN\",\"api_name\":\"stock_basic\",\"params\":{\"exchange\":\"BSE\",\"note\":\"$TOKEN\"}}"; do
  body=$(curl -s --max-time 10 --data-binary "$payload" "http://127.0.0.1:$G/")
  [[ $body == '{"request_id":"'*'"code":'* ]] || fail "payload $payload: '$body'"
done
alive "$PID" garbage
body=$(curl -s --max-time 10 --data-binary "@$work/cal.json" "http://127.0.0.1:$G/")
[[ $body == *'"code":0,'* ]] || fail "garbage: server no longer answers"
if grep -qF "$TOKEN" "$work/garbage.audit"; then fail "garbage: token in the audit log"; fi

# --- 5. TLS under chaos ------------------------------------------------------------------------
if command -v openssl >/dev/null; then
  (
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=hammer-ca
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
      -extfile ext.cnf
  ) >/dev/null 2>&1 || fail "openssl could not make a test CA"
  start_server tls --tls-cert "$work/srv.pem" --tls-key "$work/srv.key" --truncate-rate 0.2 --drop-rate 0.1
  hammer "https://127.0.0.1:$PORT" "$work/r5" --cacert "$work/ca.pem"
  alive "$PID" tls
  RAW_PORT=$PORT
  status=$(raw 'plain text to a TLS port\r\n\r\n' 1)
  alive "$PID" tls
  (($(count "$work/tls.audit" '"outcome":"ok"') > 0)) || fail "tls: no ok answer"
  (($(count "$work/tls.audit" '"outcome":"truncated"') > 0)) || fail "tls: no truncated answer"
fi

# --- 6. --hang: the client times out, the server lives -----------------------------------------
start_server hang --hang
rc=0
curl -s --max-time 1 --data-binary "@$work/cal.json" "http://127.0.0.1:$PORT/" >/dev/null || rc=$?
[[ $rc == 28 ]] || fail "hang: curl should time out (28), got $rc"
alive "$PID" hang
grep -q '"api_name":"trade_cal".*"outcome":"hung","code":null,"http_status":null' "$work/hang.audit" ||
  fail "hang: no hung line"

stop_servers
echo "emulator_hammer: ok"
