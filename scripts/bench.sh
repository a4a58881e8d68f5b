#!/usr/bin/env bash
# `make bench`: the performance figures beside their floors, measured in one run on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
RUN_DIR=$(mktemp -d /tmp/fastn-bench.XXXXXX)
export RUN_DIR
PGPORT=$(.venv/bin/python scripts/free_port.py)
REDIS_PORT=$(.venv/bin/python scripts/free_port.py)
export PGPORT REDIS_PORT
cleanup() { scripts/services.sh stop; rm -rf "$RUN_DIR"; }
trap cleanup EXIT INT TERM
scripts/services.sh start
export FASTN_ENV=test
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/fastn_bench"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export FASTN_VAR_DIR="$RUN_DIR/var"
export SECRET_KEY=bench-only
export PATH="$PWD/.venv/bin:$PATH"
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc 'create database fastn_bench' >/dev/null
python manage.py migrate --noinput -v 0
python benchmarks/run.py "$@"
