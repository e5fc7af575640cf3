#!/usr/bin/env bash
# LFW View 2 fold 1 (600 pairs) with openlfr's own detector, alignment and
# embedding, through `lfr eval lfw`: accuracy at the default threshold
# (chosen on View 1, never on these pairs) must be at least 98.5 %.
# Skips, saying so, when the LFW data or the models are absent.
set -eu
lfr=${1:?usage: lfw_fold1_slow.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/pairs.txt" ]; then
    echo "SKIP: LFW not found at $data/lfw (set LFR_DATA)"
    exit 77
fi
if [ ! -f "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (run scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Fold 1 is the first 300 same and 300 different pairs of View 2.
{
    echo "1 300"
    sed -n '2,601p' "$data/lfw/pairs.txt"
} >"$tmp/fold1.txt"
start=$(date +%s)
"$lfr" eval lfw --data "$data/lfw" --pairs "$tmp/fold1.txt" --json "$tmp/fold1.json" \
    --scores "$tmp/fold1.tsv" --models "$models" 2>/dev/null
secs=$(($(date +%s) - start))
acc=$(sed -n 's/.*"accuracy_at_default_threshold": \([0-9.]*\).*/\1/p' "$tmp/fold1.json")
no_face=$(sed -n 's/.*"no_face": \([0-9]*\).*/\1/p' "$tmp/fold1.json")
echo "fold 1: accuracy at the default threshold $acc, no face $no_face, $secs s"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.985) }' || { echo "FAIL: accuracy $acc < 0.985"; exit 1; }
[ "$secs" -lt 300 ] || { echo "FAIL: took $secs s (limit 300)"; exit 1; }
echo "1 passed, 0 failed"
