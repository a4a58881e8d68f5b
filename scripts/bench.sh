#!/usr/bin/env bash
# `make bench`: the performance figures beside their floors, measured in one run on this machine.
# usage: scripts/bench.sh [bench_module ...]
#   no module       every module against a throwaway PostgreSQL + Redis, then bench_embedded
#   bench_embedded  the execute API against `make run`'s own configuration (its private
#                   PostgreSQL and Redis in a temporary var dir, the Procfile's processes under
#                   supervisord; BENCH_EMBEDDED_DB=sqlite: make run with a SQLite DATABASE_URL)
#   any other       that module against the throwaway PostgreSQL + Redis
set -euo pipefail
cd "$(dirname "$0")/.."
postgres=() embedded=""
[ $# -eq 0 ] && embedded=yes
for module in "$@"; do
  if [ "$module" = bench_embedded ]; then embedded=yes; else postgres+=("$module"); fi
done
status=0
if [ $# -eq 0 ] || [ ${#postgres[@]} -gt 0 ]; then
  scripts/bootstrap.sh test
  scripts/with_services.sh bash -c '
    set -euo pipefail
    python manage.py migrate --noinput -v 0
    python benchmarks/run.py "$@"
  ' bench "${postgres[@]}" || status=$?
fi
if [ -n "$embedded" ]; then
  scripts/bootstrap.sh run
  RUN_DIR=$(mktemp -d /tmp/fastn-bench-embedded.XXXXXX)
  chmod 0711 "$RUN_DIR"  # as root, make run's PostgreSQL runs as postgres and must reach var/
  trap 'rm -rf "$RUN_DIR"' EXIT
  FASTN_PORT=$(.venv/bin/python scripts/free_port.py)
  FASTN_REDIS_PORT=$(.venv/bin/python scripts/free_port.py)
  export RUN_DIR FASTN_PORT FASTN_REDIS_PORT FASTN_ENV=embedded FASTN_VAR_DIR="$RUN_DIR/var"
  export REDIS_URL="redis://127.0.0.1:$FASTN_REDIS_PORT/0" PATH="$PWD/.venv/bin:$PATH"
  unset DATABASE_URL
  # BENCH_EMBEDDED_DB=sqlite: make run with DATABASE_URL=sqlite:///… (the smallest installs).
  if [ "${BENCH_EMBEDDED_DB:-}" = sqlite ]; then
    export DATABASE_URL="sqlite:///$FASTN_VAR_DIR/fastn.sqlite3"
  fi
  python benchmarks/run.py bench_embedded || status=$?
fi
exit $status
