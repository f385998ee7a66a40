#!/usr/bin/env bash
# Builds libfieldsync_ffi (debug) and generates its Kotlin, Swift and Python bindings into
# bindings/generated/, then puts a copy of the library where each test harness loads it:
#
#   bindings/generated/python/    fieldsync_ffi.py + libfieldsync_ffi.so (the module loads the
#                                 library from its own directory)
#   bindings/generated/kotlin/    uniffi/fieldsync_ffi/fieldsync_ffi.kt (compiled by bindings/kotlin)
#   bindings/generated/lib/       libfieldsync_ffi.so for JNA (-Djna.library.path)
#   bindings/generated/swift/     fieldsync_ffi.swift, fieldsync_ffiFFI.h, fieldsync_ffiFFI.modulemap
#   bindings/generated/relay-bin  the path of target/debug/fieldsync (the relay the tests start)
#
# Bindings are generated from the built library itself (UniFFI "library mode"): the proc-macro
# metadata lives in the .so, so the bindings always match the library next to them. Generate again
# after every change to bindings/src; a stale pair fails at load time with a checksum error.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

case "$(uname -s)" in
    Darwin) lib_file=libfieldsync_ffi.dylib ;;
    *) lib_file=libfieldsync_ffi.so ;;
esac

# FIELDSYNC_FFI_TEST_HOOKS=1 (scripts/test-bindings.sh sets it) adds the test-only calls of
# bindings/src/test_hooks.rs; the packaging scripts leave it off, so shipped bindings match the
# shipped library, which never has them.
features=()
[[ ${FIELDSYNC_FFI_TEST_HOOKS:-0} == 1 ]] && features=(--features fieldsync-ffi/test-hooks)

# The whole workspace, as scripts/test.sh builds it (one feature resolution, so nothing is
# compiled twice): the cdylib, uniffi-bindgen, and the `fieldsync` relay the binding tests run.
step "building the workspace (debug): libfieldsync_ffi, uniffi-bindgen, the fieldsync relay"
cargo build --workspace --lib --bins --locked ${features[@]+"${features[@]}"}

# Honour CARGO_TARGET_DIR / build.target-dir instead of assuming ./target.
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
library="$target_dir/debug/$lib_file"
bindgen="$target_dir/debug/uniffi-bindgen"
[[ -f $library ]] || { echo "expected $library after the build" >&2; exit 1; }

out=bindings/generated
rm -rf "$out"
for language in kotlin swift python; do
    step "generating $language bindings"
    # --no-format: ktlint / swift-format output would depend on what the machine has installed.
    "$bindgen" generate "$library" --language "$language" --out-dir "$out/$language" --no-format
done

relay="$target_dir/debug/fieldsync"
[[ -x $relay ]] || { echo "expected $relay after the build" >&2; exit 1; }

step "placing $lib_file next to the bindings"
cp "$library" "$out/python/$lib_file"
mkdir -p "$out/lib"
cp "$library" "$out/lib/$lib_file"
printf '%s\n' "$relay" >"$out/relay-bin"

for f in "$out/kotlin/uniffi/fieldsync_ffi/fieldsync_ffi.kt" "$out/swift/fieldsync_ffi.swift" \
    "$out/swift/fieldsync_ffiFFI.h" "$out/swift/fieldsync_ffiFFI.modulemap" \
    "$out/python/fieldsync_ffi.py"; do
    [[ -s $f ]] || { echo "generation did not produce $f" >&2; exit 1; }
done
printf '\nbindings generated in %s\n' "$out"
