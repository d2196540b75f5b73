#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: starts both engines (installing them if
# missing), checks formatting and lints, runs unit, engine and CLI tests against Podman AND
# Docker with every transport (the in-sandbox agent over its socket, the agent through its
# engine-exec bridge, and the engine's exec) — on Debian 12's Podman 4.3 + Docker 20.10 and on
# Debian 13's Podman 5.4 + Docker 26.1 — and as a normal user against rootless Podman, runs the
# quickstart demo on each, and fails if any pocketdock container is left over.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/engines.sh up
scripts/engines.sh rootless-up
scripts/engines.sh newer-up
newer_env=$(scripts/engines.sh newer-env)
newer_sockets=($(printf '%s\n' "$newer_env" | sed -n 's/^export POCKETDOCK_TEST_[A-Z]*_SOCKET=//p'))
eval "$(scripts/engines.sh env)"
export POCKETDOCK_TEST_ENGINES=podman,docker
rootless_user=$(scripts/engines.sh rootless-user)
rootless_sock=$(scripts/engines.sh rootless-socket)
all_sockets=("$POCKETDOCK_TEST_PODMAN_SOCKET" "$POCKETDOCK_TEST_DOCKER_SOCKET" "$rootless_sock" "${newer_sockets[@]}")

step() { printf '\n== [%s] %s\n' "$(date +%T)" "$*"; }

# Test containers of an earlier run that was killed mid-way would fail this run's leak checks.
step "removing leftovers of earlier test runs"
test_filter='%7B%22label%22%3A%5B%22pocketdock.test%3D1%22%5D%7D'
for sock in "${all_sockets[@]}"; do
  ids=$(curl -sf --unix-socket "$sock" "http://d/containers/json?all=1&filters=$test_filter" | python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))')
  for id in $ids; do curl -sf -X DELETE --unix-socket "$sock" "http://d/containers/$id?force=1" >/dev/null || true; done
  echo "$sock: $(echo $ids | wc -w) removed"
done

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build: every test binary, the binaries and the examples, once"
# Later passes run these binaries directly: `cargo test -p …` would build the crates again with
# another set of unified features.
test_bins=$(cargo test --workspace --locked --no-run --message-format=json \
  | python3 -c 'import json,os,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], os.path.dirname(m["manifest_path"]), m["executable"])')
cargo build --workspace --bins --examples --locked
read -r engines_dir engines_bin <<<"$(printf '%s\n' "$test_bins" | awk '$1 == "engines" { print $2, $3 }')"
# Every integration test of one crate, each run from the crate's directory as cargo would.
run_tests_of() {
  local name dir bin
  while read -r name dir bin; do
    [ "$(basename "$dir")" = "$1" ] || continue
    (cd "$dir" && "$bin") || return 1
  done <<<"$test_bins"
}

step "tests (unit, engines, CLI) against podman and docker, commands through the agent"
cargo test --workspace --locked

step "engine and CLI tests again, commands through the engine's exec (POCKETDOCK_TRANSPORT=exec)"
(cd "$engines_dir" && POCKETDOCK_TRANSPORT=exec "$engines_bin")
POCKETDOCK_TRANSPORT=exec run_tests_of pocketdock-cli

step "engine tests again, commands through the agent's engine-exec bridge (POCKETDOCK_TRANSPORT=bridge)"
(cd "$engines_dir" && POCKETDOCK_TRANSPORT=bridge "$engines_bin")

step "soak, the short version: killed commands, sandbox churn with panics and cancellations, load"
target/debug/soak --short \
  --socket "$POCKETDOCK_TEST_PODMAN_SOCKET" --socket "$POCKETDOCK_TEST_DOCKER_SOCKET"

step "engine tests as a normal user against that user's rootless Podman (the agent)"
# The test binary cargo built, run as the user: their own service, storage and images.
su - "$rootless_user" -c "export XDG_RUNTIME_DIR=$(dirname "$(dirname "$rootless_sock")") \
  POCKETDOCK_TEST_ENGINES=podman POCKETDOCK_TEST_PODMAN_SOCKET=$rootless_sock POCKETDOCK_TEST_ROOTLESS=1
  cd /tmp && exec $engines_bin"

# The newer engines run in their own namespaces and share nothing with the others, but not
# beside them: Podman 5.4's exec attach, with the other engines' suites running at the same
# time, lost the ends of exec streams (the commands ran; their ends never came).
step "engine tests on Podman 5.4 + Docker 26.1 (Debian 13), every transport"
newer_run=$(mktemp -d /tmp/pocketdock-newer-run.XXXXXX) # agents' socket directories: under /tmp,
# the only host directory those engines see as it is
(
  eval "$newer_env"
  export XDG_RUNTIME_DIR=$newer_run
  cd "$engines_dir"
  for transport in agent exec bridge; do
    echo "== [$(date +%T)] Podman 5.4 + Docker 26.1, transport: $transport"
    POCKETDOCK_TRANSPORT=$transport "$engines_bin"
  done
)

step "quickstart demo on each engine"
for sock in "$POCKETDOCK_TEST_PODMAN_SOCKET" "$POCKETDOCK_TEST_DOCKER_SOCKET"; do
  POCKETDOCK_SOCKET=$sock target/debug/examples/quickstart >/tmp/pocketdock-quickstart.log 2>&1 \
    || { cat /tmp/pocketdock-quickstart.log; echo "quickstart failed on $sock"; exit 1; }
  grep -q 'stdout="hello\\n"' /tmp/pocketdock-quickstart.log || { cat /tmp/pocketdock-quickstart.log; exit 1; }
  echo "quickstart ok on $sock"
done

step "python package (pip install ., pytest) against podman and docker"
# A debug build of the extension around the CLI built above: the same sources as a release
# install, in a fraction of the time.
MATURIN_PEP517_ARGS="--profile dev" POCKETDOCK_BUNDLE_CLI="$PWD/target/debug/pocketdock" scripts/test-python.sh

step "no pocketdock containers left behind"
leaks=0
filter='%7B%22label%22%3A%5B%22pocketdock.managed%3Dtrue%22%5D%7D'
for sock in "${all_sockets[@]}"; do
  # grep finds nothing in the good case: that must not end the script (pipefail).
  left=$(curl -sf --unix-socket "$sock" "http://d/containers/json?all=1&filters=$filter" | { grep -o '"Id"' || true; } | wc -l)
  echo "$sock: $left left"
  [ "$left" -eq 0 ] || leaks=1
done
[ "$leaks" -eq 0 ] || { echo "containers leaked"; exit 1; }
echo "all checks passed"
