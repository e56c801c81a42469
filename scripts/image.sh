#!/usr/bin/env bash
# make image: builds deploy/Dockerfile with whatever engine the machine has
# (docker, else podman, else buildah). Without a reachable registry, the
# Debian 12 base is made locally first (debootstrap --variant=minbase),
# imported as localhost/debian:bookworm-minbase.
#   IMAGE       tag to build (default protomodel:dev)
#   BASE_IMAGE  base for both stages (default: a registry's debian:bookworm-slim
#               when reachable, else the local one)
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-protomodel:dev}
work=${IMAGE_WORK_DIR:-build-image}
mkdir -p "$work"

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
need() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "image: installing ${missing[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  engine=(docker)
  build=(docker build)
else
  need podman buildah runc debootstrap fuse-overlayfs netavark aardvark-dns iptables slirp4netns
  # No daemon, no overlay mounts in every sandbox: vfs storage and chroot
  # isolation work everywhere.
  engine=(podman --storage-driver vfs)
  build=(podman --storage-driver vfs build --isolation chroot)
fi

if [ -z "${BASE_IMAGE:-}" ]; then
  if "${engine[@]}" pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
    BASE_IMAGE=docker.io/library/debian:bookworm-slim
  else
    BASE_IMAGE=localhost/debian:bookworm-minbase
    if ! "${engine[@]}" image exists "$BASE_IMAGE" 2>/dev/null; then
      echo "image: no registry reachable; making the Debian 12 base with debootstrap" >&2
      mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
      rootfs=$work/rootfs
      rm -rf "$rootfs"
      "${sudo_cmd[@]}" debootstrap --variant=minbase bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log"
      "${sudo_cmd[@]}" tar -C "$rootfs" -c . | "${engine[@]}" import - "$BASE_IMAGE" >/dev/null
      "${sudo_cmd[@]}" rm -rf "$rootfs"
    fi
  fi
fi

echo "image: building $image from $BASE_IMAGE" >&2
"${build[@]}" -f deploy/Dockerfile --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$image" .
# The build stage's layers (about 1 GB with vfs) are not needed afterwards.
"${engine[@]}" image prune -f >/dev/null 2>&1 || true
echo "image: built $image" >&2
