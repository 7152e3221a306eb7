#!/usr/bin/env bash
# `make test-images`: builds (or reuses) the container images the integration tests start
# (scripts/lib/images.sh says which, and why stand-ins).
source "$(dirname "${BASH_SOURCE[0]}")/lib/images.sh"
ensure_node
ensure_docker
ensure_test_images
