#!/usr/bin/env bash
# Browser benchmark in headless Chromium: encoder ms, tokens/s and real-time factor on jfk.wav,
# and the wasm package size raw and gzipped. Usage: scripts/bench-web.sh [MODEL] [RUNS]
# (default whisper-base, 1 run; SwiftShader without a GPU is slow). Results also land in
# test-output/bench-web-MODEL.json. Set WHISPER_CLSR_REAL_GPU=1 on a machine with a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh web
export PATH="$PATH:$HOME/.cargo/bin"
scripts/build-web.sh
scripts/link-web-models.sh "${1:-whisper-base}"
cd tests/e2e && node bench.mjs "$@"
