#!/usr/bin/env bash
# Checks `fieldsync push` (Web Push) against independent implementations: builds the binary, puts
# http_ece, py_vapid and cryptography (pinned in tests/python/requirements.txt) into
# tests/python/.venv, and runs tests/python with pytest (docs/push.md says what is checked).
# Installs python3-venv with apt-get when it is missing (Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/python-suite.sh
source scripts/lib/python-suite.sh

ensure_packages

step "building the fieldsync binary the tests run"
cargo build --workspace --bins --locked

run_pytest_suite tests/python "fieldsync push against http_ece, py_vapid and cryptography"
