#!/usr/bin/env bash
# Installs what the Reflex web app needs besides Python packages. Idempotent and fast
# (well under a second) once everything is there.
#   scripts/web_tools.sh            Node 22 and bun into .tools/ (from the npm registry)
#   scripts/web_tools.sh --browser  also Debian's chromium, for the browser tests
# As root with apt-get, missing Debian packages (npm to bootstrap, chromium) are
# installed; otherwise the script says what to install and fails (Node/bun) or warns
# (chromium: the browser tests then skip, saying why).
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
cd "$AUDIOBOOK_REPO_ROOT"

NODE_MIN_VERSION=22.22.0   # Reflex 0.10's minimum
BUN_MIN_VERSION=1.4.4
CHROMIUM=/usr/bin/chromium
APT_UPDATED=0

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {  # apt_install PACKAGE...: refreshes the package lists once per run
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  apt-get install -y -qq "$@" >/dev/null
}

version_at_least() {  # version_at_least HAVE WANT
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

tools_ok() {
  local bin="$AUDIOBOOK_TOOLS_DIR/node_modules/.bin" node_v bun_v
  node_v="$("$bin/node" --version 2>/dev/null)" || return 1
  bun_v="$("$bin/bun" --version 2>/dev/null)" || return 1
  version_at_least "${node_v#v}" "$NODE_MIN_VERSION" && version_at_least "$bun_v" "$BUN_MIN_VERSION"
}

ensure_node_and_bun() {
  if tools_ok; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if can_apt; then
      echo "web_tools: installing npm with apt-get (only to fetch Node 22 and bun)" >&2
      apt_install npm
    else
      echo "web_tools: npm is needed to install Node 22 and bun into .tools/ (apt-get install npm, as root)" >&2
      return 1
    fi
  fi
  echo "web_tools: installing Node 22 and bun into .tools/ from the npm registry" >&2
  mkdir -p "$AUDIOBOOK_TOOLS_DIR"
  (cd "$AUDIOBOOK_TOOLS_DIR" && npm install --no-audit --no-fund --loglevel=error node@22 bun >/dev/null)
  tools_ok || { echo "web_tools: .tools/ has no node >= $NODE_MIN_VERSION and bun >= $BUN_MIN_VERSION after npm install" >&2; return 1; }
}

ensure_chromium() {
  [ -x "$CHROMIUM" ] && return 0
  if can_apt; then
    echo "web_tools: installing chromium with apt-get (browser tests)" >&2
    apt_install chromium || { echo "web_tools: apt-get install chromium failed; browser tests will skip" >&2; return 0; }
  else
    echo "web_tools: $CHROMIUM is missing and we are not root: browser tests will skip (apt-get install chromium)" >&2
  fi
}

ensure_node_and_bun
if [ "${1:-}" = --browser ]; then
  ensure_chromium
fi
