#!/usr/bin/env bash
# Is every Fastn Console process on this machine answering (not merely running)?
#   deploy/healthcheck.sh            print one line per check; exit 1 if any failed
#   deploy/healthcheck.sh --restart  also `systemctl restart` each unit that failed its check
# web: GET /healthz answers 200 {"status":"ok"} (the database answers); a worker:
# `celery inspect ping -d QUEUE@HOST` answers pong; beat: its schedule file was written in
# the last 10 minutes (beat writes it every 3). Units not enabled on this machine are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
RESTART=${1:-}
HOST=$(hostname)
VENV=${VENV:-.venv}
failed=0

enabled() { command -v systemctl >/dev/null && systemctl is-enabled --quiet "$1" 2>/dev/null; }
verdict() { # unit ok? message
  if [ "$2" = ok ]; then echo "ok      $1 $3"; return; fi
  echo "FAILED  $1 $3"
  failed=1
  if [ "$RESTART" = --restart ]; then systemctl restart "$1"; fi
}

if enabled fastn-web.service; then
  if "$VENV/bin/python" - <<'PY'
import os, sys, urllib.request
request = urllib.request.Request(
    f"http://{os.environ.get('FASTN_BIND', '127.0.0.1:8000')}/healthz",
    headers={"Host": os.environ.get("FASTN_HEALTH_HOST", "localhost"),
             "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(response.status != 200)
except Exception as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
PY
  then verdict fastn-web.service ok "/healthz 200"
  else verdict fastn-web.service failed "/healthz did not answer 200"
  fi
fi

queues=()
for queue in instant standard long housekeeping; do
  enabled "fastn-worker-$queue.service" && queues+=("$queue")
done
if [ ${#queues[@]} -gt 0 ]; then
  destinations=$(printf "%s@$HOST," "${queues[@]}")
  pongs=$("$VENV/bin/celery" -A fastn_console inspect ping --timeout 5 -d "${destinations%,}" 2>/dev/null)
  for queue in "${queues[@]}"; do
    if grep -Eq -- "->[[:space:]]+$queue@$HOST: OK" <<<"$pongs"; then
      verdict "fastn-worker-$queue.service" ok "pong"
    else
      verdict "fastn-worker-$queue.service" failed "no answer to celery inspect ping"
    fi
  done
fi

if enabled fastn-beat.service; then
  schedule="${FASTN_VAR_DIR:-/var/lib/fastn-console}/celerybeat-schedule"
  if [ -n "$(find "$schedule"* -maxdepth 0 -mmin -10 2>/dev/null | head -1)" ]; then
    verdict fastn-beat.service ok "schedule written in the last 10 min"
  else
    verdict fastn-beat.service failed "schedule not written for 10 min"
  fi
fi
exit $failed
