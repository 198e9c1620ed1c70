#!/usr/bin/env bash
# Build a PostgreSQL image from Debian packages only, for engines that cannot reach Docker Hub.
#
#   scripts/postgres-image.sh [TAG]        # default TAG: local/postgres-debian:15
#   export HARNESS_PG_IMAGE=local/postgres-debian:15
#
# Steps: debootstrap --variant=minbase bookworm (from the mirror this machine's apt uses),
# `docker import` of that root file system, then `docker build --network host` of
# docker/postgres-debian/ (apt-get install postgresql-15 and an entry point that follows the
# postgres:* images' contract: POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, PGPORT, initdb on
# first start). Nothing is pulled from a registry.
#
# Cached: when TAG already exists in the engine the script returns at once (FORCE=1 rebuilds).
# Needs root (debootstrap), debootstrap, and a Docker engine at DOCKER_HOST.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${1:-local/postgres-debian:15}"
SUITE="${HARNESS_PG_IMAGE_SUITE:-bookworm}"
BASE_TAG="local/debian-minbase:${SUITE}"
log() { printf '[postgres-image] %s\n' "$*"; }

if [ "${FORCE:-0}" != "1" ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG is already built (FORCE=1 rebuilds)"
  exit 0
fi

# The Debian mirror apt uses here: deb822 files (URIs:) first, then one-line .list entries.
mirror() {
  local file uri
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # the first stanza that serves the suite itself (not -security/-updates) from a "debian" archive
    uri="$(awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (u != "" && s) { print u; exit } u = ""; s = 0; next }
      /^URIs:/ { u = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) s = 1 }
      END { if (u != "" && s) print u }' "$file" | head -1)"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    uri="$(awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == suite) { print $i; exit } }' "$file")"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}

if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
  MIRROR="${HARNESS_PG_IMAGE_MIRROR:-$(mirror)}"
  ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/postgres-image-rootfs.XXXXXX")"
  trap 'rm -rf "$ROOTFS"' EXIT
  log "debootstrap --variant=minbase $SUITE from $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 \
    || { tail -20 "$ROOTFS.log"; log "debootstrap failed (full log: $ROOTFS.log)"; exit 1; }
  rm -f "$ROOTFS.log"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  log "docker import -> $BASE_TAG"
  tar -C "$ROOTFS" -c . | docker import - "$BASE_TAG" >/dev/null
  rm -rf "$ROOTFS"
  trap - EXIT
fi

log "docker build -> $TAG"
BUILD_LOG="$(mktemp "${TMPDIR:-/tmp}/postgres-image-build.XXXXXX")"
docker build --network host --build-arg BASE="$BASE_TAG" -t "$TAG" docker/postgres-debian >"$BUILD_LOG" 2>&1 \
  || { tail -20 "$BUILD_LOG"; log "docker build failed (full log: $BUILD_LOG)"; exit 1; }
rm -f "$BUILD_LOG"
log "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1 / 1e6}'))"
