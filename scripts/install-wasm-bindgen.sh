#!/usr/bin/env bash
# Installs the wasm-bindgen CLI of exactly the version Cargo.lock pins for the wasm-bindgen
# crate (the two must match) into .cache/tools/wasm-bindgen-VERSION/, once, and prints the
# path of the binary. scripts/build-web.sh calls it; scripts/setup.sh calls it to install up front.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

log() { echo "install-wasm-bindgen: $*" >&2; }
die() { log "error: $*"; exit 1; }

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[[ -n $version ]] || die "no wasm-bindgen entry in Cargo.lock"
tools=.cache/tools/wasm-bindgen-$version
bindgen=$tools/bin/wasm-bindgen
if [[ ! -x $bindgen ]]; then
  log "installing wasm-bindgen-cli $version into $tools (once; a few minutes)"
  # Its own target dir, so this build does not disturb the project's.
  CARGO_TARGET_DIR="$tools/build" cargo install --quiet wasm-bindgen-cli --version "=$version" \
    --root "$tools" || die "could not install wasm-bindgen-cli $version from crates.io"
  rm -rf "$tools/build"
fi
[[ $("$bindgen" --version) == "wasm-bindgen $version" ]] \
  || die "$bindgen reports '$("$bindgen" --version)', expected wasm-bindgen $version"
echo "$bindgen"
