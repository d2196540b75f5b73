#!/usr/bin/env bash
# From a fresh machine to a running sandbox: installs and starts the engines if missing, builds
# the offline image, then runs the quickstart (every example of the Running Commands page).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/engines.sh up
cargo run --release --example quickstart
