#!/usr/bin/env bash
# `make images`: builds the production images spool/ingest and spool/flusher (docker/*.Dockerfile;
# scripts/lib/images.sh says which base, and how a proxy's CA reaches the build stages only).
#   IMAGE_TAG=dev   tag of the built images
source "$(dirname "${BASH_SOURCE[0]}")/lib/images.sh"
cd "$ROOT"
ensure_node
ensure_docker
phase "images" build_images
