#!/usr/bin/env bash
# Installs, configures and starts real Podman and Docker engines on this machine kind (Debian 12, root),
# and builds the offline sandbox image into both. Idempotent: whatever already answers is reused.
#
#   scripts/engines.sh up        install + start both engines + build/import the image
#   scripts/engines.sh env       print the exports the test suite reads
#   scripts/engines.sh down      stop the engines this script started
#   scripts/engines.sh rootless-up   a normal user with rootless Podman and the images
#   scripts/engines.sh newer-up  Podman 5.4 and Docker 26.1 (Debian 13 roots, each engine in a
#                                private mount and network namespace) and the images
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

# crun refuses this VM's hybrid cgroups; podman's default rlimits exceed the hard limits here.
# nproc ($1) counts every process and thread of one host uid: rootful, all sandboxes' processes
# of one user together (their pids cgroups are the real guard), so it is generous; rootless on
# cgroup v1 no pids limit can be set, and it is the only guard against a fork bomb taking the
# host's last PIDs, so it is tight there (the user's service, conmons, agents and shims fit).
podman_conf() {
  cat <<CONF
# written by pocketdock scripts/engines.sh (v3)
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=$1:$1"]
init_path = "/usr/bin/catatonit"
[engine]
runtime = "runc"
CONF
}

configure_podman() {
  mkdir -p /etc/containers
  if ! grep -q 'pocketdock scripts/engines.sh (v3)' /etc/containers/containers.conf 2>/dev/null; then
    # Podman caps its own limit at pid_max; a container's cannot exceed it.
    local pid_max; pid_max=$(cat /proc/sys/kernel/pid_max)
    podman_conf $((pid_max < 65536 ? pid_max : 65536)) >/etc/containers/containers.conf
    # A service started under the old settings keeps them: start it again.
    if answers "$podman_sock"; then
      [ -f "$state/podman.pid" ] && kill "$(cat "$state/podman.pid")" 2>/dev/null || true
      pkill -f "podman system service --time=0 unix://$podman_sock" 2>/dev/null || true
      for _ in $(seq 50); do answers "$podman_sock" || break; sleep 0.1; done
    fi
  fi
}

start_podman() {
  configure_podman
  # A service whose directory went away (started from a removed checkout) cannot start
  # containers: start it again.
  local pid
  for pid in $(pgrep -f "podman system service --time=0 unix://$podman_sock" || true); do
    case "$(readlink "/proc/$pid/cwd")" in
      *" (deleted)")
        log "restarting podman: its directory is gone"
        kill "$pid"
        for _ in $(seq 50); do answers "$podman_sock" || break; sleep 0.1; done ;;
    esac
  done
  answers "$podman_sock" && return 0
  mkdir -p "$(dirname "$podman_sock")" "$state"
  rm -f "$podman_sock"
  log "starting podman service on $podman_sock"
  # From /: the service's directory is inherited by every conmon, and a checkout that goes
  # away (a CI clone removed) would make every container start fail.
  (cd / && exec setsid podman system service --time=0 "unix://$podman_sock" >"$state/podman.log" 2>&1 </dev/null) &
  echo $! >"$state/podman.pid"
  wait_for "$podman_sock" 30
}

