#!/usr/bin/env bash
# Runs the whole test suite: fetches and converts the test models (cached), checks the
# wasm build, then runs every test on the first Vulkan device (lavapipe without a GPU), then
# the browser tests in headless Chromium (scripts/test-web.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

export WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
# lavapipe's window-system code warns without a runtime dir; tests draw no windows.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

if ! command -v vulkaninfo >/dev/null 2>&1 && ! ldconfig -p | grep -q libvulkan_lvp; then
  echo "note: no Vulkan driver found; on Debian install mesa-vulkan-drivers (lavapipe)" >&2
fi
if ! python3 -c 'import numpy' 2>/dev/null; then
  echo "error: the audio tests need numpy: pip install numpy" >&2
  exit 1
fi
if ! python3 -c 'import onnxruntime' 2>/dev/null; then
  echo "error: the voice activity tests need onnxruntime: pip install onnxruntime" >&2
  exit 1
fi

scripts/fetch-models.sh

echo "== wasm32 build check" >&2
cargo build --lib --target wasm32-unknown-unknown --no-default-features

echo "== clippy and format" >&2
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== tests" >&2
cargo test --workspace -- --test-threads="${TEST_THREADS:-2}"

echo "== browser end-to-end tests (headless Chromium)" >&2
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
scripts/test-web.sh
