#!/usr/bin/env bash
# Offset/limit pagination in the query string with a header key (the tushare personality pages
# in its JSON body: provider_tushare_offset.sh): a small python server holds 23 rows and answers
# `limit`/`offset` slices. A provider with `pagination: { kind: offset,
# page_size: 5 }` and a header key lands exactly the 23 rows through the pages 0, 5, 10, 15, 20
# (the last one short), every page carrying the key; a second run asks nothing. A second plan's
# run killed between pages resumes at its offset cursor.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is needed"

cat >"$WORK/server.py" <<'PY'
import http.server, json, sys, urllib.parse
ROWS = [{"id": i, "day": "2024-01-%02d" % (i % 28 + 1), "value": "%d.25" % (i * 3)} for i in range(23)]
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        offset, limit = int(q["offset"][0]), int(q["limit"][0])
        key = self.headers.get("X-Api-Key", "")
        log.write("%d %d %s\n" % (offset, limit, "key" if key == sys.argv[3] else "nokey"))
        body = json.dumps({"data": ROWS[offset:offset + limit]}).encode()
        self.send_response(200 if key == sys.argv[3] else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.server_port)
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
python3 "$WORK/server.py" "$WORK/port" "$WORK/requests.log" "$TOKEN" &
EMU_PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$WORK/port" ]] && break; sleep 0.05; done
[[ -s "$WORK/port" ]] || fail "the python server did not start"
export PAGED_URL="http://127.0.0.1:$(cat "$WORK/port")" PAGED_KEY="$TOKEN"

WS="$WORK/ws"
new_workspace "$WS"
cat >"$WS/providers/paged.yaml" <<'YAML'
provider: paged
base_url: ${PAGED_URL}
auth: { kind: header, field: X-Api-Key, value: "${PAGED_KEY}" }
rate_limits:
  - { scope: account, limit: 100, per: 1s }
endpoints:
  items:
    request: { method: GET, path: /items, query: { offset: "{offset}", limit: "{limit}" } }
    params:
      offset: { type: int }
      limit: { type: int }
    rows: { kind: objects, items: $.data }
    pagination: { kind: offset, offset_param: offset, limit_param: limit, page_size: 5 }
    columns:
      id: int64
      day: date
      value: double
    primary_key: [id]
YAML
cat >"$WS/plans/items.yaml" <<'YAML'
name: items
provider: paged
endpoint: items
range: { start: 2024-01-01, end: 2024-01-31 }
sink: { kind: duckdb, table: items }
YAML
"$FINSYNC" -w "$WS" run "$WS/plans/items.yaml" >"$WORK/run.out" 2>"$WORK/run.err" ||
  fail "run exited $?: $(tail -5 "$WORK/run.err")"
assert_eq "0 5 key|5 5 key|10 5 key|15 5 key|20 5 key" "$(paste -sd'|' "$WORK/requests.log")" "pages requested"
landed=$("$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT string_agg(id || ':' || strftime(day, '%d') || ':' || printf('%.2f', value), ' ' ORDER BY id) FROM items" | tail -1)
expected=$(python3 -c 'print(" ".join("%d:%02d:%.2f" % (i, i % 28 + 1, i * 3 + 0.25) for i in range(23)))')
assert_eq "$expected" "$landed" "landed rows"
"$FINSYNC" -w "$WS" run items >"$WORK/run2.out" 2>"$WORK/run2.err" || fail "second run exited $?"
assert_eq 5 "$(wc -l <"$WORK/requests.log")" "requests after the second run"

# Offset cursors resume: a run killed right after its second page is landed and checkpointed
# (offset 5) resumes at offset 10, no page is asked twice, and the rows are exact.
sed -e 's/^name: items$/name: resumed/' -e 's/table: items }/table: resumed }/' \
  "$WS/plans/items.yaml" >"$WS/plans/resumed.yaml"
: >"$WORK/requests.log"
rc=0
FINSYNC_FAILPOINTS="engine.between_pages:kill@2" "$FINSYNC" -w "$WS" run resumed \
  >"$WORK/crash.out" 2>"$WORK/crash.err" || rc=$?
assert_eq 137 "$rc" "exit code of the run killed between pages"
assert_eq "0 5 key|5 5 key" "$(paste -sd'|' "$WORK/requests.log")" "pages before the kill"
"$FINSYNC" -w "$WS" run resumed >"$WORK/resume.out" 2>"$WORK/resume.err" ||
  fail "resume exited $?: $(tail -5 "$WORK/resume.err")"
assert_eq "0 5 key|5 5 key|10 5 key|15 5 key|20 5 key" "$(paste -sd'|' "$WORK/requests.log")" "pages over both runs"
landed=$("$DUCKDB_READ" "$WS/data/finsync.duckdb" "SELECT string_agg(id || ':' || strftime(day, '%d') || ':' || printf('%.2f', value), ' ' ORDER BY id) FROM resumed" | tail -1)
assert_eq "$expected" "$landed" "rows landed across the kill"
echo "provider_offset_paging: ok (23 rows in 5 pages; killed after offset 5, resumed at offset 10)"
