#!/usr/bin/env bash
# Tests the foreign-language bindings against the real library: generates them
# (scripts/gen-bindings.sh), runs the Python suite (pytest, in bindings/python/.venv) and the Kotlin
# suite on the JVM (Maven, bindings/kotlin), and prints the FFI query cost measured from each.
# Installs python3-venv, a JDK and Maven with apt-get when they are missing (Debian/Ubuntu).
# Swift bindings are generated but not compiled: that needs a Swift toolchain (see docs/mobile.md).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

missing=()
command -v python3 >/dev/null || missing+=(python3)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
    step "installing system packages: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

./scripts/gen-bindings.sh

venv=bindings/python/.venv
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    step "creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
step "installing the Python test dependencies (bindings/python/requirements.txt)"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r bindings/python/requirements.txt

step "pytest: Python bindings against the real library"
status=0
(cd bindings/python && .venv/bin/python -m pytest) || status=$?
if ((status == 5)); then
    echo "pytest collected no tests: the Python suite is missing or broken" >&2
    exit 1
elif ((status != 0)); then
    exit "$status"
fi

step "FFI query cost from Python"
"$venv/bin/python" bindings/python/bench_ffi.py

step "mvn test: Kotlin bindings on the JVM against the real library"
# failIfNoTests in the pom makes a suite that finds no tests fail here too.
mvn -B -ntp -f bindings/kotlin/pom.xml test

step "FFI query cost from Kotlin"
cat bindings/kotlin/target/bench-ffi-kotlin.json

printf '\nbindings tests passed in %ss\n' "$SECONDS"
