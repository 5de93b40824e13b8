#!/usr/bin/env bash
# Builds and runs one of the workspace's binaries (debug profile):
#   scripts/workspace-run.sh whisper-clsr ARGS...     the command line
#   scripts/workspace-run.sh kernel-source ARGS...    test-kit's WGSL printer
#
# The binary is built with the dependency features that a build of the whole workspace
# resolves (`cargo test --workspace`, what scripts/test.sh runs). Cargo compiles a dependency
# once per feature set, and a plain `cargo run --bin whisper-clsr` resolves its package's
# features alone: it compiles wgpu, naga, tokenizers and the rest a second time, about as long
# as the test build's own dependencies on a clean machine. Built this way, the test suite's
# model conversion (scripts/fetch-models.sh), its browser tests' expert packs and its Rust tests
# share one build of the dependencies.
set -euo pipefail
# No cd: relative paths among ARGS stay relative to the caller's folder.
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ $# -lt 1 ]]; then
  echo "usage: scripts/workspace-run.sh whisper-clsr|kernel-source [ARGS...]" >&2
  exit 2
fi
bin=$1
shift
# The features the workspace's members ask of the runtime and of the test kit (Cargo.toml,
# train-native/Cargo.toml and test-kit/Cargo.toml). Selecting both packages with them gives the
# dependencies the feature sets of the whole-workspace build.
features=whisper-clsr/default,whisper-clsr/parity-tanh-gelu,whisper-clsr/torch-import,whisper-clsr-test-kit/candle
cargo build --quiet --manifest-path "$root/Cargo.toml" -p whisper-clsr -p whisper-clsr-test-kit \
  --features "$features" --bin "$bin"
exec "${CARGO_TARGET_DIR:-$root/target}/debug/$bin" "$@"
