# Shared by the verify tests: which rows to punch out of a landed table, the gaps verify must
# report (the provider's suspensions and the punched days) and the gaps it did report. They read
# $WORK/truth.csv, $WORK/basic.csv and $WORK/cal.csv (the emulator's truth of daily, stock_basic
# and trade_cal).

# pick_punch: "SYMBOL DAY0 DAY1 DAY2", three consecutive trading days on which the symbol with
# the most rows has rows.
pick_punch() {
  python3 - "$WORK/truth.csv" "$WORK/cal.csv" <<'PY'
import csv, sys
rows = {}
for r in csv.DictReader(open(sys.argv[1])):
    rows.setdefault(r["ts_code"], set()).add(r["trade_date"])
days = sorted(r["cal_date"] for r in csv.DictReader(open(sys.argv[2])) if r["is_open"] == "1")
sym = sorted(rows, key=lambda s: (-len(rows[s]), s))[0]
for i in range(20, len(days) - 2):
    if all(d in rows[sym] for d in days[i:i + 3]):
        print(sym, *days[i:i + 3])
        break
PY
}

# Expected gaps, as "SYMBOL YYYY-MM-DD" lines: trading days from the listing to the day before
# the delisting without a row in the truth (the provider's suspensions), then the punched days.
expected_gaps() {
  python3 - "$WORK/truth.csv" "$WORK/basic.csv" "$WORK/cal.csv" "$@" <<'PY'
import csv, sys
truth, basic, cal, punched = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
have = {(r["ts_code"], r["trade_date"]) for r in csv.DictReader(open(truth))}
days = sorted(r["cal_date"] for r in csv.DictReader(open(cal)) if r["is_open"] == "1")
out = set()
for r in csv.DictReader(open(basic)):
    lo, hi = r["list_date"], r["delist_date"] or "9999-12-31"
    for d in days:
        if lo <= d < hi and (r["ts_code"], d) not in have:
            out.add(f'{r["ts_code"]} {d}')
for p in punched:
    out.add(p)
print("\n".join(sorted(out)))
PY
}
# verify's gap lines "  SYM  gap    A..B (n trading days)", expanded over the open days.
reported_gaps() {
  python3 - "$1" "$WORK/cal.csv" <<'PY'
import csv, re, sys
days = sorted(r["cal_date"] for r in csv.DictReader(open(sys.argv[2])) if r["is_open"] == "1")
out = []
for line in open(sys.argv[1]):
    m = re.match(r"\s+(\S+)\s+gap\s+(\S+?)(?:\.\.(\S+))? \((\d+) trading days?\)", line)
    if not m:
        continue
    sym, a, b, n = m.group(1), m.group(2), m.group(3) or m.group(2), int(m.group(4))
    span = [d for d in days if a <= d <= b]
    if len(span) != n:
        sys.exit(f"gap {a}..{b} of {sym}: {n} trading days stated, {len(span)} in the calendar")
    out += [f"{sym} {d}" for d in span]
print("\n".join(sorted(out)))
PY
}

