#!/usr/bin/env bash
# Browser end-to-end tests: sets up what is missing (scripts/setup.sh web: chromium, Node.js,
# the packages tests/e2e/package-lock.json pins, the models), builds the wasm package and the
# npm package (scripts/build-npm.sh), links the test models into www/models/, makes test
# expert packs in www/packs/ and runs tests/e2e/*.test.mjs in headless Debian Chromium (WebGPU
# on SwiftShader without a GPU).
# Screenshots go to test-output/. On 2 idle cores the suite took about 13 minutes (28 minutes
# measured with other builds running beside it) before npm-package and offline, which add a
# tiny.en transcription each (about 3 minutes idle); see docs/benchmarks.md for per-file figures.
# Usage: scripts/test-web.sh [TEST_FILE...]
# Needs: ../shared/fixtures (or WHISPER_CLSR_FIXTURES); scripts/setup.sh installs the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh web
export PATH="$PATH:$HOME/.cargo/bin"
scripts/build-web.sh
SKIP_WEB_BUILD=1 scripts/build-npm.sh >/dev/null
scripts/link-web-models.sh whisper-base whisper-tiny.en silero-vad

# Expert packs for the API test, freshly initialised by the CLI (expert = copy of the FFN):
# one for tiny.en that routes, one for base that tiny.en must refuse. Remade when the model is newer.
mkdir -p www/packs
for model in whisper-tiny.en whisper-base; do
  pack=www/packs/$model-en-init.safetensors
  if [[ ! -f $pack || models/$model/model.safetensors -nt $pack ]]; then
    cargo run --quiet --bin whisper-clsr -- pack init --model "models/$model" --language en --out "$pack"
  fi
done
# Arguments pick test files (e.g. api.test.mjs); default: all of them.
cd tests/e2e
if [[ $# -gt 0 ]]; then files=("$@"); else files=(./*.test.mjs); fi
# One file at a time: each starts its own browser, and SwiftShader wants every core. A failing
# file does not stop the others: one run shows every failure, then the per-file times.
failed=() times=()
for file in "${files[@]}"; do
  echo "test-web: $file" >&2
  start=$SECONDS
  node --test --test-reporter=spec "$file" || failed+=("$file")
  times+=("$((SECONDS - start)) s $file")
  echo "test-web: $file took $((SECONDS - start)) s" >&2
done
printf 'test-web: %s\n' "${times[@]}" >&2
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "test-web: FAILED: ${failed[*]}" >&2
  exit 1
fi
