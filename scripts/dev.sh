#!/usr/bin/env bash
# `make dev`: installs what is missing, builds, and runs the whole pipeline locally in the
# foreground: a Redis of its own (AOF everysec, data in .data/redis) unless REDIS_URL is set, an
# embedded S3-compatible store (s3rver, data in .data/s3) unless S3_ENDPOINT is set, then the
# ingest and the flusher. Ctrl-C stops everything; the next run reuses the data.
#
# Demo defaults, so objects appear within seconds: FLUSH_THRESHOLD_BYTES=1MiB, FLUSH_INTERVAL=10s.
# Override any variable from the environment (see README, Configuration).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DATA="$ROOT/.data"
S3_STANDIN="$ROOT/docker/test-images/s3"
PIDS=()

export FLUSH_THRESHOLD_BYTES=${FLUSH_THRESHOLD_BYTES:-1MiB}
export FLUSH_INTERVAL=${FLUSH_INTERVAL:-10s}
export LOG_LEVEL=${LOG_LEVEL:-info}
# A demo on this machine only: listening on loopback, and open to anyone who can reach it unless
# WRITE_KEYS is set. The ingest refuses to run open unless told so, and make dev tells it.
export HOST=${HOST:-127.0.0.1}
if [ -z "${WRITE_KEYS:-}" ]; then
  export ALLOW_ANONYMOUS_WRITES=${ALLOW_ANONYMOUS_WRITES:-true}
  ACCESS="open to anyone who reaches $HOST (ALLOW_ANONYMOUS_WRITES=true; set WRITE_KEYS to require keys)"
else
  ACCESS="write keys required (WRITE_KEYS)"
fi

wait_for() { # wait_for WHAT COMMAND...: up to 10 s
  local what=$1
  shift
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$what did not come up"
}

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
  wait_for "redis" redis-cli -p "$port" ping
  log "redis on $REDIS_URL (AOF everysec, data in .data/redis)"
}

start_s3() {
  export S3_BUCKET=${S3_BUCKET:-spool}
  if [ -n "${S3_ENDPOINT:-}" ]; then
    log "using S3_ENDPOINT=$S3_ENDPOINT, bucket $S3_BUCKET"
    return
  fi
  local port=${SPOOL_DEV_S3_PORT:-9000}
  ensure_s3_standin
  mkdir -p "$DATA/s3"
  MINIO_ROOT_USER=spool MINIO_ROOT_PASSWORD=spool-local-secret S3_ADDRESS=127.0.0.1 S3_PORT=$port \
    S3_BUCKETS=$S3_BUCKET node "$S3_STANDIN/serve.mjs" server "$DATA/s3" &
  PIDS+=($!)
  export S3_ENDPOINT="http://127.0.0.1:$port" S3_FORCE_PATH_STYLE=true S3_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=spool AWS_SECRET_ACCESS_KEY=spool-local-secret
  wait_for "the embedded S3 store" curl -s -o /dev/null "$S3_ENDPOINT/"
  log "S3-compatible store (s3rver) on $S3_ENDPOINT, bucket $S3_BUCKET, objects in .data/s3/$S3_BUCKET/"
}

start_app() {
  local app=$1 port=$2
  PORT=$port node "apps/$app/dist/main.js" &
  PIDS+=($!)
  wait_for "$app" curl -sf "http://127.0.0.1:$port/healthz"
}

stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  log "stopped; data kept in .data/ for the next run"
}

ensure_toolchain
phase "build (tsc -b)" pnpm -s build
trap stop_all INT TERM EXIT
phase "redis" start_redis
phase "s3" start_s3
INGEST_PORT=${SPOOL_DEV_INGEST_PORT:-8080}
FLUSHER_PORT=${SPOOL_DEV_FLUSHER_PORT:-9091}
start_apps() {
  start_app ingest "$INGEST_PORT"
  start_app flusher "$FLUSHER_PORT"
}
phase "ingest + flusher" start_apps

cat <<EOT

  Spool is running (demo settings: FLUSH_THRESHOLD_BYTES=$FLUSH_THRESHOLD_BYTES, FLUSH_INTERVAL=$FLUSH_INTERVAL).
  Access: $ACCESS.

  Send an event:
    curl -X POST http://127.0.0.1:$INGEST_PORT/v1/streams/web/events \\
      -H 'Content-Type: application/json' -d '{"event":"signup","plan":"pro"}'

  It lands within about $FLUSH_INTERVAL in .data/s3/$S3_BUCKET/stream=web/dt=<day>/hour=<hour>/
    (s3rver keeps each object's bytes as <key>._S3rver_object: zcat it to read the events)

  Ingest metrics: http://127.0.0.1:$INGEST_PORT/metrics   Flusher metrics: http://127.0.0.1:$FLUSHER_PORT/metrics
  Ctrl-C stops everything; the next 'make dev' reuses .data/.

EOT
wait -n || true
