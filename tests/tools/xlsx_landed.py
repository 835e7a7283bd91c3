#!/usr/bin/env python3
"""xlsx_landed.py WORKBOOK [--sheets]

Reads a workbook the excel sink wrote, with openpyxl, and prints its rows of daily bars as the
emulator's truth prints them (ts_code,trade_date,open,...; sorted by ts_code, trade_date), after
checking every sheet's form: a bold header row equal on every sheet, frozen under the header, an
autofilter over header and data, trade_date cells that are dates (a date format, midnight) and
numeric columns that are number cells. Exits 1 naming the sheet and cell when a check fails.
--sheets prints "NAME ROWS" per sheet, in workbook order, instead of the rows.
"""
import datetime
import sys

import openpyxl
from openpyxl.utils import get_column_letter

NUMERIC = ["open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"]


def die(msg):
    print(f"xlsx_landed: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    path = sys.argv[1]
    wb = openpyxl.load_workbook(path)
    header = None
    rows, sheets = [], []
    for ws in wb.worksheets:
        head = [c.value for c in ws[1]]
        if header is None:
            header = head
        elif head != header:
            die(f"sheet {ws.title}: header {head} differs from {header}")
        for c in ws[1]:
            if not c.font.b:
                die(f"sheet {ws.title}: header cell {c.coordinate} is not bold")
        if ws.freeze_panes != "A2":
            die(f"sheet {ws.title}: frozen at {ws.freeze_panes}, not under the header")
        want = f"A1:{get_column_letter(len(header))}{ws.max_row}"
        if ws.auto_filter.ref != want:
            die(f"sheet {ws.title}: autofilter {ws.auto_filter.ref}, expected {want}")
        col = {name: i for i, name in enumerate(header)}
        n = 0
        for r in ws.iter_rows(min_row=2):
            n += 1
            d = r[col["trade_date"]]
            if not d.is_date or not isinstance(d.value, datetime.datetime) or d.value.time() != datetime.time(0):
                die(f"sheet {ws.title}: {d.coordinate} is not a date cell: {d.value!r} ({d.number_format})")
            out = [r[col["ts_code"]].value, d.value.strftime("%Y-%m-%d")]
            for name in NUMERIC:
                c = r[col[name]]
                if c.value is None:
                    out.append("")
                    continue
                if c.data_type != "n" or c.is_date or isinstance(c.value, bool):
                    die(f"sheet {ws.title}: {c.coordinate} ({name}) is not a number cell: {c.value!r}")
                out.append("%.2f" % c.value)
            rows.append(out)
        sheets.append((ws.title, n))
    if "--sheets" in sys.argv[2:]:
        for name, n in sheets:
            print(name, n)
        return
    print("ts_code,trade_date," + ",".join(NUMERIC))
    for r in sorted(rows, key=lambda r: (r[0], r[1])):
        print(",".join(r))


main()
