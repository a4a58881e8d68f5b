#!/usr/bin/env bash
# `make run`: set up, migrate, seed the demo Space, then start web, workers, events and beat under
# supervisord, which restarts any of them that exits (scripts/supervisord.conf.template).
# Embedded default: a private PostgreSQL and a Redis server, both supervised here with their
# data under var/. DATABASE_URL / REDIS_URL switch to external servers (DATABASE_URL=sqlite:///…
# to SQLite, for the smallest installs).
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

# The private PostgreSQL (README "Performance" says why it is the default): initialised once
# under var/pg, reached only through the socket directory var/pg/run (mode 700; no TCP port),
# trust authentication for whoever can open that directory: the server's own user and root.
# PostgreSQL refuses to run as root, so as root it runs as the Debian user `postgres`, and
# var/ lets the group `postgres` through (0710: traverse, not list; fastn_console/settings.py).
# An installation whose data is already in var/fastn.sqlite3 keeps it.
EMBEDDED_PG=""
use_sqlite() {
  export DATABASE_URL="sqlite:///$FASTN_VAR_DIR/fastn.sqlite3"
  echo "Database: SQLite in $FASTN_VAR_DIR/fastn.sqlite3 ($1)."
}
if [ -z "${DATABASE_URL:-}" ]; then
  if [ -f "$FASTN_VAR_DIR/fastn.sqlite3" ] && [ ! -f "$FASTN_VAR_DIR/pg/data/PG_VERSION" ]; then
    use_sqlite "the data of this installation is there; move the file away to start on PostgreSQL"
  elif [ "$(id -u)" = 0 ] && ! (chgrp postgres "$FASTN_VAR_DIR" && chmod 0710 "$FASTN_VAR_DIR" \
      && runuser -u postgres -- test -x "$FASTN_VAR_DIR"); then
    chmod 0700 "$FASTN_VAR_DIR"
    use_sqlite "the user postgres cannot reach $FASTN_VAR_DIR: a folder above it is closed to others; put the checkout (or FASTN_VAR_DIR) where it can, e.g. under /opt or /srv"
  else
    EMBEDDED_PG=yes
    export PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    export PGDATA="$FASTN_VAR_DIR/pg/data" PGSOCKET="$FASTN_VAR_DIR/pg/run"
    PG_USER=$(id -un)
    export PG_AS=""
    as_pg() { "$@"; }
    if [ "$(id -u)" = 0 ]; then
      PG_USER=postgres
      PG_AS="setpriv --reuid=postgres --regid=postgres --init-groups "
      as_pg() { runuser -u postgres -- "$@"; }
    fi
    mkdir -p "$PGSOCKET"
    chown "$PG_USER" "$FASTN_VAR_DIR/pg" "$PGSOCKET"
    chmod 700 "$FASTN_VAR_DIR/pg" "$PGSOCKET"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      echo "Initialising the private PostgreSQL in $PGDATA"
      as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    export DATABASE_URL="postgres://postgres@$(python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGSOCKET")/fastn"
  fi
fi

# Render the supervisord configuration: ${NAME} from the environment; the Redis and PostgreSQL
# programs only when this script owns those servers.
CONF="$FASTN_VAR_DIR/supervisord.conf"
ROOT=$PWD EMBEDDED_REDIS=$EMBEDDED_REDIS EMBEDDED_PG=$EMBEDDED_PG python - "$CONF" <<'PY'
import os, re, string, sys
text = open("scripts/supervisord.conf.template").read()
for name in ("redis", "pg"):
    if not os.environ[f"EMBEDDED_{name.upper()}"]:
        text = re.sub(rf"# --- BEGIN {name} .*?# --- END {name} ---\n", "", text, flags=re.S)
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
if [ -n "$EMBEDDED_PG" ]; then
  for _ in $(seq 600); do "$PGBIN/pg_isready" -q -h "$PGSOCKET" && break; sleep 0.1; done
  "$PGBIN/pg_isready" -q -h "$PGSOCKET" || { echo "PostgreSQL did not start" >&2; exit 1; }
  "$PGBIN/psql" -h "$PGSOCKET" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'fastn'" \
    | grep -q 1 || "$PGBIN/createdb" -h "$PGSOCKET" -U postgres fastn
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