start_docker() {
  answers "$docker_sock" && return 0
  mkdir -p "$state"
  rm -f "$docker_sock"
  log "starting dockerd on $docker_sock"
  (cd / && exec setsid dockerd --host "unix://$docker_sock" --pidfile "$state/dockerd.pid" \
    >"$state/docker.log" 2>&1 </dev/null) &
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
  # An earlier build's tar had a 0700 root directory: build it again.
  if [ -s "$bb" ] && tar -tvf "$bb" ./ 2>/dev/null | grep -q '^drwx------'; then rm -f "$bb"; fi
  if [ ! -s "$bb" ]; then
    local root; root=$(mktemp -d)
    chmod 755 "$root" # mktemp's 0700 would become the image's /, which rootless engines enforce
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
  # A service that has just started can refuse an import (a busy store): try again.
  local attempt out
  for attempt in 1 2 3 4 5; do
    out=$(curl -s -w '\n%{http_code}' --unix-socket "$1" -X POST -H 'Content-Type: application/x-tar' \
      --data-binary "@$3" \
      "http://d/images/create?fromSrc=-&repo=$(printf '%s' "$repo_" | sed 's/\//%2F/g')&tag=$tag&$changes" 2>&1) || true
    if curl -sf --unix-socket "$1" "http://d/images/$enc/json" >/dev/null 2>&1; then return 0; fi
    log "import of $2 into $1 failed (attempt $attempt): $(printf '%s' "$out" | tail -c 300 | tr '\n' ' ')"
    sleep "$attempt"
  done
  return 1
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

# Rootless Podman as a normal user, the usual setup on a developer's machine: the user's own
# storage, images and API service (container root is the user; other uids are subordinate).
rootless_user=pocketdock-tester
rootless_run=/tmp/$rootless_user-run
rootless_sock=$rootless_run/podman/podman.sock

as_user() { su - "$rootless_user" -c "export XDG_RUNTIME_DIR=$rootless_run; $*"; }

rootless_up() {
  id "$rootless_user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$rootless_user"
  for f in /etc/subuid /etc/subgid; do
    grep -q "^$rootless_user:" "$f" 2>/dev/null || echo "$rootless_user:200000:65536" >>"$f"
  done
  chmod 666 /dev/net/tun # root-only here: slirp4netns, run by the user, needs it
  install -d -m 700 -o "$rootless_user" "$rootless_run" "$rootless_run/podman"
  local home; home=$(getent passwd "$rootless_user" | cut -d: -f6)
  install -d -o "$rootless_user" "$home/.config" "$home/.config/containers"
  podman_conf 4096 >"$home/.config/containers/containers.conf"
  chown "$rootless_user" "$home/.config/containers/containers.conf"
  if ! answers "$rootless_sock"; then
    log "starting $rootless_user's rootless podman service on $rootless_sock"
    as_user "setsid podman system service --time=0 unix://$rootless_sock >$rootless_run/podman.log 2>&1 </dev/null &"
    wait_for "$rootless_sock" 30
  fi
  for pair in "$image:minimal-python" "$busybox_image:busybox"; do
    local tag=${pair%:*} tar=$cache/images/${pair##*:}.tar
    import_image "$rootless_sock" "$tag" "$tar"
  done
  log "ready: $rootless_user's rootless podman on $rootless_sock"
}

# Newer engines beside the host's: Debian 13's Podman 5.4 and Docker 26.1, each with a trixie root
# made the root of a private mount namespace by pivot_root (a chroot is not enough: runc exec
# would join the host's root) and a network namespace of its own (so its bridge and iptables
# leave the host's engines alone). /tmp is shared, so host paths under /tmp (volumes, the
# agents' socket directories) mean the same to them; each socket appears in a host directory.
newer_state=/run/pocketdock-newer
podman5_sock=$newer_state/podman5/podman.sock
docker26_sock=$newer_state/docker26/docker.sock

build_root() { # name, packages
  local root=$cache/roots/$1
  [ -f "$root/.complete" ] && return 0
  rm -rf "$root"; mkdir -p "$cache/roots"
  log "building the Debian 13 root of $1 (mmdebstrap, ~1 min)"
  mmdebstrap --quiet --variant=minbase --include="$2" trixie "$root"
  touch "$root/.complete"
}

# Runs "$@" as the engine of root $1, serving in host directory $2 (mounted at /run/pdsock).
start_in_root() {
  local name=$1 sockdir=$2; shift 2
  local root=$cache/roots/$name
  mkdir -p "$sockdir" "$root/run/pdsock" "$newer_state"
  setsid unshare -m -n --propagation private bash -c '
    set -e
    root=$1 sockdir=$2; shift 2
    ip link set lo up
    mount --make-rprivate /
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount --bind "$sockdir" "$root/run/pdsock"
    mount --bind /tmp "$root/tmp"
    cd "$root"; mkdir -p oldroot; pivot_root . oldroot; umount -l /oldroot
    # An anchor in these namespaces for whoever joins them (nsenter): not the engine, whose
    # main thread may sit in a container'"'"'s mount namespace at any moment (Podman 5'"'"'s copier).
    sleep infinity & echo $! >/run/pdsock/anchor.pid
    exec "$@"' _ "$root" "$sockdir" "$@" >"$newer_state/$name.log" 2>&1 </dev/null &
  echo $! >"$newer_state/$name.pid"
  echo "$root" >"$newer_state/$name.root"
}

anchor_of() { # name: the pid of the anchor process in that engine's namespaces
  local sock
  case $1 in podman5) sock=$podman5_sock ;; *) sock=$docker26_sock ;; esac
  cat "$(dirname "$sock")/anchor.pid" 2>/dev/null || true
}

stop_newer() { # name
  local f=$newer_state/$1.pid sock pid
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] && kill -- "-$pid" 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  # Gone, not just silent: a dockerd started before the last one has exited refuses its pid file.
  for _ in $(seq 200); do [ -n "$pid" ] && [ -e "/proc/$pid" ] || break; sleep 0.1; done
  local anchor; anchor=$(anchor_of "$1")
  [ -n "$anchor" ] && kill "$anchor" 2>/dev/null || true
  rm -f "$f" "$newer_state/$1.root"
  case $1 in podman5) sock=$podman5_sock ;; *) sock=$docker26_sock ;; esac
  rm -f "$(dirname "$sock")/anchor.pid"
  for _ in $(seq 100); do answers "$sock" || break; sleep 0.1; done
  rm -f "$sock"
}

