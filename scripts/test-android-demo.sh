#!/usr/bin/env bash
# Tests the Android demo's logic on the JVM against the real library, and type-checks the
# Android module's Kotlin against the Android framework (Robolectric's android-all jar):
#
#   1. mvn test     android-demo/logic             view models + repository, JUnit 5, real store
#   2. mvn compile  android-demo/app/pom-jvm-check  Activities and Views vs android-all API 36
#
# Uses the bindings in bindings/generated (scripts/gen-bindings.sh); generates them when they are
# missing. Installs a JDK and Maven with apt-get only when missing, as scripts/test-bindings.sh
# does. What the compile check does not check (AAPT, dex, Gradle): android-demo/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

missing=()
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
    step "installing system packages: ${missing[*]}"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

case "$(uname -s)" in
    Darwin) lib_file=libfieldsync_ffi.dylib ;;
    *) lib_file=libfieldsync_ffi.so ;;
esac
if [[ ! -s bindings/generated/kotlin/uniffi/fieldsync_ffi/fieldsync_ffi.kt ||
    ! -s bindings/generated/lib/$lib_file ]]; then
    ./scripts/gen-bindings.sh
fi

# The shared real-world fixtures (camera JPEGs, QR photos) live next to the repository.
fixtures=${FIELDSYNC_FIXTURES:-$PWD/../shared/fixtures}
[[ -d $fixtures/exif ]] || {
    echo "cannot find the shared fixtures in $fixtures; set FIELDSYNC_FIXTURES" >&2
    exit 1
}

step "mvn test: the demo's view models on the JVM against the real library"
# failIfNoTests in the pom: a suite that finds no tests fails.
mvn -B -ntp -f android-demo/logic/pom.xml clean test "-Dfieldsync.fixtures=$fixtures"

step "mvn compile: the Android module's Kotlin against android-all (API 36)"
mvn -B -ntp -f android-demo/app/pom-jvm-check.xml clean compile

printf '\nandroid-demo checks passed in %ss\n' "$SECONDS"
