#!/usr/bin/env bash
# The main job, ready to try: fetches and converts the default model (whisper-base), builds
# the CLI and transcribes the sample clip (or the files given as arguments) on the first
# GPU found. The browser demo site takes over this script once the web build lands.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

scripts/fetch-models.sh
cargo build --release --bin whisper-clsr
clips=("$@")
if [ ${#clips[@]} -eq 0 ]; then
  clips=(../shared/fixtures/jfk.wav)
fi
target/release/whisper-clsr transcribe --model models/whisper-base --format json "${clips[@]}"
