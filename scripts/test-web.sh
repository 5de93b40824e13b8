#!/usr/bin/env bash
# Browser end-to-end tests: sets up what is missing (scripts/setup.sh web: chromium, Node.js,
# the packages tests/e2e/package-lock.json pins, the models), builds the wasm package and the
# npm package (scripts/build-npm.sh), links the test models into www/models/, makes test
# expert packs in www/packs/ and runs tests/e2e/*.test.mjs in headless Debian Chromium. Without
# a GPU, WebGPU runs on lavapipe (scripts/lavapipe-browser.sh; docs/testing.md) where it can be
# set up, else on SwiftShader. Screenshots go to test-output/; per-file times are printed at the
# end and recorded in docs/benchmarks.md.
# Usage: scripts/test-web.sh [TEST_FILE...]
# Needs: ../shared/fixtures (or WHISPER_CLSR_FIXTURES); scripts/setup.sh installs the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh web
export PATH="$PATH:$HOME/.cargo/bin"
scripts/build-web.sh
SKIP_WEB_BUILD=1 scripts/build-npm.sh >/dev/null
scripts/link-web-models.sh whisper-base whisper-tiny.en silero-vad

# Expert packs for the API test, freshly initialised by the CLI (expert = copy of the FFN; built
# as scripts/test.sh's Rust tests build it, scripts/workspace-run.sh):
# one for tiny.en that routes, one for base that tiny.en must refuse. Remade when the model is newer.
mkdir -p www/packs
for model in whisper-tiny.en whisper-base; do
  pack=www/packs/$model-en-init.safetensors
  if [[ ! -f $pack || models/$model/model.safetensors -nt $pack ]]; then
    scripts/workspace-run.sh whisper-clsr pack init --model "models/$model" --language en --out "$pack"
  fi
done
# WebGPU on lavapipe when it can be set up (scripts/lavapipe-browser.sh) and Chromium gets an
# adapter from it (tests/e2e/webgpu-probe.mjs), else SwiftShader;
# WHISPER_CLSR_BROWSER_WEBGPU=swiftshader keeps SwiftShader.
if [[ -z ${WHISPER_CLSR_REAL_GPU:-} && ${WHISPER_CLSR_BROWSER_WEBGPU:-lavapipe} == lavapipe ]] \
  && lavapipe=$(scripts/lavapipe-browser.sh) \
  && adapter=$(WHISPER_CLSR_LAVAPIPE=$lavapipe timeout 120 node tests/e2e/webgpu-probe.mjs); then
  export WHISPER_CLSR_LAVAPIPE=$lavapipe
  echo "test-web: WebGPU runs on lavapipe ($lavapipe): $adapter" >&2
else
  unset WHISPER_CLSR_LAVAPIPE
  [[ -n ${WHISPER_CLSR_REAL_GPU:-} ]] || echo "test-web: WebGPU runs on SwiftShader" >&2
fi

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
