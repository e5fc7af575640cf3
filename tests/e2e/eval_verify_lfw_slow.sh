#!/usr/bin/env bash
# `lfr eval verify` on LFW View 2's pairs reproduces the engine's 10-fold
# accuracy (99.02 %, docs/ACCURACY.md) through a manifest made by
# `lfr eval manifest lfw`; a second run reads every template from the cache
# (mode 0600) and gives the same figures; an image whose bytes differ from
# its manifest hash stops the run. Skips, saying so, when the LFW data or
# the models are absent.
set -u
lfr=${1:?usage: eval_verify_lfw_slow.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/pairs.txt" ] || [ ! -d "$data/labels" ]; then
    echo "SKIP: LFW or its labels not found at $data (set LFR_DATA)"
    exit 77
fi
if [ ! -f "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (run scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
get() { sed -n "s/^  \"$1\": \([0-9.e+-]*\).*/\1/p" "$2" | head -1; }

"$lfr" eval manifest lfw --data "$data/lfw" --labels "$data/labels" >"$tmp/lfw.tsv" 2>"$tmp/err" ||
    { cat "$tmp/err"; exit 1; }
n=$(grep -vc '^#' "$tmp/lfw.tsv")
[ "$n" = 13234 ] && ok "manifest: 13,233 images and a header" || bad "manifest has $n lines"

verify() {
    "$lfr" eval verify "$tmp/lfw.tsv" --data "$data/lfw" --pairs "$data/lfw/pairs.txt" \
        --models "$models" --cache "$tmp/tpl.cache" --json "$1" >"$tmp/out" 2>"$tmp/err"
}
if verify "$tmp/a.json"; then
    acc=$(get accuracy "$tmp/a.json")
    # 99.02 % as printed: within half a unit of the last digit.
    if awk -v a="$acc" 'BEGIN { exit !(a >= 0.99015 && a < 0.99025) }'; then
        ok "View 2 accuracy $acc (99.02 %)"
    else
        bad "View 2 accuracy $acc, expected 0.9902"
    fi
    [ "$(get genuine "$tmp/a.json")" = 3000 ] && [ "$(get impostor "$tmp/a.json")" = 3000 ] &&
        ok "3000 + 3000 pairs" || bad "pair counts"
    grep -q '"tar_at_far_1e-4": null' "$tmp/a.json" && ok "TAR at FAR 1e-4 not estimable" ||
        bad "TAR at FAR 1e-4 given from 3000 impostors"
else
    bad "verify failed: $(cat "$tmp/err" | tail -3)"
fi
mode=$(stat -c %a "$tmp/tpl.cache" 2>/dev/null)
[ "$mode" = 600 ] && ok "cache mode 600" || bad "cache mode '$mode'"

# Rerun: everything from the cache, the same figures.
if verify "$tmp/b.json" && grep -q "7701 of 7701 images from the cache" "$tmp/err"; then
    ok "second run from the cache"
else
    bad "second run did not come from the cache: $(tail -3 "$tmp/err")"
fi
for k in accuracy auc eer tar_at_far_1e-3; do
    [ "$(get "$k" "$tmp/a.json")" = "$(get "$k" "$tmp/b.json")" ] || bad "$k differs after the cache"
done

# A manifest whose hash of one image is wrong: the run stops and names it.
awk -F'\t' 'BEGIN { OFS = "\t" } $1 == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg" { $3 = "0000000000000000000000000000000000000000000000000000000000000000" } { print }' \
    "$tmp/lfw.tsv" >"$tmp/bad.tsv"
if "$lfr" eval verify "$tmp/bad.tsv" --data "$data/lfw" --pairs "$data/lfw/pairs.txt" \
    --models "$models" >/dev/null 2>"$tmp/err"; then
    bad "a changed image was not noticed"
elif grep -q "Aaron_Peirsol_0001.jpg: the file's sha256 is not the manifest's" "$tmp/err"; then
    ok "changed image named"
else
    bad "unexpected error: $(tail -2 "$tmp/err")"
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
