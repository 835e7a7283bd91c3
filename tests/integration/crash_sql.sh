#!/usr/bin/env bash
# crash.sh with the database sinks: every failpoint and random kills into sqlite and postgres.
CRASH_SINKS="sqlite postgres" exec bash "$(dirname "$0")/crash.sh" "$@"
