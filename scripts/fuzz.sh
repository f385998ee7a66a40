#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a fixed time each (see docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS defaults to 60 per target; TARGET defaults to all of: leadcard_payload exif photo_inspect
# relay_intake.
# Crashes, hangs (> 5 s for one input) and out-of-memory (> 2 GiB) stop a target and leave the
# input in fuzz/artifacts/<target>/; the script goes on with the next target and exits non-zero
# at the end. Each run's libFuzzer output is kept in fuzz/logs/<target>.log.
#
# Corpus: new inputs go to fuzz/corpus/<target>/ (gitignored, kept between runs); the seeds are
# fuzz/seeds/<target>/, the inputs kept in core/tests/data/fuzz/<target>/, and (when present) the
# shared fixtures. fuzz/dicts/<target>.dict is passed as the libFuzzer dictionary.
#
# Environment:
#   FUZZ_TOOLCHAIN   rustup toolchain to build with (default: the active one, usually stable).
#   FUZZ_SANITIZER   address (default when the toolchain ships the ASan runtime) or none.
#   FUZZ_JOBS        parallel libFuzzer jobs per target (default 1).
#   FUZZ_ARGS        extra libFuzzer flags, e.g. "-seed=1 -only_ascii=1".
#   FIELDSYNC_FIXTURES  the shared fixtures directory (default: ../shared/fixtures), used to
#                    seed the corpora with real camera headers and QR texts when present.
#
# Nightly flags on a stable toolchain: cargo-fuzz passes nightly-only flags to rustc
# (-Zsanitizer=address, SanitizerCoverage options) and to cargo. RUSTC_BOOTSTRAP=1 tells a stable
# toolchain to accept them, so no nightly download is needed. It is exported here only, for the
# fuzz build; never set it for the normal workspace build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
if [[ $# -gt 0 ]]; then shift; fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(leadcard_payload exif photo_inspect relay_intake)
fi
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi

if ! command -v cargo-fuzz >/dev/null; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

toolchain=()
if [[ -n ${FUZZ_TOOLCHAIN:-} ]]; then
    toolchain=("+$FUZZ_TOOLCHAIN")
fi
export RUSTC_BOOTSTRAP=1

sanitizer=${FUZZ_SANITIZER:-}
if [[ -z $sanitizer ]]; then
    sysroot=$(rustc "${toolchain[@]}" --print sysroot)
    host=$(rustc "${toolchain[@]}" -vV | sed -n 's/^host: //p')
    if compgen -G "$sysroot/lib/rustlib/$host/lib/librustc-*_rt.asan.a" >/dev/null; then
        sanitizer=address
    else
        echo "==> no AddressSanitizer runtime in $sysroot; fuzzing with --sanitizer none"
        sanitizer=none
    fi
fi

fixtures=${FIELDSYNC_FIXTURES:-$root/../shared/fixtures}
fuzz_dir=$root/fuzz
mkdir -p "$fuzz_dir/logs"

# Seeds from the shared fixtures, regenerated each run (gitignored): camera headers cut to the
# first 48 KiB (every fixture's header and EXIF block fit) and the QR codes' texts.
seed_from_fixtures() {
    local target=$1 dir=$fuzz_dir/corpus/fixtures-$1
    rm -rf "$dir"
    mkdir -p "$dir"
    case $target in
        exif | photo_inspect)
            for jpg in "$fixtures"/exif/*.jpg; do
                [[ -e $jpg ]] && head -c 49152 "$jpg" >"$dir/$(basename "$jpg")"
            done
            ;;
        leadcard_payload)
            for txt in "$fixtures"/qr/*/*.txt; do
                [[ -e $txt ]] && cp "$txt" "$dir/$(basename "$(dirname "$txt")")-$(basename "$txt")"
            done
            ;;
    esac
    echo "$dir"
}

failed=()
for target in "${targets[@]}"; do
    echo "==> fuzzing $target for ${seconds}s (sanitizer: $sanitizer)"
    corpus=$fuzz_dir/corpus/$target
    mkdir -p "$corpus"
    dirs=("$corpus" "$fuzz_dir/seeds/$target")
    [[ -d $fixtures ]] && dirs+=("$(seed_from_fixtures "$target")")
    [[ -d $root/core/tests/data/fuzz/$target ]] && dirs+=("$root/core/tests/data/fuzz/$target")
    [[ $target == leadcard_payload ]] && dirs+=("$root/core/tests/data/qr_payloads")
    flags=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1)
    # Payloads over 8 KiB are refused up front; a little more lets the fuzzer reach that check.
    [[ $target == leadcard_payload ]] && flags+=(-max_len=9000)
    [[ -f $fuzz_dir/dicts/$target.dict ]] && flags+=(-dict="$fuzz_dir/dicts/$target.dict")
    if [[ ${FUZZ_JOBS:-1} -gt 1 ]]; then
        flags+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
    fi
    # shellcheck disable=SC2206 # FUZZ_ARGS is a list of flags
    flags+=(${FUZZ_ARGS:-})
    if (cd "$fuzz_dir" && cargo "${toolchain[@]}" fuzz run --sanitizer "$sanitizer" "$target" "${dirs[@]}" \
        -- "${flags[@]}") 2>&1 | tee "$fuzz_dir/logs/$target.log"; then
        echo "==> $target: no crash in ${seconds}s"
    else
        echo "==> $target: FAILED; the input is in fuzz/artifacts/$target/ (minimise it with" \
            "'cargo fuzz tmin $target <file>', see docs/fuzzing.md)"
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "==> targets that found a problem: ${failed[*]}" >&2
    exit 1
fi
