#!/usr/bin/env bash
# `make test`: set up, start throwaway PostgreSQL + Redis, run lint and the whole suite, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test

RUN_DIR=$(mktemp -d /tmp/fastn-test.XXXXXX)
export RUN_DIR
PGPORT=$(.venv/bin/python scripts/free_port.py)
REDIS_PORT=$(.venv/bin/python scripts/free_port.py)
export PGPORT REDIS_PORT
cleanup() { scripts/services.sh stop; rm -rf "$RUN_DIR"; }
trap cleanup EXIT INT TERM
scripts/services.sh start

export FASTN_ENV=test
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/fastn"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export FASTN_VAR_DIR="$RUN_DIR/var"
export FASTN_HTTP_ALLOW_LOOPBACK=true
export SECRET_KEY=test-only-secret-key-not-for-production
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff"
ruff check . && ruff format --check .
echo "==> migrations are up to date"
python manage.py makemigrations --check --dry-run >/dev/null
echo "==> pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
exit $rc
