#!/usr/bin/env bash
# crash.sh with the excel sink: every failpoint (the workbook's rename included) and random kills;
# after each resume the workbook, read with openpyxl, equals the truth.
CRASH_SINKS="excel" exec bash "$(dirname "$0")/crash.sh" "$@"
