#!/usr/bin/env bash
# Malformed, truncated and hostile model files given to the library's
# readers (through build/lfr_nn_probe, which loads a model file as the
# engine will): each must exit 1 (not crash, not a signal) with exactly one
# line on stderr naming the file and the problem. Under the sanitizer build
# any ASan/UBSan report also fails the case (it adds lines).
# The hostile ONNX files are the committed seeds tests/fuzz/corpus/onnx/bad_*
# (written by build/lfr_onnx_corpus from tests/unit/onnx_build.h).
# Usage: bad_onnx.sh path/to/lfr   (the probe is beside it)
set -u
lfr=${1:?usage: bad_onnx.sh LFR}
probe="$(dirname "$lfr")/lfr_nn_probe"
src=${LFR_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
corpus="$src/tests/fuzz/corpus"
models=${LFR_MODELS:-models}
if [ ! -x "$probe" ]; then
    echo "SKIP: $probe not built"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

# expect NAME WORDS FILE [SHAPE]: exit 1, one stderr line naming FILE and WORDS.
expect() {
    local name=$1 want=$2 file=$3
    shift 3
    "$probe" "$file" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$(basename "$file")" "$tmp/err" ||
        ! grep -qF -- "$want" "$tmp/err"; then
        echo "FAIL $name: exit $rc, $lines stderr line(s), wanted '$want':"
        sed 's/^/    /' "$tmp/err" | head -20
        fails=$((fails + 1))
    else
        echo "ok   $name: $(cat "$tmp/err")"
        passes=$((passes + 1))
    fi
}

# Hostile files built by hand: the problem each one must be named for.
while IFS='|' read -r file words shape; do
    [ -n "$file" ] || continue
    expect "$file" "$words" "$corpus/onnx/bad_$file" $shape
done <<'CASES'
cycle.onnx|is part of a cycle|1,3,8,8
missing_initialiser.onnx|input 'w' is not defined|1,3,8,8
int64_input.onnx|element type 7|1,3,8,8
int64_weights.onnx|weights must be float|1,3,8,8
huge_initialiser.onnx|is too large|1,3,8,8
reshape_overflow.onnx|shape overflows|1,3,8,8
shape_overflow.onnx|shape overflows|1,3,8,8
huge_input.onnx|is too large|
undefined_output.onnx|output 'nowhere' is not defined|1,3,8,8
written_twice.onnx|already has a value|1,3,8,8
unsupported_op.onnx|NonMaxSuppression 'nms'): unsupported operator|1,3,8,8
wire_type.onnx|unsupported wire type 3 at offset 0|
length_past_end.onnx|past the end of its message at offset|
overlong_varint.onnx|malformed varint at offset 0|
external_data.onnx|external file|1,3,8,8
raw_size.onnx|holds 12 bytes, its shape needs 32|1,3,8,8
gather_index.onnx|index out of range|1,3,8,8
no_opset.onnx|no opset|1,3,8,8
foreign_domain.onnx|domain 'com.example'|1,3,8,8
negative_dim.onnx|dimension 0 of -3|1,3,8,8
division_by_zero.onnx|division by zero|1,3,8,8
conv_channels.onnx|does not fit 3 input and 3 output channels|1,3,8,8
empty.onnx|empty file|
text.onnx|wire type|
CASES

# The security review's S12: shapes whose product wraps around 2^64.
expect "wrapping TFLite shapes" "is too large" "$corpus/tflite/wrap_maxpool.tflite"

yunet="$models/yunet_s_dynamic.onnx"
if [ -f "$yunet" ]; then
    head -c 100000 "$yunet" >"$tmp/truncated.onnx"
    expect "truncated YuNet" "past the end" "$tmp/truncated.onnx" 1,3,64,64
    cp "$yunet" "$tmp/flipped.onnx"
    # The graph field's length (the second byte of the model) made huge.
    printf '\x0a\xff\xff\xff\xff\x0f' | dd of="$tmp/flipped.onnx" bs=1 seek=0 conv=notrunc status=none
    expect "bit-flipped YuNet" "offset" "$tmp/flipped.onnx" 1,3,64,64
    cp "$yunet" "$tmp/dynamic.onnx"
    expect "dynamic YuNet without a size" "is dynamic; give the input shape" "$tmp/dynamic.onnx"
    expect "YuNet at a size not a multiple of 32" "do not broadcast" "$tmp/dynamic.onnx" 1,3,104,104
    expect "YuNet given 4 channels" "fixed at 3; 4 given" "$tmp/dynamic.onnx" 1,4,64,64
    "$probe" "$yunet" 1,3,64,64 >"$tmp/out" 2>&1 && grep -q "output kps_32 \[1,4,10\]" "$tmp/out" &&
        { echo "ok   YuNet at 64x64 loads and runs"; passes=$((passes + 1)); } ||
        { echo "FAIL YuNet at 64x64: $(cat "$tmp/out")"; fails=$((fails + 1)); }
else
    echo "SKIP: YuNet cases need $yunet (scripts/fetch-models.sh copies it from ../shared/models)"
fi
: >"$tmp/empty.tflite"
expect "empty TFLite file" "empty file" "$tmp/empty.tflite"
expect "missing file" "nothere.onnx" "$tmp/nothere.onnx"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
