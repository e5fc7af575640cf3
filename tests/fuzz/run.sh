#!/usr/bin/env bash
# Run every libFuzzer target (tests/fuzz/fuzz_*.c) for a while, each from
# its committed seed corpus (tests/fuzz/corpus/<name>/ for fuzz_<name>,
# copied, so that the committed one is not changed), under ASan and UBSan:
# any crash, leak, timeout or sanitizer report fails. Builds its own clang tree with
# -DLFR_FUZZ=ON; skipped (exit 77) when clang or libFuzzer is missing.
#
#   tests/fuzz/run.sh SOURCE BUILD [SECONDS]     (default 60 s a target)
#
# The suite runs it as fuzz_targets_slow (at least 60 s a target); nice it
# and give more seconds for a longer campaign (600 before landing a parser).
set -u
src=${1:?usage: run.sh SOURCE BUILD [SECONDS]}
out=${2:?usage: run.sh SOURCE BUILD [SECONDS]}
seconds=${3:-${LFR_FUZZ_SECONDS:-60}}
cc=$(command -v clang || true)
if [ -z "$cc" ]; then
    echo "SKIP: clang is not installed (scripts/setup.sh)"
    exit 77
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    "$cc" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "SKIP: clang has no libFuzzer"
    exit 77
fi
targets=()
for f in "$src"/tests/fuzz/fuzz_*.c; do
    targets+=("$(basename "$f" .c)")
done
echo "building ${targets[*]} in $out"
mkdir -p "$out"
log="$out/fuzz-build.log"
if ! cmake -S "$src" -B "$out" --log-level=WARNING -DCMAKE_C_COMPILER="$cc" -DLFR_FUZZ=ON \
    -DLFR_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log" 2>&1 ||
    ! cmake --build "$out" -j2 --target "${targets[@]}" >>"$log" 2>&1; then
    tail -20 "$log"
    echo "FAIL: the fuzz build failed (log: $log)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
for t in "${targets[@]}"; do
    mkdir -p "$tmp/$t"
    for c in "$src/tests/fuzz/corpus/${t#fuzz_}" "$src/tests/fuzz/corpus/$t"; do
        [ -d "$c" ] && cp -r "$c"/. "$tmp/$t"/ 2>/dev/null
    done
    seeds=$(ls "$tmp/$t" | wc -l)
    if "$out/$t" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 \
        -artifact_prefix="$tmp/$t-" "$tmp/$t" >"$tmp/$t.log" 2>&1; then
        echo "ok   $t: $(grep -Eo 'Done [0-9]+ runs' "$tmp/$t.log" | tail -1) (from $seeds seeds, ${seconds} s)"
    else
        echo "FAIL $t:"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$tmp/$t.log" | head -10 | sed 's/^/    /'
        fails=$((fails + 1))
    fi
done
[ "$fails" -eq 0 ]
