#!/usr/bin/env bash
# The HTML reports of `lfr eval verify` and `lfr eval identify` open in
# headless Chromium and every plot in them renders: each report carries a
# small inline script that, once laid out, checks every <svg class="plot">
# for drawn data with a non-empty bounding box and writes "plots N drawn N"
# into the page, which --dump-dom shows. The reports must load nothing from
# elsewhere. A screenshot of the verify report is saved as eval-report.png
# in the working folder (ctest: the build folder), and, with
# LFR_UPDATE_DOCS=1, to docs/eval-report.png under LFR_SOURCE for the
# documentation (so that an ordinary test run leaves the source tree alone).
#
# Data: the LFW images whose people carry a race annotation (3,610 images,
# 866 people), so that the report shows groups by sex and by race. Skips,
# saying so, when chromium, the LFW data or the models are absent.
set -u
lfr=${1:?usage: eval_report_slow.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
src=${LFR_SOURCE:-.}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "SKIP: chromium is not installed (scripts/setup.sh installs Debian's chromium)"
    exit 77
fi
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
fails=0 passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# Chromium as root needs --no-sandbox; its own profile in the temporary folder.
browse() {
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$tmp/profile" "$@" 2>>"$tmp/chromium.log"
}
check_report() { # NAME FILE MIN_PLOTS
    local name=$1 file=$2 min=$3
    if grep -qiE '(src|href)="(https?:)?//' "$file"; then
        bad "$name: the report refers to an outside resource"
    fi
    local verdict
    verdict=$(browse --dump-dom "file://$file" | sed -n 's/.*<pre id="render-check">\([^<]*\)<.*/\1/p')
    local n drawn
    read -r _ n _ drawn _ <<<"$verdict"
    if [ -n "$n" ] && [ "$n" -ge "$min" ] && [ "$n" = "$drawn" ] && [ "$verdict" = "plots $n drawn $n" ]; then
        ok "$name: $verdict"
    else
        bad "$name: render check says '${verdict:-nothing}' (at least $min plots expected)"
    fi
}

"$lfr" eval manifest lfw --data "$data/lfw" --labels "$data/labels" 2>/dev/null |
    awk -F'\t' '/^#/ || $1 == "path" || $5 != ""' >"$tmp/m.tsv"
common=(--data "$data/lfw" --models "$models" --cache "$tmp/tpl.cache")
if "$lfr" eval verify "$tmp/m.tsv" "${common[@]}" --impostors 500000 --impostors-per-group 100000 \
    --html "$tmp/verify.html" >"$tmp/out" 2>"$tmp/err"; then
    # DET, histogram, and FNMR + FMR for sex and race: 6 plots.
    check_report "verify report" "$tmp/verify.html" 6
    if browse --window-size=1100,2400 --screenshot="$tmp/shot.png" "file://$tmp/verify.html" &&
        [ -s "$tmp/shot.png" ]; then
        ok "screenshot"
        cp "$tmp/shot.png" eval-report.png 2>/dev/null || true
        if [ "${LFR_UPDATE_DOCS:-0}" = 1 ]; then cp "$tmp/shot.png" "$src/docs/eval-report.png"; fi
    else
        bad "no screenshot"
    fi
else
    bad "eval verify failed: $(tail -3 "$tmp/err")"
fi
# The identify report on the same images' people (the first 1,000 of the
# LFW list), its labels from the manifest: projection, CMC, scores, groups.
if "$lfr" eval identify lfw "${common[@]}" --people 1000 --manifest "$tmp/m.tsv" \
    --html "$tmp/identify.html" >"$tmp/out" 2>"$tmp/err"; then
    check_report "identify report" "$tmp/identify.html" 3
else
    bad "eval identify failed: $(tail -3 "$tmp/err")"
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
