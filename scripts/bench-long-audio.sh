#!/usr/bin/env bash
# Peak memory of transcribing an hour-long file with the CLI (not a CI test). Synthesises a
# 60-minute 22.05 kHz mono FLAC of speech and silence (jfk.wav and espeak-ng voices, pauses of
# 2 s to 95 s), runs `whisper-clsr transcribe` on it under /usr/bin/time -v, and prints the
# peak RSS beside the peak RSS of the same command on a 1 s clip (the model, the GPU runtime
# and the tokenizer: "model memory"). The bound to meet: hour ≤ model memory + 600 MB.
#
#   scripts/bench-long-audio.sh [--model DIR] [--minutes N] [--full]
#
# Without --full the hour is transcribed with --max-tokens 1: every window that is not
# digital silence still goes through the streaming front-end, the encoder and the decoder,
# so the memory is that of a real run, but the decoding (about 30+ minutes on lavapipe) is
# cut short. --full transcribes it completely.
# Needs: espeak-ng, sox (with FLAC), /usr/bin/time, the fixtures (../shared/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/whisper-tiny.en
minutes=60
full=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --full) full=true; shift ;;
    *) echo "usage: scripts/bench-long-audio.sh [--model DIR] [--minutes N] [--full]" >&2; exit 2 ;;
  esac
done
for tool in espeak-ng sox /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-long-audio: $tool is missing (apt-get install espeak-ng sox time)" >&2; exit 2; }
done
fixtures=${WHISPER_CLSR_FIXTURES:-../shared/fixtures}
[[ -f $fixtures/jfk.wav ]] || { echo "bench-long-audio: no $fixtures/jfk.wav (set WHISPER_CLSR_FIXTURES)" >&2; exit 2; }
export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}

# Built with the workspace's dependency features, so the test build's dependencies serve it.
scripts/workspace-run.sh whisper-clsr --version >&2
bin=target/debug/whisper-clsr
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One block of about 5 minutes: four voices and jfk.wav twice, pauses between them (the 95 s
# and 70 s ones hold whole 30 s windows of digital silence, which the silence gate skips).
speak() { # voice speed text name
  espeak-ng -v "$1" -s "$2" -w "$work/$4.raw.wav" "$3"
  sox "$work/$4.raw.wav" -r 16000 -c 1 -b 16 "$work/$4.wav"
}
speak en-us 150 "The weather today is cold and windy, with a chance of rain in the afternoon. Please remember to bring an umbrella if you are going outside." a
speak en-gb 140 "Our library opens at nine in the morning and closes at six in the evening. Children can borrow up to five books at a time." b
speak en-us+f3 160 "The train to the airport leaves every twenty minutes from platform four. Tickets can be bought on board or at the machines in the hall." c
speak en-gb+m3 130 "Please switch off your phones before the concert begins, and enjoy the music." d
sox -r 16000 -c 1 -b 16 "$fixtures/jfk.wav" "$work/jfk.wav"
gap() { sox -n -r 16000 -c 1 -b 16 "$work/gap$1.wav" trim 0 "$1"; }
for s in 2 5 12 70 95; do gap "$s"; done
sox "$work/jfk.wav" "$work/gap2.wav" "$work/a.wav" "$work/gap5.wav" "$work/b.wav" "$work/gap95.wav" \
  "$work/c.wav" "$work/gap12.wav" "$work/jfk.wav" "$work/gap70.wav" "$work/d.wav" "$work/gap5.wav" "$work/block.wav"
block_s=$(soxi -D "$work/block.wav")
repeats=$(python3 -c "import math; print(math.ceil($minutes * 60 / $block_s))")
blocks=()
for ((i = 0; i < repeats; i++)); do blocks+=("$work/block.wav"); done
hour=$work/hour.flac
sox "${blocks[@]}" -r 22050 "$hour" trim 0 "$((minutes * 60))"
sox -r 16000 -c 1 -b 16 "$fixtures/jfk.wav" -r 22050 "$work/one.flac" trim 0 1
echo "bench-long-audio: $hour: $(soxi -d "$hour"), $(soxi -r "$hour") Hz, $(stat -c %s "$hour") bytes" >&2

peak_kb() { # label file...: runs the CLI, prints the peak RSS in kB
  local label=$1; shift
  local extra=(--max-tokens 1)
  $full && extra=()
  /usr/bin/time -v -o "$work/$label.time" "$bin" transcribe --model "$model" --language en \
    "${extra[@]}" --format json "$@" >"$work/$label.json" 2>"$work/$label.log" \
    || { cat "$work/$label.log" >&2; exit 1; }
  awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$label.time"
}
start=$SECONDS
base=$(peak_kb one "$work/one.flac")
hour_kb=$(peak_kb hour "$hour")
took=$((SECONDS - start))
grep -E "transcribing|RTF" "$work/hour.log" >&2 || true
segments=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['segments']))" "$work/hour.json")
pcm_mb=$(python3 -c "print(round($minutes * 60 * 16000 * 4 / 1e6))")
echo "device: $(grep -m1 '^device:' "$work/hour.log" | cut -d' ' -f2-)"
echo "model: $model ($(du -shL "$model" | cut -f1) on disk)"
echo "peak RSS, 1 s clip (model memory): $((base / 1024)) MiB"
echo "peak RSS, ${minutes}-minute file:      $((hour_kb / 1024)) MiB (+$(((hour_kb - base) / 1024)) MiB; bound +600 MB)"
echo "for scale: the ${minutes} minutes as 16 kHz f32 PCM alone are ${pcm_mb} MB"
echo "segments: $segments; wall time of both runs: ${took} s; full decoding: $full"
if ((hour_kb - base > 600 * 1000 * 1000 / 1024)); then
  echo "bench-long-audio: FAIL: the hour needs more than model memory + 600 MB" >&2
  exit 1
fi
