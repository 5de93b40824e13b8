#!/usr/bin/env bash
# Whether live transcription stays flat over a long stream (not a CI test): runs
# `whisper-clsr stream` on MINUTES of speech (FILE repeated, 2 s of silence after each copy)
# at real-time pace and reports, per tenth of the run: updates, committed words, per-word
# emission latency (commit emitted_at − word end; at real-time pace it includes the device's
# time), the GPU's activation memory (live, peak, pooled; `--stats-every`) and the process's
# resident memory (on a CPU driver the "GPU" memory is part of it).
#
#   scripts/bench-stream-hour.sh [--model DIR | --tiny-random] [--minutes N]
#                                [--clock realtime|simulated] [--max-wall SECONDS] [FILE]
#
# `--clock simulated` feeds the audio as fast as the device decodes it instead of at real-time
# pace: an hour of audio takes what its updates cost, and the report adds the wall time per
# update in each tenth, which must stay flat as the stream goes on (at real-time pace a device
# falls behind once that time grows). `--max-wall` stops the stream after so many seconds of
# wall time (default: for real time, 5 minutes after the audio has all arrived; simulated,
# none) and the report says how much audio was consumed.
# WHISPER_CLSR_BIN=PATH uses that whisper-clsr binary instead of building one
# (scripts/gpu-stream.sh on a machine without a Rust toolchain).
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
clock=realtime
max_wall=
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --tiny-random) tiny_random=1; shift ;;
    --minutes) minutes=$2; shift 2 ;;
    --clock) clock=$2; shift 2 ;;
    --max-wall) max_wall=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
file=${1:-../shared/fixtures/jfk.wav}
[[ -f $file ]] || { echo "no such file: $file" >&2; exit 2; }
[[ $clock == simulated || $clock == realtime ]] || { echo "--clock $clock: simulated or realtime" >&2; exit 2; }
export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

if [[ -n ${WHISPER_CLSR_BIN:-} ]]; then
  bin=$WHISPER_CLSR_BIN
else
  scripts/workspace-run.sh whisper-clsr --version >&2
  bin=target/debug/whisper-clsr
fi
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

# Figures every minute of audio (every tenth of a shorter stream); resident memory of the
# stream process every 30 s (10 s on the simulated clock).
stats_every=$(python3 -c "print(min(60, $minutes * 6))")
"$bin" stream --model "$model" --input - --clock "$clock" --format json --stats-every "$stats_every" \
  <"$work/stream.f32" >"$work/events.jsonl" 2>"$work/stderr.txt" &
pid=$!
: >"$work/rss.txt"
# A device slower than real time falls behind and would take far longer than MINUTES to
# work through the backlog: at real-time pace the stream is stopped 5 minutes after its
# audio has all arrived, unless --max-wall says otherwise.
if [[ -n $max_wall ]]; then
  deadline=$((SECONDS + ${max_wall%.*}))
elif [[ $clock == realtime ]]; then
  deadline=$((SECONDS + ${minutes%.*} * 60 + 300))
else
  deadline=
fi
sample=$([[ $clock == realtime ]] && echo 30 || echo 10)
stopped=
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [[ -n $rss ]] && echo "$(date +%s) $rss" >>"$work/rss.txt"
  if [[ -n $deadline ]] && ((SECONDS > deadline)); then
    kill "$pid"
    stopped=1
    break
  fi
  sleep "$sample"
done
wait "$pid" || [[ -n $stopped ]]
grep -v '"type":"stats"' "$work/stderr.txt" >&2 || true
if [[ -n $stopped ]]; then
  echo "stopped at the wall-time limit ($((SECONDS / 60)) min): the device did not get through the audio in time" >&2
fi

python3 - "$work" "$minutes" "$clock" <<'PY'
import json, re, sys
work, minutes, clock = sys.argv[1], float(sys.argv[2]), sys.argv[3]
# The stats' wall time starts once the model is loaded; the resident-memory samples start
# with the process.
loaded = re.search(r"model loaded in (\d+) ms", open(f"{work}/stderr.txt").read())
load_s = int(loaded.group(1)) / 1000 if loaded else 0.0
events = [json.loads(l) for l in open(f"{work}/events.jsonl")]
stats = [s for s in (json.loads(l) for l in open(f"{work}/stderr.txt") if l.startswith("{"))
         if s.get("type") == "stats"]
rss = [tuple(map(int, l.split())) for l in open(f"{work}/rss.txt")]
commits = [e for e in events if e["type"] == "commit"]
span = minutes * 60 / 10

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

pace = "at real-time pace" if clock == "realtime" else "on the simulated clock (as fast as the device decodes; latencies are the policy's)"
print(f"{minutes:g} minutes {pace}; per tenth of the stream ({span / 60:g} min of audio):")
print(f"{'audio min':>9} {'updates':>8} {'words':>6} {'lat p50':>8} {'lat p90':>8} {'ms/update':>10} {'GPU live MiB':>13} {'GPU peak MiB':>13} {'pooled MiB':>11} {'RSS MiB':>8}")
t0 = rss[0][0] if rss else 0
prev_updates = 0
prev_wall = 0.0
for i in range(10):
    lo, hi = i * span, (i + 1) * span
    words = [(c["emitted_at"] - w["end"]) for c in commits for w in c["words"] if lo <= w["end"] < hi]
    # The last stats line within this tenth (none where the stream never got this far).
    last = [s for s in stats if lo + 1 < s["audio"] <= hi + 1]
    s = last[-1] if last else None
    updates = (s["updates"] - prev_updates) if s else 0
    prev_updates = s["updates"] if s else prev_updates
    # Wall time per update in this tenth (at real-time pace it includes waiting for audio).
    per_update = 1000 * (s["wall"] - prev_wall) / updates if s and updates else float("nan")
    prev_wall = s["wall"] if s else prev_wall
    # Resident memory at the wall time this tenth's audio was consumed.
    r = [kb for t, kb in rss if s and t - t0 <= s["wall"] + load_s]
    mib = lambda b: b / 2**20
    print(f"{hi / 60:>9.1f} {updates:>8} {len(words):>6} {pct(words, .5):>8.2f} {pct(words, .9):>8.2f} {per_update:>10.0f}"
          f" {mib(s['gpu_live_bytes']) if s else float('nan'):>13.1f} {mib(s['gpu_peak_bytes']) if s else float('nan'):>13.1f}"
          f" {mib(s['gpu_pooled_bytes']) if s else float('nan'):>11.1f} {(r[-1] / 1024 if r else float('nan')):>8.1f}")
revisions = sum(1 for a, b in zip(commits, commits[1:]) for w in b["words"] if w["start"] < a["end"] - 1e-6)
if stats:
    print(f"audio consumed: {stats[-1]['audio'] / 60:.1f} of {minutes:g} min, {stats[-1]['updates']} updates, "
          f"in {stats[-1]['wall'] / 60:.1f} min of wall time")
print(f"commits: {len(commits)}, committed words: {sum(len(c['words']) for c in commits)}, committed-word revisions: {revisions}")
PY
