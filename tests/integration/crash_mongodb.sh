#!/usr/bin/env bash
# crash.sh with the mongodb sink against mongo_recorder: every failpoint and random kills.
CRASH_SINKS="mongodb" exec bash "$(dirname "$0")/crash.sh" "$@"
