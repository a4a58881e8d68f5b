#!/usr/bin/env bash
# usage: scripts/prefix-output.sh NAME COMMAND [ARGS...]
# Runs COMMAND in place of this shell (same pid, so supervisord signals and watches the real
# process) with its stdout and stderr printed line by line as "NAME | line". The prefixer
# ignores SIGINT/SIGTERM: it ends when COMMAND's output closes, so shutdown logs still show.
name=$1
shift
exec > >(trap '' INT TERM; exec stdbuf -oL sed "s/^/$(printf '%-19s' "$name")| /") 2>&1
exec "$@"
