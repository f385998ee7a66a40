#!/usr/bin/env bash
# Checks `fieldsync push` (Web Push) against independent implementations: builds the binary, puts
# http_ece, py_vapid and cryptography (pinned in tests/python/requirements.txt) into
# tests/python/.venv, and runs tests/python with pytest (docs/push.md says what is checked).
# Installs python3-venv with apt-get when it is missing (Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

missing=()
command -v python3 >/dev/null || missing+=(python3)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if ((${#missing[@]})); then
    step "installing system packages: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

step "building the fieldsync binary the tests run"
cargo build --workspace --bins --locked

venv=tests/python/.venv
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    step "creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
step "installing the Python test dependencies (tests/python/requirements.txt)"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r tests/python/requirements.txt

step "pytest: fieldsync push against http_ece, py_vapid and cryptography"
status=0
(cd tests/python && .venv/bin/python -m pytest) || status=$?
if ((status == 5)); then
    echo "pytest collected no tests: the Web Push suite is missing or broken" >&2
    exit 1
elif ((status != 0)); then
    exit "$status"
fi
