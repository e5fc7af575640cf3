#!/bin/sh
# Install the reference runtimes used by scripts/oracle/*.mjs and
# bench/peer/*.mjs, each from a pinned npm tarball checked by sha256:
#
#   @tensorflow/tfjs-tflite@0.0.1-alpha.10  TFLite + XNNPACK in WebAssembly;
#       only its wasm/ modules are used, so its tfjs-core peer is not needed.
#   onnxruntime-node@1.30.0 + onnxruntime-common@1.30.0  ONNX Runtime's CPU
#       build (bin/napi-v6/linux/x64/libonnxruntime.so.1) and its JS API.
#       Its install script (which downloads GPU parts from another host) is
#       never run, and its install-time dependencies (adm-zip, global-agent)
#       are not needed to run models on the CPU.
#
#   sh scripts/oracle/install.sh
#
# Steps per package: fetch the tarball with `npm pack` (only if it is not
# cached yet), check it against SHA256SUMS, unpack it into the git-ignored
# scripts/oracle/node_modules/<name>/ (the layout `npm install` gives). A
# second run does no network work.
#
# Environment:
#   LFR_TFLITE_TGZ  path of an already downloaded tfjs-tflite tarball to use
#                   instead of fetching (it is still checked against
#                   SHA256SUMS).
#
# Alternative with plain npm (same packages, checked by the sha512 values in
# package-lock.json; .npmrc keeps the tfjs-core peer out; this also installs
# onnxruntime-node's unused install-time dependencies):
#   (cd scripts/oracle && npm ci --ignore-scripts)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache="$here/node_modules/.cache"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'
  else shasum -a 256 "$1" | awk '{print $1}'; fi
}

# install NAME VERSION TARBALL PROBE [LOCAL-TGZ]: PROBE is a file inside the
# package whose presence says the unpack finished.
install_pkg() {
  pkg=$1 ver=$2 tgz=$3 probe=$4 local_tgz=${5:-}
  dest="$here/node_modules/$pkg"
  stamp="$dest/.openlfr-sha256"
  want=$(awk -v f="$tgz" '$2 == f { print $1 }' "$here/SHA256SUMS")
  [ -n "$want" ] || { echo "install.sh: $tgz not listed in SHA256SUMS" >&2; exit 1; }
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dest/$probe" ]; then
    echo "install.sh: $pkg@$ver already installed in $dest"
    return 0
  fi
  mkdir -p "$cache"
  if [ -n "$local_tgz" ]; then
    cp "$local_tgz" "$cache/$tgz.part" && mv "$cache/$tgz.part" "$cache/$tgz"
  fi
  if [ ! -f "$cache/$tgz" ] || [ "$(sha256_of "$cache/$tgz")" != "$want" ]; then
    rm -f "$cache/$tgz"
    echo "install.sh: fetching $pkg@$ver with npm pack"
    (cd "$cache" && npm pack --silent --ignore-scripts "$pkg@$ver" >/dev/null)
  fi
  got=$(sha256_of "$cache/$tgz")
  if [ "$got" != "$want" ]; then
    echo "install.sh: sha256 mismatch for $tgz: got $got, want $want" >&2
    rm -f "$cache/$tgz"
    exit 1
  fi
  rm -rf "$dest" "$dest.tmp"
  mkdir -p "$dest.tmp"
  tar -xzf "$cache/$tgz" -C "$dest.tmp" --strip-components=1
  echo "$want" > "$dest.tmp/.openlfr-sha256"
  mv "$dest.tmp" "$dest"
  echo "install.sh: installed $pkg@$ver (sha256 $want) in $dest"
}

install_pkg @tensorflow/tfjs-tflite 0.0.1-alpha.10 tensorflow-tfjs-tflite-0.0.1-alpha.10.tgz \
  wasm/tflite_web_api_cc_simd.wasm "${LFR_TFLITE_TGZ:-}"
install_pkg onnxruntime-common 1.30.0 onnxruntime-common-1.30.0.tgz dist/cjs/index.js
install_pkg onnxruntime-node 1.30.0 onnxruntime-node-1.30.0.tgz \
  bin/napi-v6/linux/x64/libonnxruntime.so.1
