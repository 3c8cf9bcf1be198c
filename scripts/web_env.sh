# Environment of the Reflex web app and its tools; sourced (never run) by
# scripts/web_tools.sh, scripts/run.sh and the Makefile's web targets.
#
# Reflex 0.10 needs Node >= 22.22 and Bun >= 1.4.4; Debian has Node 18, so both come
# from the npm registry into .tools/ (scripts/web_tools.sh) and go first on PATH.
# Reflex must use that bun rather than download its own (no internet here), must not
# phone home, and npm must use the public registry.

AUDIOBOOK_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AUDIOBOOK_TOOLS_DIR="$AUDIOBOOK_REPO_ROOT/.tools"
case ":$PATH:" in
  *":$AUDIOBOOK_TOOLS_DIR/node_modules/.bin:"*) ;;
  *) PATH="$AUDIOBOOK_TOOLS_DIR/node_modules/.bin:$PATH" ;;
esac
export PATH
export REFLEX_USE_SYSTEM_BUN=1
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
