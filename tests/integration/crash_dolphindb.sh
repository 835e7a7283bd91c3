#!/usr/bin/env bash
# crash.sh with the dolphindb sink against the DolphinDB recorder: every failpoint and random
# kills; the recorder's table equals the truth after each resume.
CRASH_SINKS="dolphindb" exec bash "$(dirname "$0")/crash.sh" "$@"
