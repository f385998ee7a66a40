#!/usr/bin/env bash
# Packages fieldsync for Android as an AAR: libfieldsync_ffi.so for arm64-v8a, armeabi-v7a and
# x86_64, built with the size-optimised `mobile` profile through cargo-ndk, plus the generated
# Kotlin bindings compiled to classes.jar. See docs/mobile.md.
#
# Needs: an Android NDK (r28 or newer; found by cargo-ndk in the Android SDK or via
# ANDROID_NDK_HOME), cargo-ndk (`cargo install cargo-ndk`), rustup, a JDK and Maven.
#
# Output: target/android/fieldsync-ffi-<version>.aar (override the directory with OUT_DIR).
# Apps also depend on JNA as an AAR (it carries libjnidispatch.so for each ABI):
#     implementation("net.java.dev.jna:jna:5.19.1@aar")
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
die() { echo "package-android: $*" >&2; exit 1; }

min_sdk=${ANDROID_MIN_SDK:-24}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out=${OUT_DIR:-target/android}
abis=(arm64-v8a armeabi-v7a x86_64) # jniLibs directory names
# The Rust target of an ABI (a function, not an associative array: macOS ships bash 3.2).
rust_target() {
    case $1 in
        arm64-v8a) echo aarch64-linux-android ;;
        armeabi-v7a) echo armv7-linux-androideabi ;;
        x86_64) echo x86_64-linux-android ;;
        *) die "unknown ABI $1" ;;
    esac
}

command -v cargo-ndk >/dev/null || die "cargo-ndk is missing: cargo install cargo-ndk"
command -v mvn >/dev/null || die "Maven is missing"
command -v jar >/dev/null || die "a JDK (jar) is missing"
if command -v rustup >/dev/null; then
    for abi in "${abis[@]}"; do rustup target add "$(rust_target "$abi")"; done
fi

# Kotlin bindings come from the host build: the mobile profile strips symbols, and with them the
# metadata UniFFI reads. The source is the same, so the checksums in the bindings match.
step "generating the Kotlin bindings"
./scripts/gen-bindings.sh

step "building libfieldsync_ffi.so (profile mobile) for ${abis[*]}"
# 16 KB pages (required by Google Play for Android 15+ targets): NDK r28+ links with
# max-page-size=16384 by default; older NDKs need -Wl,-z,max-page-size=16384 in the linker flags.
ndk_targets=()
for abi in "${abis[@]}"; do ndk_targets+=(-t "$abi"); done
cargo ndk "${ndk_targets[@]}" --platform "$min_sdk" \
    build -p fieldsync-ffi --lib --profile mobile --locked

step "compiling the Kotlin bindings to classes.jar"
mvn -B -ntp -q -f bindings/kotlin/pom.xml -Dmaven.test.skip=true package
jar_file=bindings/kotlin/target/fieldsync-bindings-jvm-0.1.0.jar
[[ -f $jar_file ]] || die "expected $jar_file"

step "assembling the AAR"
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for abi in "${abis[@]}"; do
    so="$target_dir/$(rust_target "$abi")/mobile/libfieldsync_ffi.so"
    [[ -f $so ]] || die "expected $so"
    mkdir -p "$stage/jni/$abi"
    cp "$so" "$stage/jni/$abi/"
done
cp "$jar_file" "$stage/classes.jar"
cat >"$stage/AndroidManifest.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="dev.fieldsync.ffi">
    <uses-sdk android:minSdkVersion="$min_sdk" />
</manifest>
EOF
: >"$stage/R.txt"
# Consumer R8 rules: JNA finds the bindings' native methods and structures by reflection.
cat >"$stage/proguard.txt" <<'EOF'
-keep class com.sun.jna.** { *; }
-keep class * implements com.sun.jna.** { *; }
-keep class uniffi.fieldsync_ffi.** { *; }
-dontwarn java.awt.**
EOF
mkdir -p "$out"
aar="$out/fieldsync-ffi-$version.aar"
rm -f "$aar"
jar --create --no-manifest --file "$aar" -C "$stage" .

step "done"
ls -l "$aar"
for abi in "${abis[@]}"; do
    printf '%-12s %10s bytes\n' "$abi" "$(wc -c <"$stage/jni/$abi/libfieldsync_ffi.so")"
done
