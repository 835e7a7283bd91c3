# Shared by the emulator's own tests (emulator_smoke.sh, emulator_hammer.sh,
# emulator_personalities.sh): servers on 127.0.0.1 with --port 0, stopped by their pid. The
# sourcing script sets NAME (its name in messages), EMU (the emulator binary) and TOKEN (the
# token or key every server requires) first. Needs bash and curl.
set -euo pipefail
: "${NAME:?NAME must name the test}" "${EMU:?EMU must point at finsync-emulator}" "${TOKEN:?}"

fail() {
  echo "$NAME: FAIL: $*" >&2
  exit 1
}
trap 'echo "$NAME: FAIL: command failed at line $LINENO" >&2' ERR

[[ -x $EMU ]] || fail "not an executable: $EMU"
command -v curl >/dev/null || fail "curl is required"

work=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX")
pids=()
names=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# stop_servers: SIGTERM every server; each must exit 0 with nothing from a sanitizer on stderr.
stop_servers() {
  local i pid name status
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    name=${names[$i]}
    kill "$pid" 2>/dev/null || true
    status=0
    wait "$pid" || status=$?
    [[ $status == 0 ]] || fail "server '$name' exited with status $status: $(cat "$work/$name.err")"
    if grep -qE 'Sanitizer|runtime error' "$work/$name.err"; then
      fail "server '$name' stderr: $(cat "$work/$name.err")"
    fi
  done
  pids=()
  names=()
}

# start_server NAME [serve options...]: sets PORT and PID. The audit log is $work/NAME.audit,
# the server's stdout and stderr $work/NAME.out and $work/NAME.err.
start_server() {
  local name=$1
  shift
  "$EMU" serve --port 0 --port-file "$work/$name.port" --audit-log "$work/$name.audit" \
    --token "$TOKEN" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  names+=("$name")
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s $work/$name.port ]] && break
    kill -0 "$PID" 2>/dev/null || fail "server '$name' exited early: $(cat "$work/$name.err")"
    sleep 0.05
  done
  [[ -s $work/$name.port ]] || fail "server '$name' wrote no port file within 10 s"
  PORT=$(<"$work/$name.port")
  [[ $PORT =~ ^[0-9]+$ ]] || fail "bad port file content: '$PORT'"
  local scheme=http
  [[ " $* " == *" --tls-cert "* ]] && scheme=https
  grep -q "^finsync-emulator listening on $scheme://127.0.0.1:$PORT\$" "$work/$name.out" ||
    fail "no 'listening on' line for port $PORT: $(cat "$work/$name.out")"
}

# lines FILE: how many lines it has.
lines() { awk 'END { print NR }' "$1"; }
