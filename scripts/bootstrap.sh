#!/usr/bin/env bash
# Sets up everything the console needs on this machine. Idempotent; fast when nothing changed.
# usage: scripts/bootstrap.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-run}
export DEBIAN_FRONTEND=noninteractive

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

# 1. Debian packages.
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v dot >/dev/null || need+=(graphviz)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
# make run's default database is a private PostgreSQL under var/ (scripts/run.sh); with
# DATABASE_URL set (a server of your own, or sqlite:///…) it is not needed.
if [ "$MODE" = run ] && [ -z "${DATABASE_URL:-}" ]; then
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
fi
if [ "$MODE" = test ]; then
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  [ -x /usr/bin/chromium ] || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "Installing Debian packages: ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    die "Missing system packages: ${need[*]}. Install them with: sudo apt-get install ${need[*]}"
  fi
fi

# 1b. The unprivileged user sandbox processes drop to (apps/runtime/confine.py). Without root
# the sandboxes run as the console's own user, and the console logs what that leaves open.
if [ "$(id -u)" = 0 ] && ! id -u fastn-sandbox >/dev/null 2>&1; then
  say "Creating the system user fastn-sandbox (workflow sandboxes run as it)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --comment "Fastn Console workflow sandbox" fastn-sandbox
fi

# 2. Python >= 3.12 (Django 6 needs it).
find_python() {
  for candidate in "${PY:-}" python3.13 python3.12 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -V); do
    [ -x "$candidate/bin/python" ] && { echo "$candidate/bin/python"; return 0; }
  done
  return 1
}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  PYTHON=$(find_python) || die "Python 3.12 or newer is required (Django 6). Install it, or point PY=/path/to/python3.12."
  say "Creating .venv with $PYTHON"
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi

# 3. Python packages, reinstalled only when requirements.txt changes.
req_hash=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$req_hash" ]; then
  say "Installing Python packages"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v -e "Location" -e "is ignored" || true
  .venv/bin/python -c 'import django, celery, py_mini_racer' || die "Python packages failed to install"
  echo "$req_hash" > .venv/.requirements.sha
fi

# 4. Front-end assets from the npm registry, vendored into static/ (never a CDN): the Monaco
# editor, and the Lucide icons that {% icon %} inlines (apps/console/templatetags/icons.py).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat static/vendor/.lock.sha 2>/dev/null)" != "$lock_hash" ] || [ ! -f static/vendor/monaco/vs/loader.js ] \
  || [ ! -f static/vendor/icons/LICENSE ]; then
  command -v npm >/dev/null || die "npm is required to install Monaco and the icons (apt-get install npm)."
  say "Installing Monaco and the Lucide icons from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  rm -rf static/vendor/monaco static/vendor/icons && mkdir -p static/vendor/monaco static/vendor/icons
  cp -r node_modules/monaco-editor/min/vs static/vendor/monaco/vs
  cp node_modules/lucide-static/icons/*.svg node_modules/lucide-static/LICENSE static/vendor/icons/
  echo "$lock_hash" > static/vendor/.lock.sha
fi
