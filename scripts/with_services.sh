#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL + Redis on free loopback ports in a temporary
# folder; the servers are stopped and the folder removed whatever happens.
# usage: scripts/with_services.sh COMMAND [ARGS...]   (DATABASE_URL points at database `fastn`)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=$(mktemp -d /tmp/fastn-services.XXXXXX)
PGPORT=$(.venv/bin/python scripts/free_port.py)
REDIS_PORT=$(.venv/bin/python scripts/free_port.py)
export RUN_DIR PGPORT REDIS_PORT
cleanup() { scripts/services.sh stop; rm -rf "$RUN_DIR"; }
trap cleanup EXIT INT TERM
scripts/services.sh start
# The database DATABASE_URL names exists (tests create their own test_fastn beside it; a test
# that never touches the database still connects to it at teardown).
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "create database fastn" >/dev/null

export FASTN_ENV=test
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/fastn"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export FASTN_VAR_DIR="$RUN_DIR/var"
export FASTN_HTTP_ALLOW_LOOPBACK=true
export SECRET_KEY=throwaway-secret-key-not-for-production
export PATH="$PWD/.venv/bin:$PATH"
"$@"
