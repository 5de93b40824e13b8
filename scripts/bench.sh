#!/usr/bin/env bash
# Whole-pipeline benchmark on jfk.wav: this crate (WGSL kernels on the first wgpu device —
# lavapipe on machines without a GPU) side by side with candle-transformers' CPU Whisper,
# for whisper-tiny.en and whisper-base. Prints mel ms, encoder ms, decoder ms/token, RTF and
# the ratios. Extra arguments go to the benchmark (e.g. --runs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

scripts/fetch-models.sh
cargo run --release --quiet --example bench_whisper -- "$@" \
  models/whisper-tiny.en models/whisper-base
