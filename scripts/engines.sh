#!/usr/bin/env bash
# Installs, configures and starts real Podman and Docker engines on this machine kind (Debian 12, root),
# and builds the offline sandbox image into both. Idempotent: whatever already answers is reused.
#
#   scripts/engines.sh up        install + start both engines + build/import the image
#   scripts/engines.sh env       print the exports the test suite reads
#   scripts/engines.sh down      stop the engines this script started
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.cache"
state=/run/pocketdock-engines
docker_sock=/var/run/docker.sock
podman_sock=/run/podman/podman.sock
image=pocketdock/minimal-python:latest
busybox_image=pocketdock/busybox:latest

log() { printf '[engines] %s\n' "$*" >&2; }

answers() { # socket answers GET /_ping
  [ -S "$1" ] && curl -sf --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1
}

wait_for() { # socket, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do answers "$1" && return 0; sleep 0.1; done
  log "no answer on $1 after $2 s"; return 1
}

install_packages() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  [ -x /bin/busybox ] && busybox --list 2>/dev/null | grep -qx sh || need+=(busybox-static)
  command -v catatonit >/dev/null || need+=(catatonit)
  command -v curl >/dev/null || need+=(curl)
  for p in uidmap slirp4netns; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

configure_podman() {
  # crun refuses this VM's hybrid cgroups; podman's default rlimits exceed the hard limits here.
  mkdir -p /etc/containers
  if ! grep -q 'pocketdock' /etc/containers/containers.conf 2>/dev/null; then
    cat >/etc/containers/containers.conf <<'CONF'
# written by pocketdock scripts/engines.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
init_path = "/usr/bin/catatonit"
[engine]
runtime = "runc"
CONF
  fi
}

start_podman() {
  answers "$podman_sock" && return 0
  configure_podman
  mkdir -p "$(dirname "$podman_sock")" "$state"
  rm -f "$podman_sock"
  log "starting podman service on $podman_sock"
  setsid podman system service --time=0 "unix://$podman_sock" >"$state/podman.log" 2>&1 </dev/null &
  echo $! >"$state/podman.pid"
  wait_for "$podman_sock" 30
}

start_docker() {
  answers "$docker_sock" && return 0
  mkdir -p "$state"
  rm -f "$docker_sock"
  log "starting dockerd on $docker_sock"
  setsid dockerd --host "unix://$docker_sock" --pidfile "$state/dockerd.pid" \
    >"$state/docker.log" 2>&1 </dev/null &
  wait_for "$docker_sock" 60
}

build_rootfs() {
  local tar="$cache/images/minimal-python.tar"
  if [ ! -s "$tar" ]; then
    mkdir -p "$cache/images"
    log "building the minimal-python root file system (mmdebstrap, ~30 s)"
    mmdebstrap --quiet --format=tar --variant=minbase --include=python3-minimal,python-is-python3,procps \
      --customize-hook='chroot "$1" useradd -m -s /bin/sh sandbox' \
      bookworm "$tar.partial"
    mv "$tar.partial" "$tar"
  fi
  local bb="$cache/images/busybox.tar"
  if [ ! -s "$bb" ]; then
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/home/sandbox" "$root/etc" "$root/proc" "$root/dev" "$root/sys"
    cp /bin/busybox "$root/bin/busybox"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
    chmod 1777 "$root/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000::/home/sandbox:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nsandbox:x:1000:\n' >"$root/etc/group"
    chown 1000:1000 "$root/home/sandbox"
    tar -C "$root" -cf "$bb.partial" . && mv "$bb.partial" "$bb"
    rm -rf "$root"
  fi
}

import_image() { # socket, tag, tar
  local enc; enc=$(printf '%s' "$2" | sed 's/:/%3A/g; s/\//%2F/g')
  if curl -sf --unix-socket "$1" "http://d/images/$enc/json" >/dev/null 2>&1; then return 0; fi
  log "importing $2 into $1"
  local changes='changes=USER%20sandbox&changes=WORKDIR%20%2Fhome%2Fsandbox&changes=CMD%20%5B%22sleep%22%2C%22infinity%22%5D'
  local repo_=${2%:*} tag=${2##*:}
  curl -sf --unix-socket "$1" -X POST -H 'Content-Type: application/x-tar' --data-binary "@$3" \
    "http://d/images/create?fromSrc=-&repo=$(printf '%s' "$repo_" | sed 's/\//%2F/g')&tag=$tag&$changes" >/dev/null
  curl -sf --unix-socket "$1" "http://d/images/$enc/json" >/dev/null || { log "import of $2 failed"; return 1; }
}

up() {
  install_packages
  build_rootfs &
  local rootfs_job=$!
  start_podman & local p=$!
  start_docker & local d=$!
  wait "$p"; wait "$d"; wait "$rootfs_job"
  for s in "$podman_sock" "$docker_sock"; do
    import_image "$s" "$image" "$cache/images/minimal-python.tar" &
    import_image "$s" "$busybox_image" "$cache/images/busybox.tar" &
  done
  wait
  log "ready: podman $podman_sock, docker $docker_sock"
}

env_() {
  echo "export POCKETDOCK_TEST_PODMAN_SOCKET=$podman_sock"
  echo "export POCKETDOCK_TEST_DOCKER_SOCKET=$docker_sock"
}

down() {
  for f in "$state/podman.pid" "$state/dockerd.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case "${1:-up}" in
  up) up ;;
  env) env_ ;;
  down) down ;;
  *) echo "usage: $0 up|env|down" >&2; exit 2 ;;
esac
