#!/usr/bin/env bash
# usage: scripts/prefix-output.sh NAME COMMAND [ARGS...]
# Runs COMMAND in place of this shell (same pid, so supervisord signals and watches the real
# process) with its stdout and stderr printed line by line as "NAME | line". The prefixer
# ignores SIGINT/SIGTERM: it ends when COMMAND's output closes, so shutdown logs still show.
# `stdbuf -oL sed`, not `sed -u`: unbuffered sed reads one byte per read(), ~150 system calls
# per access-log line; this reads what the pipe holds and still writes each line as it ends.
name=$1
shift
exec > >(trap '' INT TERM; exec stdbuf -oL sed "s/^/$(printf '%-19s' "$name")| /") 2>&1
exec "$@"
