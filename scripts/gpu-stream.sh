#!/usr/bin/env bash
# Live transcription of a real model on a machine with a GPU (docs/streaming.md, "On a GPU"):
#   1. scripts/bench-stream.sh --clock realtime on Sonnet 1 (53 s of natural speech): per-word
#      emission latency with the device's time included, partial stability, streamed vs offline
#      WER against the text, words on 60 s of noise;
#   2. scripts/bench-stream-hour.sh --clock simulated on jfk.wav repeated for MINUTES (default
#      60): the wall time per update and the GPU's memory per tenth of the stream, which must
#      stay flat (at real-time pace a device falls behind once an update's time grows).
#
#   scripts/gpu-stream.sh --pack DIR [--model DIR] [--call-mib N]
#       here (a build machine): the release whisper-clsr (stripped), the voice activity weights,
#       the clips and their texts, and the model's files, its weights cut into parts so that
#       each call of the device tool carries at most N MiB (default 60; the tool takes 64 MiB a
#       call, the repository's tracked files and the Vulkan loader packages included); and the
#       Vulkan loader packages in .gl (the device tool's recipe: the GPU machine has none).
#       Prints the paths each call must carry: the machine keeps what earlier calls brought
#       while it stays warm, so the weights arrive over consecutive calls.
#   scripts/gpu-stream.sh --prebuilt DIR [--minutes N] [--max-wall SECONDS] [--hour-only]
#       on the GPU machine: joins the weights (checking their SHA-256), then runs 1 and 2 (only
#       2 with --hour-only); the hour is stopped after --max-wall seconds (default 360) with the
#       share of it consumed.
#
# Reports go to OUT (default test-output/gpu-stream): sonnet-realtime.txt, hour.txt and the
# runs' events.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

die() { echo "gpu-stream: error: $*" >&2; exit 2; }
log() { echo "gpu-stream: $*" >&2; }

# DIR/kit: what the first call carries beside the first part of the weights (the binary,
# the Silero weights, the clips, the model's small files and the weights' SHA-256);
# DIR/weights/part-NN: the weights, one part per call.
pack() {
  local dir=$1 model=$2 call_mib=$3
  [[ -f $model/model.safetensors ]] || die "$model/model.safetensors is missing: run scripts/fetch-models.sh"
  [[ -f models/silero-vad/silero_vad.onnx ]] || die "models/silero-vad/silero_vad.onnx is missing: run scripts/fetch-models.sh"
  local sonnet
  sonnet=$(scripts/fetch-sonnet.sh)
  log "building whisper-clsr (release)"
  cargo build --release --quiet --bin whisper-clsr
  local kit=$dir/kit name
  name=$(basename "$model")
  rm -rf "$dir"
  mkdir -p "$kit/bin" "$kit/vad" "$kit/audio" "$kit/model/$name" "$dir/weights"
  cp target/release/whisper-clsr "$kit/bin/"
  strip "$kit/bin/whisper-clsr" 2>/dev/null || true
  cp models/silero-vad/silero_vad.onnx "$kit/vad/"
  cp ../shared/fixtures/jfk.wav ../shared/fixtures/jfk.txt "$sonnet/sonnet-1.wav" "$sonnet/sonnet-1.txt" "$kit/audio/"
  find "$model" -maxdepth 1 -type f ! -name model.safetensors ! -name '.*' -exec cp {} "$kit/model/$name/" \;
  (cd "$model" && sha256sum model.safetensors) >"$kit/model/$name/model.safetensors.sha256"
  if ! compgen -G ".gl/libvulkan1_*.deb" >/dev/null; then
    log "downloading the Vulkan loader packages into .gl"
    local lists=/tmp/gpu-stream-apt
    local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists)
    rm -rf .gl.tmp && mkdir -p .gl.tmp "$lists/partial"
    { apt-get "${o[@]}" update >/dev/null &&
      (cd .gl.tmp && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>/dev/null); } ||
      die "could not download the Vulkan loader packages with apt-get (a Debian or Ubuntu machine with network is needed)"
    rm -rf .gl && mv .gl.tmp .gl
  fi
  # Every call carries the repository's tracked files too; 1 MiB is kept spare.
  local tree first later
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  later=$((call_mib * 1048576 - tree - 1048576))
  first=$((later - $(du -cb .gl "$kit" | tail -1 | cut -f1)))
  ((first > 1048576)) || die "--call-mib $call_mib leaves no room for the weights in the first call"
  python3 - "$model/model.safetensors" "$dir/weights" "$first" "$later" <<'PY'
import sys
src, out, first, later = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(src, "rb") as f:
    k, limit = 0, first
    while chunk := f.read(limit):
        with open(f"{out}/part-{k:02d}", "wb") as part:
            part.write(chunk)
        k, limit = k + 1, later
