#!/usr/bin/env bash
# `make bench`: the performance figures beside their floors, measured in one run on this machine.
# usage: scripts/bench.sh [bench_module ...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
exec scripts/with_services.sh bash -c '
  set -euo pipefail
  psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "create database fastn" >/dev/null
  python manage.py migrate --noinput -v 0
  python benchmarks/run.py "$@"
' bench "$@"
