#!/usr/bin/env bash
# Builds the npm package `whisper-clsr` into dist/npm/ (git-ignored) and packs it into
# dist/whisper-clsr-VERSION.tgz with `npm pack`; prints the tarball's path on stdout.
#
# The package is the JS API from www/ as it is served unbundled (whisper-clsr.js, worker.js,
# lib/, whisper-clsr.d.ts) plus the wasm-bindgen output from scripts/build-web.sh (pkg/). The
# files find each other with `new URL("./…", import.meta.url)`, which Vite and webpack 5
# follow when bundling, so an app needs no bundler configuration. The version is the runtime
# crate's version in Cargo.toml; the package's README is the "Using the npm package" section of
# docs/web.md.
#
# Usage: scripts/build-npm.sh          (SKIP_WEB_BUILD=1 reuses an existing www/pkg/)
# Needs: what scripts/build-web.sh needs, and npm.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

log() { echo "build-npm: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v npm >/dev/null || die "npm not found: install Node.js with npm (Debian: apt-get install nodejs npm)"

if [[ -z ${SKIP_WEB_BUILD:-} ]]; then
  scripts/build-web.sh
fi
[[ -f www/pkg/whisper_clsr_bg.wasm ]] || die "www/pkg/ is missing: run scripts/build-web.sh"

# The [package] version of Cargo.toml (the first `version =` line before any other table).
version=$(awk '/^\[/ { if (seen) exit; seen = ($0 == "[package]"); next }
               seen && /^version *=/ { gsub(/version *= *|"/, ""); print; exit }' Cargo.toml)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "no version in Cargo.toml's [package] table (got '$version')"

out=dist/npm
log "assembling $out (version $version)"
rm -rf "$out"
mkdir -p "$out/lib" "$out/pkg"
cp www/whisper-clsr.js www/worker.js www/whisper-clsr.d.ts "$out/"
cp www/lib/*.js "$out/lib/"
cp www/pkg/whisper_clsr.js www/pkg/whisper_clsr_bg.wasm "$out/pkg/"

# The "Using the npm package" section of docs/web.md, up to the next heading of the same level.
awk '/^## Using the npm package/ { on = 1 } on && /^## / && !/^## Using the npm package/ { exit } on' \
  docs/web.md >"$out/README.md"
[[ -s $out/README.md ]] || die "docs/web.md has no '## Using the npm package' section"

cat >"$out/package.json" <<EOF
{
  "name": "whisper-clsr",
  "version": "$version",
  "description": "Whisper speech recognition in the browser on WebGPU: Rust compiled to WebAssembly with hand-written WGSL kernels, in a Web Worker, with DistilWhisper language experts",
  "license": "MIT",
  "type": "module",
  "main": "./whisper-clsr.js",
  "module": "./whisper-clsr.js",
  "types": "./whisper-clsr.d.ts",
  "exports": {
    ".": {
      "types": "./whisper-clsr.d.ts",
      "default": "./whisper-clsr.js"
    },
    "./package.json": "./package.json"
  },
  "files": [
    "whisper-clsr.js",
    "whisper-clsr.d.ts",
    "worker.js",
    "lib/*.js",
    "pkg/whisper_clsr.js",
    "pkg/whisper_clsr_bg.wasm"
  ],
  "sideEffects": false,
  "keywords": ["whisper", "speech-recognition", "asr", "webgpu", "wasm", "transcription", "wgsl"]
}
EOF

log "npm pack"
tarball=$(cd dist && npm pack ./npm --silent)
[[ -f dist/$tarball ]] || die "npm pack made no dist/$tarball"
log "dist/$tarball: $(stat -c %s "dist/$tarball") bytes, $(tar -tzf "dist/$tarball" | wc -l) files"
echo "dist/$tarball"
