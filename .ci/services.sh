#!/usr/bin/env bash
# Installs the Debian packages the tests (or, with `bench`, the benchmarks) drive. Idempotent and
# quick when they are there. Usage: services.sh [bench]
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ "${1:-}" = "bench" ]; then
  command -v vipsthumbnail >/dev/null 2>&1 || need+=(libvips-tools)  # bench/images.py baseline
fi
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
