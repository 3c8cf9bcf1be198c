#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 (ports 5432 and 6379), starting
# them if they do not. `scripts/services.sh redis` (or `postgresql`) sees to one only. Idempotent: a server that already answers is reported and left
# alone (never stopped, never reconfigured). Prints one line per service, e.g.
#   redis: running at 127.0.0.1:6379
#   postgresql: started at 127.0.0.1:5432 (data /tmp/audiobook-pg, log /tmp/audiobook-pg.log)
# Exit status 0 when they answer, 1 otherwise (the reason is printed).
#
# Starting: binaries missing and we are root with apt-get -> apt-get install them.
# Redis runs without persistence (--save '' --appendonly no). PostgreSQL gets its own
# throwaway cluster (initdb once, as user postgres, trust auth) in $AUDIOBOOK_PGDATA
# and a `test` database. For trying the script on other ports without touching the
# usual servers: AUDIOBOOK_PG_PORT, AUDIOBOOK_REDIS_PORT, AUDIOBOOK_PGDATA.
set -uo pipefail

HOST=127.0.0.1
PG_PORT="${AUDIOBOOK_PG_PORT:-5432}"
REDIS_PORT="${AUDIOBOOK_REDIS_PORT:-6379}"
PGDATA_DIR="${AUDIOBOOK_PGDATA:-/tmp/audiobook-pg}"
PG_LOG="${PGDATA_DIR%/}.log"
REDIS_LOG="/tmp/audiobook-redis-${REDIS_PORT}.log"
WAIT_S=30

APT_WHO=services
# shellcheck source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"  # is_root, can_apt, apt_install

