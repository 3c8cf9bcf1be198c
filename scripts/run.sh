#!/usr/bin/env bash
# `make run`: the whole studio on this machine, from a fresh clone.
#
#   1. sets up .venv (scripts/setup.sh), Node 22 and bun (scripts/web_tools.sh);
#   2. migrates the database (`audiobook db upgrade`);
#   3. makes sure Redis answers when REDIS_URL is local (scripts/services.sh redis);
#   4. starts one worker (`audiobook worker --queues cpu,tts`) and the Reflex app in prod
#      mode (`reflex run --env prod`: pages, websocket, uploads and /health on one port);
#   5. waits until the app answers HTTP and prints its URL;
#   6. on Ctrl-C (SIGINT) or SIGTERM stops both: SIGTERM to each one's process group
#      (the web server's granian workers included), SIGKILL after STOP_GRACE_S.
#
# Settings come from the environment or .env (audiobook_app/settings.py): DATABASE_URL,
# REDIS_URL, AUDIOBOOK_STORAGE_ROOT, AUDIOBOOK_WEB_PORT (default 3000)...
# The worker's and the app's output go to this terminal. Exit status: 130/143 after
# Ctrl-C/SIGTERM, 1 when a step fails or the worker or the app stops on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/web_env.sh

READY_TIMEOUT_S=600   # a first start on a fresh machine installs the frontend's packages
STOP_GRACE_S=15       # a worker finishing its current step; then SIGKILL
POLL_S=0.5

say() { echo "run: $*" >&2; }

scripts/setup.sh requirements.txt
scripts/web_tools.sh

# What this start needs from the one settings object: the web port and where Redis is.
read -r WEB_PORT REDIS_HOST REDIS_PORT < <(.venv/bin/python -c '
from urllib.parse import urlsplit
from audiobook_app.settings import get_settings
s = get_settings(); r = urlsplit(s.redis_url)
print(s.web_port, r.hostname or "127.0.0.1", r.port or 6379)')
URL="http://127.0.0.1:$WEB_PORT"

http_status() {  # http_status PATH: the status code of GET $URL$PATH, empty when nothing answers
  local line
  line="$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$WEB_PORT &&
    printf 'GET $1 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && head -n 1 <&3" 2>/dev/null)" || true
  line="${line#HTTP/* }"
  echo "${line%% *}"
}

if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$WEB_PORT" 2>/dev/null; then
  say "port $WEB_PORT is already in use (another \`make run\`?); stop it or set AUDIOBOOK_WEB_PORT"
  exit 1
fi

.venv/bin/audiobook db upgrade
case "$REDIS_HOST" in
  127.0.0.1|localhost) AUDIOBOOK_REDIS_PORT="$REDIS_PORT" scripts/services.sh redis ;;
  *) say "Redis at $REDIS_HOST:$REDIS_PORT (not started here)" ;;
esac

GROUPS_STARTED=()   # process-group ids (= leader pids) of what we started

start() {  # start NAME COMMAND...: in its own session and process group
  local name="$1"; shift
  setsid "$@" &
  GROUPS_STARTED+=("$!")
  say "started $name (pid $!)"
}

alive() {  # alive: any process of the groups we started still runs
  local pgid
  for pgid in "${GROUPS_STARTED[@]}"; do
    kill -0 -- "-$pgid" 2>/dev/null && return 0
  done
  return 1
}

stop() {  # stop: SIGTERM to every group, SIGKILL to what is left after STOP_GRACE_S
  trap '' INT TERM
  local pgid deadline=$((SECONDS + STOP_GRACE_S))
  say "stopping the worker and the web app"
  for pgid in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  while alive && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  for pgid in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  say "stopped"
}

trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

start worker .venv/bin/audiobook worker --queues cpu,tts
[ -d "${REFLEX_WEB_WORKDIR:-.web}" ] ||
  say "first start: Reflex sets up its web folder; its hint 'Run \`uv run reflex run\`' is not needed (this script runs the app)"
start "web app" .venv/bin/reflex run --env prod
WORKER_PID="${GROUPS_STARTED[0]}"
WEB_PID="${GROUPS_STARTED[1]}"

deadline=$((SECONDS + READY_TIMEOUT_S))
until [ "$(http_status /)" = 200 ]; do
  if ! kill -0 "$WEB_PID" 2>/dev/null || ! kill -0 "$WORKER_PID" 2>/dev/null; then
    say "the worker or the web app exited during start (see its output above)"
    stop; exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "the web app did not answer at $URL within ${READY_TIMEOUT_S}s"
    stop; exit 1
  fi
  sleep "$POLL_S"
done
say "AudiobookPipeline is ready at $URL (health: $URL/health); Ctrl-C stops it"

# Run until Ctrl-C/SIGTERM (the traps) or until the worker or the app stops on its own.
wait -n "$WORKER_PID" "$WEB_PID" || true
say "the worker or the web app stopped on its own"
stop
exit 1
