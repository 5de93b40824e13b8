#!/usr/bin/env bash
# Whole-pipeline benchmark on jfk.wav: this crate (WGSL kernels on the first wgpu device —
# lavapipe on machines without a GPU) side by side with candle-transformers' CPU Whisper,
# for whisper-tiny.en and whisper-base, then faster-whisper (CTranslate2 on the CPU) on
# whisper-tiny.en's CTranslate2 original, the weights ours were converted from. Prints mel ms,
# encoder ms, decoder ms/token, RTF and the ratios. Extra arguments go to bench_whisper
# (e.g. --runs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

scripts/fetch-models.sh
cargo run --release --quiet --example bench_whisper -- "$@" \
  models/whisper-tiny.en models/whisper-base

# faster-whisper lives in the Python environment scripts/setup.sh test makes.
python=.cache/python/bin/python3
if [[ -x $python ]] && "$python" -c "import faster_whisper" 2>/dev/null; then
  "$python" scripts/bench-faster-whisper.py models/whisper-tiny.en-ct2 "${WHISPER_CLSR_FIXTURES:-../shared/fixtures}/jfk.wav"
else
  echo "bench: faster-whisper is not installed; scripts/setup.sh test installs it into .cache/python" >&2
fi