tcp_open() {  # tcp_open PORT: something accepts TCP connections on $HOST:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# --- Redis -----------------------------------------------------------------------------

redis_ok() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(timeout 3 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$REDIS_PORT && printf 'PING\r\n' >&3 && read -r line <&3 && [[ \$line == +PONG* ]]" 2>/dev/null
  fi
}

ensure_redis() {
  if redis_ok; then
    echo "redis: running at $HOST:$REDIS_PORT"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if can_apt; then
      apt_install redis-server || { echo "redis: apt-get install redis-server failed"; return 1; }
      if redis_ok; then  # the package's own service may have started on our port
        echo "redis: running at $HOST:$REDIS_PORT (installed redis-server)"
        return 0
      fi
    else
      echo "redis: nothing answers at $HOST:$REDIS_PORT and redis-server is not installed (apt-get install redis-server, as root)"
      return 1
    fi
  fi
  if tcp_open "$REDIS_PORT"; then
    echo "redis: port $HOST:$REDIS_PORT is taken by something that does not answer PING; not starting another"
    return 1
  fi
  redis-server --daemonize yes --port "$REDIS_PORT" --bind "$HOST" --save '' --appendonly no \
    --logfile "$REDIS_LOG" >/dev/null || { echo "redis: redis-server failed to start (log $REDIS_LOG)"; return 1; }
  for _ in $(seq $((WAIT_S * 10))); do
    if redis_ok; then
      echo "redis: started at $HOST:$REDIS_PORT (no persistence, log $REDIS_LOG)"
      return 0
    fi
    sleep 0.1
  done
  echo "redis: started but not answering at $HOST:$REDIS_PORT after ${WAIT_S}s (log $REDIS_LOG)"
  return 1
}

# --- PostgreSQL ------------------------------------------------------------------------

PG_BIN=""

find_pg_bin() {  # newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl
  local dir
  PG_BIN=""
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && PG_BIN="$dir"
  done
  if [ -z "$PG_BIN" ] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    PG_BIN="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  fi
  [ -n "$PG_BIN" ]
}

pg_status() {  # 0 accepting, 1 starting up (rejecting), 2 no answer
  local isready
  isready="$(command -v pg_isready 2>/dev/null || true)"
  [ -z "$isready" ] && [ -n "$PG_BIN" ] && [ -x "$PG_BIN/pg_isready" ] && isready="$PG_BIN/pg_isready"
  if [ -n "$isready" ]; then
    "$isready" -q -h "$HOST" -p "$PG_PORT" -t 3
    local rc=$?
    [ "$rc" -le 1 ] && return "$rc"
    return 2
  fi
  tcp_open "$PG_PORT" && return 0
  return 2
}

pg_wait() {  # pg_wait: until the server accepts connections (WAIT_S at most)
  for _ in $(seq $((WAIT_S * 5))); do
    pg_status && return 0
    sleep 0.2
  done
  return 1
}

as_postgres() {  # run a command as the postgres OS user when we are root
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

ensure_postgres() {
  pg_status
  case $? in
    0) echo "postgresql: running at $HOST:$PG_PORT"; return 0 ;;
    1) if pg_wait; then echo "postgresql: running at $HOST:$PG_PORT (was starting up)"; return 0; fi ;;
  esac
  if ! find_pg_bin; then
    if can_apt; then
      apt_install postgresql || { echo "postgresql: apt-get install postgresql failed"; return 1; }
      if pg_status; then  # Debian's package starts its own cluster on 5432 where it can
        echo "postgresql: running at $HOST:$PG_PORT (installed postgresql)"
        return 0
      fi
      find_pg_bin || { echo "postgresql: installed, but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"; return 1; }
    else
      echo "postgresql: nothing answers at $HOST:$PG_PORT and the server is not installed (apt-get install postgresql, as root)"
      return 1
    fi
  fi
  if tcp_open "$PG_PORT"; then
    echo "postgresql: port $HOST:$PG_PORT is taken by something that is not a ready PostgreSQL; not starting another"
    return 1
  fi
  if is_root && ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres \
      || { echo "postgresql: could not create the postgres user"; return 1; }
  fi
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    mkdir -p "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR" || { echo "postgresql: cannot create $PGDATA_DIR"; return 1; }
    is_root && chown postgres: "$PGDATA_DIR"
    if ! as_postgres "$PG_BIN/initdb" -D "$PGDATA_DIR" --username=postgres --auth=trust -E UTF8 --locale=C \
        >"$PG_LOG.initdb" 2>&1; then
      echo "postgresql: initdb $PGDATA_DIR failed (see $PG_LOG.initdb)"
      return 1
    fi
  fi
  touch "$PG_LOG" && { is_root && chown postgres: "$PG_LOG" || true; }
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -o "-p $PG_PORT -k /tmp -h $HOST" -l "$PG_LOG" -w -t "$WAIT_S" start \
      >/dev/null 2>&1; then
    echo "postgresql: pg_ctl start failed (log $PG_LOG: $(tail -n 1 "$PG_LOG" 2>/dev/null))"
    return 1
  fi
  if ! pg_wait; then
    echo "postgresql: started but not ready at $HOST:$PG_PORT after ${WAIT_S}s (log $PG_LOG)"
    return 1
  fi
  local exists
  exists="$("$PG_BIN/psql" -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null)"
  if [ "$exists" != 1 ] && ! "$PG_BIN/createdb" -h "$HOST" -p "$PG_PORT" -U postgres test 2>/dev/null; then
    echo "postgresql: started at $HOST:$PG_PORT but could not create database test"
    return 1
  fi
  echo "postgresql: started at $HOST:$PG_PORT (data $PGDATA_DIR, log $PG_LOG, stop: pg_ctl -D $PGDATA_DIR stop)"
}

status=0
case "${1:-all}" in
  all) ensure_postgres || status=1; ensure_redis || status=1 ;;
  postgresql) ensure_postgres || status=1 ;;
  redis) ensure_redis || status=1 ;;
  *) echo "usage: scripts/services.sh [all|postgresql|redis]" >&2; status=2 ;;
esac
exit "$status"
