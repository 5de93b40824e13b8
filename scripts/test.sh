#!/usr/bin/env bash
# Runs the whole test suite: sets up what is missing (scripts/setup.sh test: system packages,
# Rust targets and components, the wasm-bindgen CLI, the test models, the browser tests' npm
# packages), checks the wasm build, then runs every test on the first Vulkan device (lavapipe
# without a GPU), then the browser tests in headless Chromium (scripts/test-web.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
export PATH="$PWD/.cache/python/bin:$PATH:$HOME/.cargo/bin"

export WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
# lavapipe's window-system code warns without a runtime dir; tests draw no windows.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

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
