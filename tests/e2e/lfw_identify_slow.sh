#!/usr/bin/env bash
# `lfr eval identify lfw` on the first 400 people of LFW: the protocol's
# counts match lfw-names.txt and the rank-1 rate is plausible. Skips, saying
# so, when the LFW data or the models are absent.
set -eu
lfr=${1:?usage: lfw_identify_slow.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/lfw-names.txt" ]; then
    echo "SKIP: LFW not found at $data/lfw (set LFR_DATA)"
    exit 77
fi
if [ ! -f "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (run scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$lfr" eval identify lfw --data "$data/lfw" --people 400 --json "$tmp/i.json" \
    --models "$models" 2>/dev/null
# Expected counts straight from lfw-names.txt.
read -r gal mated non < <(head -n 400 "$data/lfw/lfw-names.txt" |
    awk '{ if ($2 > 1) { g++; m += $2 - 1 } else n++ } END { print g, m, n }')
get() { sed -n "s/.*\"$1\": \([0-9.e-]*\).*/\1/p" "$tmp/i.json" | head -1; }
fails=0
[ "$(get gallery)" = "$gal" ] || { echo "FAIL gallery $(get gallery) != $gal"; fails=1; }
[ "$(get mated_probes)" = "$mated" ] || { echo "FAIL mated $(get mated_probes) != $mated"; fails=1; }
[ "$(get nonmated_probes)" = "$non" ] || { echo "FAIL non-mated $(get nonmated_probes) != $non"; fails=1; }
r1=$(get rank1)
awk -v r="$r1" 'BEGIN { exit !(r >= 0.95) }' || { echo "FAIL rank-1 $r1 < 0.95"; fails=1; }
echo "gallery $gal, mated $mated, non-mated $non, rank-1 $r1"
if [ "$fails" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