PY
  local parts=("$dir"/weights/part-*)
  log "packed $(du -sh "$dir" | cut -f1) in $dir; the device calls carry, one after the other:"
  echo "call 1: .gl $kit ${parts[0]}   (its command begins: for f in .gl/*.deb; do dpkg -x \$f /; done; ldconfig;)"
  local k
  for ((k = 1; k < ${#parts[@]}; k++)); do
    echo "call $((k + 1)): ${parts[k]}"
  done
  echo "the last call's command: OUT=\$OUT scripts/gpu-stream.sh --prebuilt $dir"
}

prebuilt() {
  local dir=$1 minutes=$2 max_wall=$3 hour_only=$4
  local out=${OUT:-test-output/gpu-stream} kit=$dir/kit
  [[ -x $kit/bin/whisper-clsr ]] || die "$kit/bin/whisper-clsr is missing: make the pack with scripts/gpu-stream.sh --pack $dir on a build machine"
  local small model
  small=$(find "$kit/model" -mindepth 1 -maxdepth 1 -type d | head -1)
  [[ -n $small ]] || die "no model in $kit/model"
  # Joined beside the kit, not in it, so that the kit still fits a call after a trial run here.
  model=$dir/joined/$(basename "$small")
  mkdir -p "$model"
  cp "$small"/* "$model"/
  if ! (cd "$model" && sha256sum --quiet -c model.safetensors.sha256 >/dev/null 2>&1); then
    local parts=("$dir"/weights/part-*)
    [[ -f ${parts[0]} ]] || die "no weights in $dir/weights: carry them (scripts/gpu-stream.sh --pack prints the calls)"
    cat "${parts[@]}" >"$model/model.safetensors"
    (cd "$model" && sha256sum --quiet -c model.safetensors.sha256) ||
      die "the joined weights do not match their SHA-256: a part is missing or cut short (${#parts[@]} parts here); carry every part the pack listed"
  fi
  mkdir -p "$out"
  # The lent machine's NVIDIA Vulkan driver sits outside the loader's search path.
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ -z ${VK_DRIVER_FILES:-} && -f $icd ]]; then
    export VK_DRIVER_FILES=$icd
  fi
  ldconfig -p 2>/dev/null | grep -q libvulkan ||
    log "no Vulkan loader (libvulkan.so.1) here: unpack .gl first (for f in .gl/*.deb; do dpkg -x \$f /; done; ldconfig)"
  export WHISPER_CLSR_BIN=$kit/bin/whisper-clsr
  # The CLI's default place for the Silero weights.
  if [[ ! -f models/silero-vad/silero_vad.onnx ]]; then
    mkdir -p models/silero-vad
    cp "$kit/vad/silero_vad.onnx" models/silero-vad/
  fi
  "$WHISPER_CLSR_BIN" --version
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  fi
  if [[ $hour_only == no ]]; then
    log "1. Sonnet 1 at real-time pace with $(basename "$model")"
    scripts/bench-stream.sh --model "$model" --clock realtime --language en \
      --reference "$kit/audio/sonnet-1.txt" --keep "$out/sonnet-realtime" "$kit/audio/sonnet-1.wav" 2>&1 |
      tee "$out/sonnet-realtime.txt"
  fi
  log "2. $minutes minutes of jfk.wav on the simulated clock (at most $max_wall s)"
  BENCH_STREAM_HOUR_DIR=$out/hour scripts/bench-stream-hour.sh --model "$model" --clock simulated \
    --minutes "$minutes" --max-wall "$max_wall" "$kit/audio/jfk.wav" 2>&1 | tee "$out/hour.txt"
  rm -f "$out/hour/stream.f32"
}

case ${1:-} in
  --pack)
    [[ $# -ge 2 ]] || die "usage: scripts/gpu-stream.sh --pack DIR [--model DIR] [--call-mib N]"
    dir=$2 model=models/whisper-base call_mib=60
    shift 2
    while [[ $# -gt 0 ]]; do
      case $1 in
        --model) model=$2; shift 2 ;;
        --call-mib) call_mib=$2; shift 2 ;;
        *) die "unknown option $1" ;;
      esac
    done
    pack "$dir" "$model" "$call_mib"
    ;;
  --prebuilt)
    [[ $# -ge 2 ]] || die "usage: scripts/gpu-stream.sh --prebuilt DIR [--minutes N] [--max-wall SECONDS] [--hour-only]"
    dir=$2 minutes=60 max_wall=360 hour_only=no
    shift 2
    while [[ $# -gt 0 ]]; do
      case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --max-wall) max_wall=$2; shift 2 ;;
        --hour-only) hour_only=yes; shift ;;
        *) die "unknown option $1" ;;
      esac
    done
    prebuilt "$dir" "$minutes" "$max_wall" "$hour_only"
    ;;
  *) die "usage: scripts/gpu-stream.sh --pack DIR [--model DIR] [--call-mib N] | --prebuilt DIR [--minutes N] [--max-wall SECONDS] [--hour-only]" ;;
esac
