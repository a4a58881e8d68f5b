#!/usr/bin/env bash
# Chaos check, run by hand (bounded: about 3 minutes; loopback only). Starts a throwaway
# supervised console (scripts/run.sh: SQLite + supervised Redis in a temporary folder, free
# ports), puts it under a load of API calls and breaks it:
#   kill -9 worker-standard   a Celery worker dies with runs in flight (issue 9, items 1 and 4)
#   kill -9 web               the gunicorn master dies (item 1)
#   kill -9 redis             the embedded Redis dies (item 1)
#   redis stopped 5 s         the broker is away for a while under load (item 2)
#   worker killed every try   a workflow that SIGKILLs its worker on every attempt (item 4)
# and prints one table row per scenario:
#   sent        API calls made          2xx        calls answered 200/202
#   executions  execution rows created  completed  of those, ended completed
#   lost        answered 2xx but not completed when the scenario ended
#   duplicated  runs whose side effect (a loopback call at the end of the run) happened twice
#   refused-ran calls answered non-2xx whose workflow ran anyway
#   attempts    attempt rows            recovery   killed process back (RUNNING) / lost runs
#                                                  dispatched again / first 2xx after Redis
# usage: scripts/chaos.sh        (KEEP=1 keeps the temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
WORK=$(mktemp -d /tmp/fastn-chaos.XXXXXX)
PORT=$(python scripts/free_port.py)
REDIS_PORT=$(python scripts/free_port.py)
LOG="$WORK/console.log"
CONSOLE_PID=""
cleanup() {
  if [ -n "$CONSOLE_PID" ]; then
    kill -INT -- "-$CONSOLE_PID" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$CONSOLE_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$CONSOLE_PID" 2>/dev/null || true
  fi
  [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

unset DATABASE_URL REDIS_URL
export FASTN_ENV=embedded FASTN_VAR_DIR="$WORK/var" FASTN_PORT=$PORT FASTN_REDIS_PORT=$REDIS_PORT
export FASTN_HTTP_ALLOW_LOOPBACK=true SECRET_KEY=""
echo "==> starting a throwaway console on 127.0.0.1:$PORT (log: $LOG)"
setsid bash scripts/run.sh >"$LOG" 2>&1 &
CONSOLE_PID=$!
for _ in $(seq 240); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$CONSOLE_PID" 2>/dev/null || { tail -30 "$LOG"; exit 1; }
  sleep 0.5
done
for _ in $(seq 60); do
  [ "$(supervisorctl -c "$WORK/var/supervisord.conf" status | grep -c RUNNING)" -ge 7 ] && break
  sleep 0.5
done

python - <<'PY'
import json, os, re, signal, subprocess, sys, threading, time, urllib.error, urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
import django

django.setup()
from django.utils import timezone

from apps.environments.selectors import environment_by_slug
from apps.executions.models import Execution, ExecutionAttempt
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.spaces.services import apikey_create
from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish

PORT = int(os.environ["FASTN_PORT"])
CONF = os.path.join(os.environ["FASTN_VAR_DIR"], "supervisord.conf")
DURATION_S = 16  # load per scenario; every scenario then drains for at most 60 s

# A loopback endpoint the workflows call at the end of each run (side effects, counted per
# run), and one that SIGKILLs the standard worker (the workflow that kills its worker).
ran = Counter()


class Effects(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/ran/"):
            ran[self.path[5:]] += 1
        elif self.path == "/kill":
            os.kill(pid("console:worker-standard"), signal.SIGKILL)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


effects = ThreadingHTTPServer(("127.0.0.1", 0), Effects)
threading.Thread(target=effects.serve_forever, daemon=True).start()
EFFECTS = f"http://127.0.0.1:{effects.server_address[1]}"


def status(name):
    out = subprocess.run(["supervisorctl", "-c", CONF, "status", name],
                         capture_output=True, text=True).stdout
    match = re.search(r"^\S+\s+(\w+)\s+(?:pid (\d+))?", out, re.M)
    return (match[1], int(match[2]) if match and match[2] else None) if match else ("?", None)


def pid(name):
    return status(name)[1]


def back_after(name, old, since, timeout=30.0):
    while time.monotonic() - since < timeout:
        state, new = status(name)
        if state == "RUNNING" and new and new != old:
            return time.monotonic() - since
        time.sleep(0.2)
    return None


space = Space.objects.get(name="Demo Space")
actor = Actor.system("chaos")
_key, raw_key = apikey_create(space, name="chaos", mode="live", actor=actor)
HEADERS = {"x-fastn-api-key": raw_key, "x-fastn-space-id": str(space.id),
           "Content-Type": "application/json"}
SLEEP = "await new Promise((resolve) => setTimeout(resolve, {ms}));"
CODES = {
    "chaos-instant": ("instant", SLEEP.format(ms=50)),
    "chaos-standard": ("standard", SLEEP.format(ms=300)),
}
for slug, (tier, body) in CODES.items():
    code = ("export default async (ctx) => { " + body +
            f" await fastn.connector.http.request({{url: `{EFFECTS}/ran/${{ctx.input.tag}}`}});"
            " return {tag: ctx.input.tag}; }")
    workflow = workflow_create(space, actor=actor, name=slug, slug=slug, tier=tier, code=code,
                               retry_enabled=True, retry_max_attempts=3)
    workflow_deploy(workflow, version=workflow_publish(workflow, actor=actor),
                    environment=environment_by_slug(space, "live"), actor=actor)
killer = workflow_create(
    space, actor=actor, name="chaos-killer", slug="chaos-killer", tier="standard",
    code=f"export default async () => {{ await fastn.connector.http.request({{url: '{EFFECTS}/kill'}});"
         " return 'survived'; }",
    retry_enabled=True, retry_max_attempts=3,
)
workflow_deploy(killer, version=workflow_publish(killer, actor=actor),
                environment=environment_by_slug(space, "live"), actor=actor)


def call(slug, tag):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api/v1/{slug}", headers=HEADERS, method="POST",
        data=json.dumps({"input": {"tag": tag}}).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except OSError:
        return 0, {}


class Load:
    def __init__(self, scenario, slugs):
        self.scenario, self.slugs = scenario, slugs
        self.stop = threading.Event()
        self.results = []  # (time, tag, status, executionId)
        self.threads = [threading.Thread(target=self.caller, args=(slug, i), daemon=True)
                        for i, slug in enumerate(slugs)]

    def caller(self, slug, index):
        n = 0
        while not self.stop.is_set() and n < 400:
            n += 1
            tag = f"{self.scenario}.{index}.{n}"
            code, body = call(slug, tag)
            self.results.append((time.monotonic(), tag, code, body.get("executionId")))
            time.sleep(0.1)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def measure(scenario, load, recovery):
    """Drain (at most 60 s), then one table row."""
    accepted = [r for r in load.results if 200 <= r[2] < 300]
    refused = {r[1] for r in load.results if not 200 <= r[2] < 300}
    rows = Execution.objects.filter(input__tag__startswith=f"{scenario}.")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and rows.filter(status__in=("pending", "running")).exists():
        time.sleep(1)
    time.sleep(1)
    completed = set(rows.filter(status="completed").values_list("input__tag", flat=True))
    lost = sum(1 for r in accepted if r[1] not in completed)
    return {
        "scenario": scenario, "sent": len(load.results), "2xx": len(accepted),
        "executions": rows.count(), "completed": len(completed), "lost": lost,
        "duplicated": sum(1 for tag, n in ran.items() if tag.startswith(f"{scenario}.") and n > 1),
        "refused-ran": sum(1 for tag in refused if ran.get(tag)),
        "attempts": ExecutionAttempt.objects.filter(execution__in=rows).count(),
        "recovery": recovery,
    }


def seconds(value):
    return "-" if value is None else f"{value:.1f} s"


def kill_scenario(scenario, program):
    rows = Execution.objects.filter(input__tag__startswith=f"{scenario}.")
    with Load(scenario, ["chaos-standard", "chaos-standard", "chaos-instant"]) as load:
        # Kill while runs flow: some done already, some in flight (or after 30 s regardless).
        # Runs "in flight" are those running the instant before the kill; a few of them may
        # still finish before it lands.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            rows.filter(status="completed").count() >= 20 and rows.filter(status="running").exists()
        ):
            time.sleep(0.2)
        old = pid(program)
        in_flight = list(rows.filter(status="running").values_list("pk", flat=True))
        killed = time.monotonic()
        killed_at = timezone.now()
        os.kill(old, signal.SIGKILL)
        process_back = back_after(program, old, killed)
        time.sleep(max(0.0, DURATION_S - 4 - (time.monotonic() - killed)))
    recovery = f"process back {seconds(process_back)} ({len(in_flight)} runs in flight)"
    if program == "console:worker-standard" and in_flight:
        # The runs the dead worker held: from the kill to their next attempt's claim (the
        # row's started_at is the latest attempt's).
        held = Execution.objects.filter(pk__in=in_flight)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and held.filter(attempts=1).exclude(
                status="completed").exists():
            time.sleep(0.5)
        # The reaper records the lost attempt (finished_at) and dispatches the run again in
        # the same pass; it runs again when the queue (backed up meanwhile) reaches it.
        reaped = ExecutionAttempt.objects.filter(execution__in=held, error__code="WORKER_LOST")
        again = [e.started_at for e in held.filter(attempts__gte=2)]
        if reaped:
            worst = max((a.finished_at - killed_at).total_seconds() for a in reaped)
            recovery += (f"; {len(reaped)} lost attempts recorded and redispatched within "
                         f"{worst:.1f} s of the kill")
        if again:
            worst = max((s - killed_at).total_seconds() for s in again)
            recovery += f", running again within {worst:.1f} s (behind the backlog)"
    return measure(scenario, load, recovery)


def redis_outage(scenario, outage_s=5.0):
    rows = Execution.objects.filter(input__tag__startswith=f"{scenario}.")
    with Load(scenario, ["chaos-standard", "chaos-standard", "chaos-instant"]) as load:
        time.sleep(4)
        subprocess.run(["supervisorctl", "-c", CONF, "stop", "redis"], capture_output=True)
        stopped_at = timezone.now()
        time.sleep(outage_s)
        subprocess.run(["supervisorctl", "-c", CONF, "start", "redis"], capture_output=True)
        restarted, restarted_at = time.monotonic(), timezone.now()
        time.sleep(DURATION_S - 4 - outage_s)
    # Instant calls (caller 2) need Redis: when did they answer 200 again? Standard calls made
    # during the outage: when had the last of them run?
    instant_ok = min((t for t, tag, code, _id in load.results
                      if t > restarted and code == 200 and tag.split(".")[1] == "2"), default=None)
    row = measure(scenario, load, None)
    during = rows.filter(queued_at__gte=stopped_at, queued_at__lte=restarted_at,
                         tier="standard", status="completed")
    last = max(during.values_list("finished_at", flat=True), default=None)
    tiers = {"0": "standard", "1": "standard", "2": "instant"}  # by caller
    codes = {tier: dict(sorted(Counter(code for _t, tag, code, _id in load.results
                                       if tiers[tag.split(".")[1]] == tier).items()))
             for tier in ("standard", "instant")}
    row["recovery"] = (
        f"instant 200 again {seconds(instant_ok and instant_ok - restarted)} after Redis; "
        f"{during.count()} standard runs accepted during the outage all done "
        f"{seconds(last and (last - restarted_at).total_seconds())} after; "
        f"answers {codes}"
    )
    return row


def killer_scenario(scenario):
    start = time.monotonic()
    code, body = call("chaos-killer", f"{scenario}.0.1")
    execution = Execution.objects.get(pk=body["executionId"])
    while time.monotonic() - start < 120:
        execution.refresh_from_db()
        if execution.status in ("failed", "completed"):
            break
        time.sleep(0.5)
    attempts = list(ExecutionAttempt.objects.filter(execution=execution).order_by("number"))
    elapsed = (execution.finished_at - attempts[0].started_at).total_seconds() \
        if execution.finished_at and attempts else None
    return {
        "scenario": scenario, "sent": 1, "2xx": int(200 <= code < 300), "executions": 1,
        "completed": int(execution.status == "completed"), "lost": 0, "duplicated": 0,
        "refused-ran": 0, "attempts": len(attempts),
        "recovery": f"{execution.status} after {execution.attempts}/{execution.max_attempts} "
                    f"attempts ({', '.join(a.error['code'] for a in attempts if a.error)}) in "
                    f"{seconds(elapsed)} (bound 3 x 15 s)",
    }


table = []
for number, (scenario, run) in enumerate([
    ("kill -9 worker-standard", lambda s: kill_scenario(s, "console:worker-standard")),
    ("kill -9 web (master)", lambda s: kill_scenario(s, "console:web")),
    ("kill -9 redis", lambda s: kill_scenario(s, "redis")),
    ("redis stopped 5 s", redis_outage),
    ("worker killed every try", killer_scenario),
], start=1):
    print(f"==> {scenario}", flush=True)
    row = run(f"s{number}")  # the tag prefix of its calls (URL-safe)
    table.append({**row, "scenario": scenario})
    time.sleep(3)

columns = ["scenario", "sent", "2xx", "executions", "completed", "lost", "duplicated",
           "refused-ran", "attempts", "recovery"]
print()
print("| " + " | ".join(columns) + " |")
print("|" + "|".join(" --- " for _ in columns) + "|")
for row in table:
    print("| " + " | ".join(str(row[c]) for c in columns) + " |")
effects.shutdown()
PY
echo
echo "restarts logged by supervisord:"
grep -E "exited: .*not expected|spawned:" "$LOG" | tail -n +8 | sed 's/^/  /' || true
