#!/usr/bin/env bash
# `make run`: set up, migrate, seed the demo Space, then start web, workers, events and beat under
# supervisord, which restarts any of them that exits (scripts/supervisord.conf.template).
# Embedded default: SQLite under var/ and a Redis server supervised here with its data under
# var/. DATABASE_URL / REDIS_URL switch to external servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
export PATH="$PWD/.venv/bin:$PATH"
export FASTN_VAR_DIR=${FASTN_VAR_DIR:-$PWD/var}
mkdir -p "$FASTN_VAR_DIR/redis"
export PYTHONUNBUFFERED=1  # every process's log lines show up as they are written

PORT=${FASTN_PORT:-8000}
export FASTN_BIND="127.0.0.1:$PORT"
export SITE_URL=${SITE_URL:-http://127.0.0.1:$PORT}
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2} WEB_THREADS=${WEB_THREADS:-4}
export INSTANT_CONCURRENCY=${INSTANT_CONCURRENCY:-4} STANDARD_CONCURRENCY=${STANDARD_CONCURRENCY:-4}
export LONG_CONCURRENCY=${LONG_CONCURRENCY:-2}

EMBEDDED_REDIS=""
if [ -z "${REDIS_URL:-}" ]; then
  export FASTN_REDIS_PORT=${FASTN_REDIS_PORT:-63790}
  export REDIS_URL="redis://127.0.0.1:$FASTN_REDIS_PORT/0"
  # A Redis already answering there (started by hand) is used as it is, unsupervised.
  redis-cli -p "$FASTN_REDIS_PORT" ping >/dev/null 2>&1 || EMBEDDED_REDIS=yes
fi

# Render the supervisord configuration: ${NAME} from the environment; the Redis program only
# when this script owns the Redis server.
CONF="$FASTN_VAR_DIR/supervisord.conf"
ROOT=$PWD EMBEDDED_REDIS=$EMBEDDED_REDIS python - "$CONF" <<'PY'
import os, re, string, sys
text = open("scripts/supervisord.conf.template").read()
if not os.environ["EMBEDDED_REDIS"]:
    text = re.sub(r"# --- BEGIN redis.*?# --- END redis ---\n", "", text, flags=re.S)
with open(sys.argv[1], "w") as conf:
    conf.write(string.Template(text).substitute(os.environ))
PY

SUPERVISORD_PID=""
stop_all() {
  trap - EXIT INT TERM
  if [ -n "$SUPERVISORD_PID" ]; then
    # supervisord stops every program (TERM, then KILL after stopwaitsecs) before it exits.
    kill -TERM "$SUPERVISORD_PID" 2>/dev/null || true
    while kill -0 "$SUPERVISORD_PID" 2>/dev/null; do wait "$SUPERVISORD_PID" || true; done
  fi
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

supervisord -c "$CONF" &
SUPERVISORD_PID=$!
ctl() { supervisorctl -c "$CONF" "$@"; }
for _ in $(seq 100); do ctl pid >/dev/null 2>&1 && break; sleep 0.1; done
ctl pid >/dev/null || { echo "supervisord did not start" >&2; exit 1; }
if [ -n "$EMBEDDED_REDIS" ]; then
  for _ in $(seq 100); do redis-cli -p "$FASTN_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$FASTN_REDIS_PORT" ping >/dev/null || { echo "Redis did not start" >&2; exit 1; }
fi

python manage.py migrate --noinput -v 0
python manage.py seed_demo

cat <<MSG

  Fastn Console is starting at  http://127.0.0.1:$PORT/
  Demo login:  demo@fastn.local  /  fastn-demo-2026

  Every process restarts if it exits; Ctrl-C stops everything.
  Status:  .venv/bin/supervisorctl -c $CONF status

MSG
# Started together; one that cannot start keeps being retried (and logged) by supervisord.
ctl start "console:*" >/dev/null || true
while kill -0 "$SUPERVISORD_PID" 2>/dev/null; do wait "$SUPERVISORD_PID" || true; done
