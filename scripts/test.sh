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

# Each step's start is printed with the seconds elapsed; the Rust tests' per-binary times are
# kept in test-output/rust-tests.log and the slowest are listed at the end (CI's log keeps
# only its tail).
step() { echo "== $1 (at $SECONDS s)" >&2; }
mkdir -p test-output
rust_done=
# Printed on failure too: the timings are most wanted when a run is cut short. It runs in the
# EXIT trap, where errexit still applies: it must not fail, or it replaces the suite's exit
# status (`head` closing the pipe early once made sort die of SIGPIPE, exit 141, after a green
# run), so the last stage reads all its input and a failure is ignored.
summary() {
  [[ -s test-output/rust-tests.log ]] || return 0
  echo "Rust tests finished at ${rust_done:-?} s; their slowest binaries:" >&2
  awk '/Running /{name=$2 " " $3} /Doc-tests /{name="doc-tests " $2} /^test result:/{print $NF, name}' test-output/rust-tests.log \
    | sort -rn | awk 'NR <= 15' >&2 || true
}
trap summary EXIT
rm -f test-output/rust-tests.log

step "clippy, format and API docs (native and wasm32)"
cargo fmt --all -- --check
# The wasm32 lint first: it fails fast on code that does not compile for the browser (the
# release wasm build in scripts/test-web.sh then reuses nothing of a debug build, so there is
# no separate wasm32 build check).
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
cargo clippy --workspace --all-targets -- -D warnings
# The API docs build without warnings (a broken intra-doc link, a shape written as a link);
# it reuses clippy's checked dependencies, so it costs seconds.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet

step "tests"
# A Rust failure does not skip the browser tests: one run shows every failure.
rust_ok=1
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-2}" 2>&1 | tee test-output/rust-tests.log || rust_ok=
rust_done=$SECONDS

step "browser end-to-end tests (headless Chromium)"
scripts/test-web.sh
step "done"
if [[ -z $rust_ok ]]; then
  echo "the Rust tests failed: see the 'FAILED' lines in test-output/rust-tests.log" >&2
  exit 1
fi
