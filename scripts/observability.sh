#!/usr/bin/env bash
# `make observability`: the docker-compose stack (docker/compose.yml) with its observability
# profile: Spool's images, Redis, the S3-compatible store, Prometheus with Spool's alert rules,
# and Grafana with Spool's dashboard (where its image can be had; see ensure_observability_images).
# `docker-compose -f docker/compose.yml --profile observability down` stops it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/images.sh"
cd "$ROOT"
ensure_node
ensure_docker
ensure_compose
phase "images" build_images
phase "observability images" ensure_observability_images
pick_image redis SPOOL_REDIS_IMAGE build_redis_standin spool-local/redis:7-debian-2
s3_hash=$(cat "$ROOT"/docker/test-images/s3/{*.mjs,package.json,package-lock.json} "$(command -v node)" | sha256sum | cut -c1-12)
pick_image s3 SPOOL_S3_IMAGE build_s3_standin "spool-local/s3rver:$s3_hash"
services=(redis s3 create-bucket ingest flusher prometheus)
[ -n "${SPOOL_GRAFANA_IMAGE:-}" ] && services+=(grafana)
# Open (on loopback) unless write keys are given: the ingest refuses both at once.
if [ -z "${WRITE_KEYS:-}" ]; then export ALLOW_ANONYMOUS_WRITES=${ALLOW_ANONYMOUS_WRITES:-true}; fi
docker-compose -f docker/compose.yml --profile observability up -d "${services[@]}"
log "Prometheus: http://127.0.0.1:${SPOOL_PROMETHEUS_PORT:-9090} (alerts: /alerts)"
[ -n "${SPOOL_GRAFANA_IMAGE:-}" ] && log "Grafana: http://127.0.0.1:3000 (the Spool dashboard is its home)"
log "stop it: docker-compose -f docker/compose.yml --profile observability down"
