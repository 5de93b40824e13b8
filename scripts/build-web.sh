#!/usr/bin/env bash
# Builds the browser package: the runtime crate for wasm32-unknown-unknown (release), then
# wasm-bindgen's ES-module glue into www/pkg/ (git-ignored). After this, serving www/ as static
# files with a model at www/models/whisper-base/ works (scripts/demo.sh does both).
#
# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock;
# scripts/install-wasm-bindgen.sh installs it once into .cache/tools/wasm-bindgen-VERSION/.
#
# Environment:
#   WEB_PROFILE=release|dev   cargo profile of the wasm build (default release)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

log() { echo "build-web: $*" >&2; }
die() { log "error: $*"; exit 1; }

profile="${WEB_PROFILE:-release}"
case $profile in
  release) profile_flag=(--release); profile_dir=release ;;
  dev) profile_flag=(); profile_dir=debug ;;
  *) die "WEB_PROFILE must be release or dev, not '$profile'" ;;
esac

# grep reads all of rustup's output (not -q, which can stop early and, under pipefail, fail the
# pipeline with SIGPIPE).
rustup target list --installed 2>/dev/null | grep -x wasm32-unknown-unknown >/dev/null \
  || die "the Rust target wasm32-unknown-unknown is missing: rustup target add wasm32-unknown-unknown"

bindgen=$(scripts/install-wasm-bindgen.sh)

log "cargo build ($profile) for wasm32-unknown-unknown"
cargo build "${profile_flag[@]}" --lib --target wasm32-unknown-unknown --no-default-features

wasm=target/wasm32-unknown-unknown/$profile_dir/whisper_clsr.wasm
[[ -f $wasm ]] || die "cargo left no $wasm"
rm -rf www/pkg
"$bindgen" --target web --out-dir www/pkg --out-name whisper_clsr "$wasm"
log "www/pkg/whisper_clsr_bg.wasm: $(stat -c %s www/pkg/whisper_clsr_bg.wasm) bytes"
