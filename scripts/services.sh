#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis on loopback for the test suite (no systemd).
# usage: RUN_DIR=... PGPORT=... REDIS_PORT=... scripts/services.sh start|stop
set -euo pipefail
: "${RUN_DIR:?}" "${PGPORT:?}" "${REDIS_PORT:?}"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
start)
  mkdir -p "$RUN_DIR/pg" "$RUN_DIR/redis"
  chmod 755 "$RUN_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$RUN_DIR/pg"
  if [ ! -f "$RUN_DIR/pg/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$RUN_DIR/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$RUN_DIR/pg/data" -l "$RUN_DIR/pg/log" -w -t 60 start \
      -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $RUN_DIR/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null; then
    cat "$RUN_DIR/pg/log" >&2; exit 1
  fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$RUN_DIR/redis" --pidfile "$RUN_DIR/redis/redis.pid" --logfile "$RUN_DIR/redis/redis.log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done ;;
stop)
  as_pg "$PGBIN/pg_ctl" -D "$RUN_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  [ -f "$RUN_DIR/redis/redis.pid" ] && kill "$(cat "$RUN_DIR/redis/redis.pid")" 2>/dev/null || true ;;
esac
