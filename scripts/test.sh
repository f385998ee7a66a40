#!/usr/bin/env bash
# Runs every fieldsync test on a fresh machine, installing what the tests need first.
# The README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# System packages the tests need, installed only when missing (Debian/Ubuntu): Chromium and a
# CJK font for the console's browser test (tests/tests/console_e2e.rs).
apt_packages=(build-essential pkg-config chromium fonts-wqy-microhei)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    step "installing system packages: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
    echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi
if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the workspace binaries (the end-to-end tests run them)"
cargo build --workspace --bins --locked

# The foreign-writer test (tests/tests/foreign_writer_e2e.rs) drives a JavaScript client built on
# @automerge/automerge from npm, pinned in tests/js/package-lock.json; it needs Node 20.
if command -v node >/dev/null && command -v npm >/dev/null; then
    step "npm ci: @automerge/automerge for the foreign-writer test"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
    step "npm ci: playwright-core for the console's browser test (Debian's Chromium, no download)"
    (cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
    # The console's browser test must run here: it fails instead of skipping.
    export FIELDSYNC_REQUIRE_BROWSER=1
else
    echo "node/npm are missing: the foreign-writer and console browser tests will be skipped (install Node 20 to run them)" >&2
fi

step "cargo test"
cargo test --workspace --locked

step "Web Push: fieldsync push against http_ece and py_vapid (Python)"
./scripts/test-python.sh

step "bindings: Python and Kotlin (JVM) against the real library"
./scripts/test-bindings.sh

step "android demo: view models on the JVM against the real library; app type-checked against android-all"
./scripts/test-android-demo.sh

printf '\nall fieldsync tests passed\n'
