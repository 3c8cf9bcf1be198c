#!/usr/bin/env bash
# Creates .venv with Python 3.11 and installs the pinned requirements, then
# requirements-nodeps.txt without dependencies (qwen-tts: see that file), and the
# `audiobook` console script. Idempotent: reruns only when requirements change.
# Usage: scripts/setup.sh [requirements file]   (default requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
REQ="${1:-requirements.txt}"
VENV=.venv
STAMP="$VENV/.installed-$(basename "$REQ")"

find_python() {
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$py"; return 0
    fi
  done
  return 1
}

if ! PY=$(find_python); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Python 3.11 from Debian packages" >&2
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    PY=$(find_python) || { echo "setup: Python 3.11 is required (found $(python3 --version 2>&1))" >&2; exit 1; }
  else
    echo "setup: Python 3.11 is required; install it (e.g. apt-get install python3.11 python3.11-venv)" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" || { echo "setup: venv failed; on Debian: apt-get install python3-venv" >&2; exit 1; }
fi
fresh() {  # fresh STAMP FILE: STAMP exists and is newer than FILE and every file installed with it
  [ -f "$1" ] && [ ! "$2" -nt "$1" ] && [ ! requirements.txt -nt "$1" ] \
    && [ ! requirements-nodeps.txt -nt "$1" ] && [ ! pyproject.toml -nt "$1" ]
}

# requirements-dev.txt includes requirements.txt: a fresh dev install serves both.
if ! fresh "$STAMP" "$REQ" && ! { [ "$REQ" = requirements.txt ] && fresh "$VENV/.installed-requirements-dev.txt" requirements-dev.txt; }; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$STAMP"
fi
