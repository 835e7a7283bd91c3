#!/usr/bin/env bash
# crash.sh with the mysql sink: every failpoint and random kills into MariaDB.
CRASH_SINKS="mysql" exec bash "$(dirname "$0")/crash.sh" "$@"
