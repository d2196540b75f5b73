#!/usr/bin/env bash
# The Python package's tests: `pip install .` (maturin builds crates/pocketdock-py and the
# bundled CLI) into a venv at .cache/venv-py, then pytest on tests/python against the engines
# selected as for the Rust suite (POCKETDOCK_TEST_ENGINES, POCKETDOCK_TEST_PODMAN_SOCKET,
# POCKETDOCK_TEST_DOCKER_SOCKET; default both). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.cache/venv-py
if [ -z "${POCKETDOCK_TEST_PODMAN_SOCKET:-}${POCKETDOCK_TEST_DOCKER_SOCKET:-}" ]; then
  scripts/engines.sh up
  eval "$(scripts/engines.sh env)"
fi

started=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check pytest mypy "mcp>=2.3,<3"
echo "== pip install . (release build of the extension and the CLI)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .
echo "   installed in $(( $(date +%s) - started )) s"

echo "== pytest tests/python"
"$venv/bin/python" -m pytest tests/python "$@"
echo "python tests done in $(( $(date +%s) - started )) s"
