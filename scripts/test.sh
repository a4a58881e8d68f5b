#!/usr/bin/env bash
# `make test`: set up, then run lint, the import contracts, the migrations check and the whole
# suite against a throwaway PostgreSQL + Redis (scripts/with_services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
# Bytecode is written (some environments turn it off): the suite starts dozens of Python
# processes (Celery workers, gunicorn, sandboxes) and pytest rewrites every test module's
# asserts; with the caches, each compiles once instead of on every start.
unset PYTHONDONTWRITEBYTECODE
# The whole suite runs in FASTN_TEST_PROCESSES processes (pytest-xdist, default 2: most tests
# wait on workers, browsers and sockets, so two processes share even two cores well); each
# takes whole test files and has its own test database and Redis database. Arguments replace
# this and go to pytest as they are (`scripts/test.sh tests/api -x` runs in one process).
if [ $# -eq 0 ]; then
  set -- -n "${FASTN_TEST_PROCESSES:-2}" --dist loadfile
fi
exec scripts/with_services.sh bash -c '
  set -euo pipefail
  echo "==> ruff"
  ruff check . && ruff format --check .
  echo "==> dependencies between apps point one way (import-linter; contracts in pyproject.toml)"
  lint-imports --no-logo --no-cache
  echo "==> migrations are up to date"
  python manage.py makemigrations --check --dry-run >/dev/null
  echo "==> pytest"
  python -m pytest "$@"
' pytest "$@"
