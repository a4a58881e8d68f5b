"""Floors for the API benchmarks: a minimal Django project and a bare Celery app, plus the
tools the benchmarks use to drive them (process control and a load generator).

Nothing here imports the console's code. The floors answer "what does this stack cost with no
product logic at all", measured on this machine in the same run as the product's figures:

- `settings`, `urls`, `wsgi`: a Django project with no apps, no middleware and no database.
  `GET /json` answers a constant JSON body (the bare JSON view). `POST /v8/<queue>` reads the
  same `{"input": …}` body as the console's execute endpoint, sends the trivial workflow
  function to the bare Celery task `floors.v8` on that queue and answers its JSON (the "Celery
  V8 view"; one queue per floor worker variant). `POST /enqueue/<queue>` reads the same body,
  sends the no-op task `floors.noop` to that queue and answers 202 JSON with its id ("Django
  view + Celery enqueue", the floor of a standard run's accept).
- `celery_app`: a bare Celery app on the same Redis server as the console (its own database
  number, `FLOORS_REDIS_URL`) with two tasks: `floors.noop` and `floors.v8`, which evaluates
  the function in a fresh `py_mini_racer.MiniRacer()` and returns `JSON.stringify` of its result.
- `isolate`: the fresh-isolate floor, run in a process of its own.
- `procs`: starting gunicorn / celery as the Procfile does, waiting until ready, stopping them
  (SIGTERM, then SIGKILL) and checking that nothing is left behind.
- `loadgen`: the HTTP load generator (separate processes, keep-alive `http.client`
  connections to 127.0.0.1), used alike for the floors and for the console.
"""

# The trivial workflow, as the console stores it and as the floors evaluate it. mini-racer has
# no ES modules (STACK.md §4), so the floor evaluates the same function without `export default`.
TRIVIAL_WORKFLOW = "export default async function () { return { ok: true }; }"
TRIVIAL_FUNCTION = "async function () { return { ok: true }; }"
TRIVIAL_BODY = b'{"input": {"n": 1}}'
