#!/usr/bin/env bash
# Whether live transcription stays flat over a long stream (not a CI test): runs
# `whisper-clsr stream` on MINUTES of speech (FILE repeated, 2 s of silence after each copy)
# at real-time pace and reports, per tenth of the run: updates, committed words, per-word
# emission latency (commit emitted_at − word end; at real-time pace it includes the device's
# time), the GPU's activation memory (live, peak, pooled; `--stats-every`) and the process's
# resident memory (on a CPU driver the "GPU" memory is part of it).
#
#   scripts/bench-stream-hour.sh [--model DIR | --tiny-random] [--minutes N] [FILE]
#
# Defaults: whisper-tiny.en, 60 minutes, ../shared/fixtures/jfk.wav. The run takes MINUTES of
# wall time, plus the build. `--tiny-random` streams through the test kit's tiny random-weight
# Whisper instead (test-kit/src/tiny_whisper.rs): its text is noise, but it keeps up with real
# time on a CPU driver, so the stream's own machinery (voice activity detection, agreement,
# prompts, buffer trimming, the GPU pool) is run for the whole hour where a real model cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/whisper-tiny.en
tiny_random=
minutes=60
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --tiny-random) tiny_random=1; shift ;;
    --minutes) minutes=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
file=${1:-../shared/fixtures/jfk.wav}
[[ -f $file ]] || { echo "no such file: $file" >&2; exit 2; }
export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

scripts/workspace-run.sh whisper-clsr --version >&2
bin=target/debug/whisper-clsr
work=${BENCH_STREAM_HOUR_DIR:-$(mktemp -d)}
mkdir -p "$work"
echo "bench-stream-hour: files in $work" >&2
if [[ -n $tiny_random ]]; then
  model=$work/tiny-whisper
  scripts/workspace-run.sh tiny-whisper "$model" >&2
fi

# MINUTES of FILE repeated, each copy followed by 2 s of silence, as 16 kHz f32le PCM.
python3 - "$file" "$minutes" "$work/stream.f32" <<'PY'
import sys, wave, array
src, minutes, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
with wave.open(src) as w:
    assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, \
        f"{src}: expected 16 kHz mono 16-bit WAV"
    pcm = array.array("h", w.readframes(w.getnframes()))
copy = array.array("f", (s / 32768 for s in pcm)) + array.array("f", [0.0] * 32000)
total = int(minutes * 60 * 16000)
with open(out, "wb") as f:
    written = 0
    while written < total:
        part = copy[: total - written]
        part.tofile(f)
        written += len(part)
PY

# Resident memory of the stream process every 30 s.
"$bin" stream --model "$model" --input - --clock realtime --format json --stats-every 60 \
  <"$work/stream.f32" >"$work/events.jsonl" 2>"$work/stderr.txt" &
pid=$!
: >"$work/rss.txt"
# A device slower than real time falls behind and would take far longer than MINUTES to
# work through the backlog: the stream is stopped 5 minutes after its audio has all arrived.
deadline=$((SECONDS + ${minutes%.*} * 60 + 300))
stopped=
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [[ -n $rss ]] && echo "$(date +%s) $rss" >>"$work/rss.txt"
  if ((SECONDS > deadline)); then
    kill "$pid"
    stopped=1
    break
  fi
  sleep 30
done
wait "$pid" || [[ -n $stopped ]]
grep -v '"type":"stats"' "$work/stderr.txt" >&2 || true
[[ -z $stopped ]] || echo "stopped 5 minutes after the audio ended: the device did not keep up with real time" >&2

python3 - "$work" "$minutes" <<'PY'
import json, sys
work, minutes = sys.argv[1], float(sys.argv[2])
events = [json.loads(l) for l in open(f"{work}/events.jsonl")]
stats = [s for s in (json.loads(l) for l in open(f"{work}/stderr.txt") if l.startswith("{"))
         if s.get("type") == "stats"]
rss = [tuple(map(int, l.split())) for l in open(f"{work}/rss.txt")]
commits = [e for e in events if e["type"] == "commit"]
span = minutes * 60 / 10

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

print(f"{minutes:g} minutes at real-time pace; per tenth of the stream ({span / 60:g} min of audio):")
print(f"{'audio min':>9} {'updates':>8} {'words':>6} {'lat p50':>8} {'lat p90':>8} {'GPU live MiB':>13} {'GPU peak MiB':>13} {'pooled MiB':>11} {'RSS MiB':>8}")
t0 = rss[0][0] if rss else 0
prev_updates = 0
for i in range(10):
    lo, hi = i * span, (i + 1) * span
    words = [(c["emitted_at"] - w["end"]) for c in commits for w in c["words"] if lo <= w["end"] < hi]
    # The last stats line within this tenth (none where the stream never got this far).
    last = [s for s in stats if lo + 1 < s["audio"] <= hi + 1]
    s = last[-1] if last else None
    updates = (s["updates"] - prev_updates) if s else 0
    prev_updates = s["updates"] if s else prev_updates
    # Resident memory at the wall time this tenth's audio was consumed.
    r = [kb for t, kb in rss if s and t - t0 <= s["wall"]]
    mib = lambda b: b / 2**20
    print(f"{hi / 60:>9.1f} {updates:>8} {len(words):>6} {pct(words, .5):>8.2f} {pct(words, .9):>8.2f}"
          f" {mib(s['gpu_live_bytes']) if s else float('nan'):>13.1f} {mib(s['gpu_peak_bytes']) if s else float('nan'):>13.1f}"
          f" {mib(s['gpu_pooled_bytes']) if s else float('nan'):>11.1f} {(r[-1] / 1024 if r else float('nan')):>8.1f}")
revisions = sum(1 for a, b in zip(commits, commits[1:]) for w in b["words"] if w["start"] < a["end"] - 1e-6)
if stats:
    print(f"audio consumed: {stats[-1]['audio'] / 60:.1f} of {minutes:g} min, {stats[-1]['updates']} updates, "
          f"in {stats[-1]['wall'] / 60:.1f} min of wall time")
print(f"commits: {len(commits)}, committed words: {sum(len(c['words']) for c in commits)}, committed-word revisions: {revisions}")
PY
