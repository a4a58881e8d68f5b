#!/usr/bin/env bash
# `make run`: set up, migrate, seed the demo Space, then start web, workers and beat.
# Embedded default: SQLite under var/ and a Redis server started here with its data under var/.
# DATABASE_URL / REDIS_URL switch to external servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
export PATH="$PWD/.venv/bin:$PATH"
export FASTN_VAR_DIR=${FASTN_VAR_DIR:-$PWD/var}
mkdir -p "$FASTN_VAR_DIR/redis"

REDIS_PID=""
stop_all() {
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
}
trap stop_all EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  REDIS_PORT=${FASTN_REDIS_PORT:-63790}
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    # Snapshots under var/ so queued work and caches survive a restart.
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$FASTN_VAR_DIR/redis" \
      --appendonly yes --maxmemory-policy noeviction --logfile "$FASTN_VAR_DIR/redis/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "Redis did not start; see $FASTN_VAR_DIR/redis/redis.log" >&2; exit 1; }
  fi
fi

python manage.py migrate --noinput -v 0
python manage.py seed_demo

PORT=${FASTN_PORT:-8000}
export FASTN_BIND="127.0.0.1:$PORT"
export SITE_URL=${SITE_URL:-http://127.0.0.1:$PORT}
cat <<MSG

  Fastn Console is starting at  http://127.0.0.1:$PORT/
  Demo login:  demo@fastn.local  /  fastn-demo-2026

  Ctrl-C stops everything.

MSG
honcho -f Procfile start