newer_up() {
  install_packages
  build_rootfs &
  local rootfs_job=$!
  build_root podman5 podman,runc,conmon,netavark,aardvark-dns,catatonit,iptables,ca-certificates &
  local p=$!
  build_root docker26 docker.io,containerd,runc,iptables,ca-certificates,tini &
  local d=$!
  wait "$p"; wait "$d"; wait "$rootfs_job"
  local conf=$cache/roots/podman5/etc/containers/containers.conf
  if ! grep -q 'pocketdock scripts/engines.sh (v3)' "$conf" 2>/dev/null; then
    mkdir -p "$(dirname "$conf")"
    local pid_max; pid_max=$(cat /proc/sys/kernel/pid_max)
    { podman_conf $((pid_max < 65536 ? pid_max : 65536)); printf '[network]\nfirewall_driver = "iptables"\n'; } >"$conf"
  fi
  # An engine started from another checkout's root (which may be gone, storage and all) is
  # not reused: this checkout's root serves. The same path is not enough: a checkout removed
  # and cloned again has a new root there, so the engine's own root must be that directory.
  local name pid
  for name in podman5 docker26; do
    pid=$(cat "$newer_state/$name.pid" 2>/dev/null || true)
    if [ "$(cat "$newer_state/$name.root" 2>/dev/null)" != "$cache/roots/$name" ] \
      || { [ -n "$pid" ] && [ -e "/proc/$pid" ] \
        && [ "$(stat -Lc %d:%i "/proc/$(anchor_of "$name")/root" 2>/dev/null)" != "$(stat -c %d:%i "$cache/roots/$name" 2>/dev/null)" ]; }; then
      stop_newer "$name"
    fi
  done
  if ! answers "$podman5_sock"; then
    log "starting podman 5.4 on $podman5_sock"
    rm -f "$podman5_sock"
    PODMAN_IGNORE_CGROUPSV1_WARNING=1 start_in_root podman5 "$(dirname "$podman5_sock")" \
      podman system service --time=0 unix:///run/pdsock/podman.sock
  fi
  if ! answers "$docker26_sock"; then
    log "starting docker 26.1 on $docker26_sock"
    rm -f "$docker26_sock"
    start_in_root docker26 "$(dirname "$docker26_sock")" \
      dockerd --host unix:///run/pdsock/docker.sock --exec-root /run/d26 \
      --data-root /var/lib/d26 --pidfile /run/d26.pid
  fi
  wait_for "$podman5_sock" 60 & p=$!
  wait_for "$docker26_sock" 60 & d=$!
  wait "$p"; wait "$d"
  # Wait for these jobs only: the engines are children of this shell too.
  local jobs=()
  for s in "$podman5_sock" "$docker26_sock"; do
    import_image "$s" "$image" "$cache/images/minimal-python.tar" & jobs+=($!)
    import_image "$s" "$busybox_image" "$cache/images/busybox.tar" & jobs+=($!)
  done
  for j in "${jobs[@]}"; do wait "$j"; done
  log "ready: podman 5.4 $podman5_sock, docker 26.1 $docker26_sock"
}

newer_down() {
  stop_newer podman5
  stop_newer docker26
}

env_() {
  echo "export POCKETDOCK_TEST_PODMAN_SOCKET=$podman_sock"
  echo "export POCKETDOCK_TEST_DOCKER_SOCKET=$docker_sock"
}

newer_env() {
  echo "export POCKETDOCK_TEST_PODMAN_SOCKET=$podman5_sock"
  echo "export POCKETDOCK_TEST_DOCKER_SOCKET=$docker26_sock"
  # Their published ports answer in their own network namespaces.
  echo "export POCKETDOCK_TEST_PODMAN_NETNS=/proc/$(anchor_of podman5)/ns/net"
  echo "export POCKETDOCK_TEST_DOCKER_NETNS=/proc/$(anchor_of docker26)/ns/net"
}

down() {
  for f in "$state/podman.pid" "$state/dockerd.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case "${1:-up}" in
  up) up ;;
  rootless-up) rootless_up ;;
  rootless-user) echo "$rootless_user" ;;
  rootless-socket) echo "$rootless_sock" ;;
  env) env_ ;;
  down) down ;;
  newer-up) newer_up ;;
  newer-env) newer_env ;;
  newer-down) newer_down ;;
  *) echo "usage: $0 up|env|down|rootless-up|newer-up|newer-env|newer-down" >&2; exit 2 ;;
esac
