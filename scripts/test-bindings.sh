#!/usr/bin/env bash
# Tests the foreign-language bindings against the real library: generates them
# (scripts/gen-bindings.sh), runs the Python suite (pytest, in bindings/python/.venv) and the Kotlin
# suite on the JVM (Maven, bindings/kotlin), and prints the FFI query cost measured from each, with
# the same query called from Rust directly as the reference. Both suites start the real relay
# (`fieldsync serve`, built by gen-bindings.sh) on loopback.
# Installs python3-venv, a JDK and Maven with apt-get when they are missing (Debian/Ubuntu).
# Swift bindings are generated but not compiled: that needs a Swift toolchain (see docs/mobile.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/python-suite.sh
source scripts/lib/python-suite.sh

# The JDK and Maven come from Debian when missing (javac and mvn are what the suite runs).
jvm_packages=()
command -v javac >/dev/null || jvm_packages+=(default-jdk-headless)
command -v mvn >/dev/null || jvm_packages+=(maven)
ensure_packages "${jvm_packages[@]}"

FIELDSYNC_FFI_TEST_HOOKS=1 ./scripts/gen-bindings.sh

run_pytest_suite bindings/python "Python bindings against the real library"
venv=bindings/python/.venv

step "FFI query cost reference: the same query in Rust, no FFI (bindings/examples/query_cost.rs)"
# Same profile and features as the library the suites load, so nothing is rebuilt.
cargo build --workspace --examples --locked --features fieldsync-ffi/test-hooks
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
"$target_dir/debug/examples/query_cost"

step "FFI query cost from Python"
"$venv/bin/python" bindings/python/bench_ffi.py

step "mvn test: Kotlin bindings on the JVM against the real library"
# failIfNoTests in the pom makes a suite that finds no tests fail here too.
mvn -B -ntp -f bindings/kotlin/pom.xml test

step "FFI query cost from Kotlin"
cat bindings/kotlin/target/bench-ffi-kotlin.json

printf '\nbindings tests passed in %ss\n' "$SECONDS"
