#!/usr/bin/env bash
# crash.sh with the clickhouse sink: every failpoint and random kills into ClickHouse.
CRASH_SINKS="clickhouse" exec bash "$(dirname "$0")/crash.sh" "$@"
