#!/usr/bin/env bash
# Makes the converted models (models/NAME, from scripts/fetch-models.sh) available to the web
# site at www/models/NAME/ (git-ignored) as symbolic links, so nothing is copied.
# silero-vad (the voice activity detector live transcription fetches) is linked the same way.
# Usage: scripts/link-web-models.sh [NAME...]   (default: whisper-base whisper-tiny.en silero-vad)
set -euo pipefail
cd "$(dirname "$0")/.."

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(whisper-base whisper-tiny.en silero-vad)
mkdir -p www/models
for name in "${names[@]}"; do
  weights=model.safetensors
  [[ $name == silero-vad ]] && weights=silero_vad.onnx
  [[ -f models/$name/$weights ]] \
    || { echo "link-web-models: models/$name is missing: run scripts/fetch-models.sh" >&2; exit 1; }
  # The target resolves models/ itself, which may be a link to a shared model folder.
  ln -sfn "$(cd "models/$name" && pwd -P)" "www/models/$name"
done
