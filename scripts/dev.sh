#!/usr/bin/env bash
# `make dev`: installs what is missing, builds, and runs the pipeline locally in the foreground:
# a Redis of its own (AOF on, data in .data/redis) unless REDIS_URL points elsewhere, then the
# ingest and flusher processes. Ctrl-C stops everything.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DATA="$ROOT/.data"
PIDS=()

start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    log "using REDIS_URL=$REDIS_URL"
    return
  fi
  ensure_redis_server
  local port=${SPOOL_DEV_REDIS_PORT:-6390}
  mkdir -p "$DATA/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$DATA/redis" --appendonly yes \
    --appendfsync everysec --maxmemory-policy noeviction --save '' --daemonize no \
    --logfile "$DATA/redis/redis.log" &
  PIDS+=($!)
  export REDIS_URL="redis://127.0.0.1:$port"
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  log "redis on $REDIS_URL (data: .data/redis, AOF everysec)"
}

start_app() {
  local app=$1
  node "apps/$app/dist/main.js" &
  PIDS+=($!)
}

stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

ensure_toolchain
phase "build (tsc -b)" pnpm -s build
phase "redis" start_redis
trap stop_all INT TERM EXIT
start_app ingest
start_app flusher
log "running; Ctrl-C stops everything"
wait -n || true
