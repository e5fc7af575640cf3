#!/usr/bin/env bash
# `lfr eval identify MANIFEST` runs the open-set 1:N protocol on any data set
# described by a manifest, and on a manifest of LFW's first 100 people gives
# exactly what `lfr eval identify lfw --people 100` gives; with --home the
# run is recorded as kind "identify" with per-group FNIR/FPIR figures (at a
# fixed --diff-threshold: 67 non-mated probes cannot set FPIR 1e-2), and
# the audit chain verifies. Skips, saying so, when the LFW data or the
# models are absent.
set -u
lfr=${1:?usage: eval_identify_manifest.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/lfw-names.txt" ] || [ ! -d "$data/labels" ]; then
    echo "SKIP: LFW or its labels not found at $data (set LFR_DATA)"
    exit 77
fi
if [ ! -f "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (run scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW LFR_HOME
fails=0 passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; sed 's/^/    /' "$tmp/err" 2>/dev/null | tail -3; fails=$((fails + 1)); }
get() { sed -n "s/^  \"$1\": \([0-9.e+-]*\).*/\1/p" "$2" | head -1; }

head -n 100 "$data/lfw/lfw-names.txt" | cut -f1 >"$tmp/people"
"$lfr" eval manifest lfw --data "$data/lfw" --labels "$data/labels" 2>/dev/null |
    awk -F'\t' 'NR == FNR { keep[$1] = 1; next } /^#/ || $1 == "path" || keep[$2]' \
        "$tmp/people" - >"$tmp/m.tsv"
common=(--data "$data/lfw" --models "$models" --cache "$tmp/tpl.cache" --bootstrap 200)
"$lfr" eval identify lfw "${common[@]}" --people 100 --json "$tmp/lfw.json" >/dev/null 2>"$tmp/err" ||
    bad "identify lfw failed"
home="$tmp/home"
"$lfr" init --home "$home" >/dev/null &&
    LFR_NEW_PASSWORD='auditor pass 1' "$lfr" user add admin --role administrator --home "$home" >/dev/null ||
    { echo "FAIL cannot set up a home"; exit 1; }
if LFR_PASSWORD='auditor pass 1' "$lfr" eval identify "$tmp/m.tsv" "${common[@]}" \
    --json "$tmp/m.json" --diff-threshold 0.5 --home "$home" --user admin </dev/null >"$tmp/out" 2>"$tmp/err"; then
    ok "identify on a manifest"
else
    bad "identify on a manifest failed"
fi
same=1
for k in gallery mated_probes nonmated_probes rank1 fnir_at_fpir_1e-1 threshold_at_fpir_1e-1 \
    tpir_at_default fpir_at_default; do
    a=$(get "$k" "$tmp/lfw.json") b=$(get "$k" "$tmp/m.json")
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
        echo "    $k: lfw '$a', manifest '$b'"
        same=0
    fi
done
[ "$same" = 1 ] && ok "same figures as identify lfw --people 100 ($(get gallery "$tmp/m.json") in the gallery)" ||
    bad "figures differ"
grep -q "by sex at threshold" "$tmp/out" && ok "groups from the manifest's labels" || bad "no groups"
LFR_PASSWORD='auditor pass 1' "$lfr" evaluation list --user admin --home "$home" >"$tmp/list" 2>"$tmp/err"
grep -qP '\tidentify\tm\.tsv\t' "$tmp/list" && grep -q "$(sha256sum "$tmp/m.tsv" | cut -c1-64)" "$tmp/list" &&
    ok "recorded as identify with the manifest's sha256" || bad "listing: $(cat "$tmp/list")"
id=$(cut -f1 "$tmp/list" | tail -1)
LFR_PASSWORD='auditor pass 1' "$lfr" evaluation show "$id" --user admin --home "$home" >"$tmp/show" 2>"$tmp/err"
grep -qP '^sex=male\tFNIR\t' "$tmp/show" && grep -qP '^\(all\)\trank1\t' "$tmp/show" &&
    ok "per-group FNIR and rank-1 stored" || bad "figures: $(head -5 "$tmp/show")"
"$lfr" audit verify --home "$home" >"$tmp/out" 2>"$tmp/err" && ok "audit verify" || bad "audit verify"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
