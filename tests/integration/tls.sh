#!/usr/bin/env bash
# TLS verification is on by default: a provider whose certificate comes from an unknown CA is
# refused (exit 69, the message says how to trust it); with ca_file set in finsync.yaml the same
# run succeeds.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || fail "openssl is required"
C="$WORK/certs"
mkdir -p "$C"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=finsync test CA" \
  -keyout "$C/ca.key" -out "$C/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$C/server.key" \
  -out "$C/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$C/ext.cnf"
openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
  -days 2 -extfile "$C/ext.cnf" -out "$C/server.pem" 2>/dev/null

start_emulator emu --seed 4 --symbols 3 --tls-cert "$C/server.pem" --tls-key "$C/server.key"
export TUSHARE_URL="https://127.0.0.1:$emu_PORT" TUSHARE_TOKEN="$TOKEN"
WS="$WORK/ws"
new_workspace "$WS"
write_plan "$WS/plans/tls.yaml" tls duckdb 2016-01-01 2016-06-30

set +e
"$FINSYNC" -w "$WS" run tls >"$WORK/refused.out" 2>"$WORK/refused.err"
rc=$?
set -e
assert_eq 69 "$rc" "exit code without the CA"
grep -qi "TLS" "$WORK/refused.err" || fail "refusal does not mention TLS: $(cat "$WORK/refused.err")"
grep -q "ca_file" "$WORK/refused.err" || fail "refusal does not say how to trust the CA: $(cat "$WORK/refused.err")"
[[ $(grep -c '"outcome"' "$emu_AUDIT" || true) -eq 0 ]] || fail "a request was served despite the failed verification"

echo "http: { connect_timeout: 2s, timeout: 10s, ca_file: certs/ca.pem }" >>"$WS/finsync.yaml"
sed -i '/^http: { connect_timeout: 2s, timeout: 10s }$/d' "$WS/finsync.yaml"
cp -r "$C" "$WS/certs"
"$FINSYNC" -w "$WS" run tls >"$WORK/ok.out" 2>"$WORK/ok.err" || fail "run with ca_file exited $?: $(tail -3 "$WORK/ok.err")"
"$EMULATOR" truth --api daily --seed 4 --symbols 3 --start 20160101 --end 20160630 >"$WORK/truth.csv"
canonical_from "$WS/data/finsync.duckdb" tls >"$WORK/landed.csv"
diff -q "$WORK/truth.csv" "$WORK/landed.csv" >/dev/null || fail "landed rows differ from truth"
echo "tls: ok"
