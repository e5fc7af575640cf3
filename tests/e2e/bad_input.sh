#!/usr/bin/env bash
# Bad input to the lfr command: each case must exit 1 (not crash, not a
# signal), print exactly one line on stderr, and name the file. Under the
# sanitizer build any ASan/UBSan report also fails the case.
# Usage: bad_input.sh path/to/lfr   (models from $LFR_MODELS)
set -u
lfr=${1:?usage: bad_input.sh LFR}
models=${LFR_MODELS:-models}
if [ ! -f "$models/face_detection_full_range.tflite" ] || [ ! -f "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (run scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

# expect NAME FILE-TO-NAME CMD...: exit status 1, one stderr line naming FILE.
expect() {
    local name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
        echo "FAIL $name: exit $rc, $lines stderr line(s):"
        sed 's/^/    /' "$tmp/err" | head -20
        fails=$((fails + 1))
    else
        echo "ok   $name: $(cat "$tmp/err")"
        passes=$((passes + 1))
    fi
}

still=${LFR_DATA:-../shared/data}/stills/obama.jpg
# A valid JPEG to cut and corrupt: a still when present, else none needed.
: >"$tmp/empty.jpg"
echo "this is a text file, not an image" >"$tmp/text.jpg"
printf '\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\xea\x60\x00\x00\xea\x60\x08\x02\x00\x00\x00\x0f\xb0\xe2\x15\x00\x00\x00\x0b\x49\x44\x41\x54\x78\x9c\x63\x60\x40\x05\x00\x00\x10\x00\x01\x39\xbd\x8f\x65\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82' >"$tmp/huge.png"
printf '\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90\x77\x53\xde\x00\x00\x00\x0c\x49\x44\x41\x54\x78\x9c\x63\x68\x68\x68\x00\x00\x03\x04\x01\x81\x4b\xd3\xd2\x10\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82' >"$tmp/one.png"
head -c 20 "$tmp/one.png" >"$tmp/trunc.png"

expect "empty file" empty.jpg "$lfr" detect "$tmp/empty.jpg" --models "$models"
expect "text file named .jpg" text.jpg "$lfr" detect "$tmp/text.jpg" --models "$models"
expect "60000x60000 PNG header" huge.png "$lfr" detect "$tmp/huge.png" --models "$models"
expect "truncated PNG" trunc.png "$lfr" embed "$tmp/trunc.png" --models "$models"
expect "missing file" nothere.jpg "$lfr" detect "$tmp/nothere.jpg" --models "$models"
# A 1x1 image decodes; it simply holds no face: compare must say so.
expect "1x1 image" one.png "$lfr" compare "$tmp/one.png" "$tmp/one.png" --models "$models"
"$lfr" detect "$tmp/one.png" --models "$models" >"$tmp/out" 2>&1 &&
    grep -q "0 faces" "$tmp/out" && { echo "ok   1x1 image detects 0 faces"; passes=$((passes + 1)); } ||
    { echo "FAIL 1x1 detect: $(cat "$tmp/out")"; fails=$((fails + 1)); }

if [ -f "$still" ]; then
    size=$(stat -c %s "$still")
    head -c $((size / 2)) "$still" >"$tmp/trunc.jpg"
    cp "$still" "$tmp/corrupt.jpg"
    # Overwrite the middle of the entropy-coded data with a run of markers.
    printf '\xff\xd9\xff\xc4\x00\x02\xff\xff\xff\xff' |
        dd of="$tmp/corrupt.jpg" bs=1 seek=$((size / 3)) conv=notrunc status=none
    head -c 200 "$still" >"$tmp/header-only.jpg"
    expect "truncated JPEG" trunc.jpg "$lfr" detect "$tmp/trunc.jpg" --models "$models"
    expect "corrupt JPEG" corrupt.jpg "$lfr" detect "$tmp/corrupt.jpg" --models "$models"
    expect "JPEG cut in its header" header-only.jpg "$lfr" detect "$tmp/header-only.jpg" --models "$models"
else
    echo "SKIP: JPEG cases need $still (set LFR_DATA)"
fi

# Broken models: each in a models folder of its own.
mk_models() {
    mkdir -p "$tmp/$1"
    cp "$models/face_detection_full_range.tflite" "$models/MobileFaceNet.tflite" "$tmp/$1/"
}
mk_models trunc
head -c 100000 "$models/MobileFaceNet.tflite" >"$tmp/trunc/MobileFaceNet.tflite"
expect "truncated model" "MobileFaceNet.tflite" "$lfr" detect "$tmp/one.png" --models "$tmp/trunc"

mk_models flip
# Flip the root table offset's high byte: the file no longer holds a model.
printf '\x7f' | dd of="$tmp/flip/face_detection_full_range.tflite" bs=1 seek=2 conv=notrunc status=none
expect "bit-flipped model" face_detection_full_range.tflite "$lfr" detect "$tmp/one.png" --models "$tmp/flip"

mk_models unknown
# Operator code 0 of the pinned full-range model (CONV_2D, 3) becomes
# FULLY_CONNECTED (9), which the engine does not support.
off=1083980
if [ "$(od -An -tu1 -j $off -N1 "$tmp/unknown/face_detection_full_range.tflite" | tr -d ' ')" = 3 ]; then
    printf '\x09' | dd of="$tmp/unknown/face_detection_full_range.tflite" bs=1 seek=$off conv=notrunc status=none
    expect "model with an unknown operator" "unsupported operator FULLY_CONNECTED" \
        "$lfr" detect "$tmp/one.png" --models "$tmp/unknown"
else
    echo "SKIP: the full-range model is not the pinned file"
fi

mk_models empty
: >"$tmp/empty/MobileFaceNet.tflite"
expect "empty model" "MobileFaceNet.tflite: empty file" "$lfr" detect "$tmp/one.png" --models "$tmp/empty"
expect "missing models folder" "nowhere" "$lfr" detect "$tmp/one.png" --models "$tmp/nowhere"
# Usage errors exit 2, still in one line.
"$lfr" detect "$tmp/one.png" --bogus >/dev/null 2>"$tmp/err"
if [ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "--bogus" "$tmp/err"; then
    echo "ok   unknown option: $(cat "$tmp/err")"
    passes=$((passes + 1))
else
    echo "FAIL unknown option"
    fails=$((fails + 1))
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
