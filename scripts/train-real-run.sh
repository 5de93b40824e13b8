#!/usr/bin/env bash
# A short real training run on real weights: student and teacher both
# whisper-base, a few Catalan utterances synthesised with espeak-ng, trained with
# `whisper-clsr-train train` on the first wgpu device (lavapipe on machines without a GPU).
# It shows
#   (a) the loss per step of an uninterrupted run (it should fall),
#   (b) that the exported pack loads in the runtime and changes its output (tokens, text),
#   (c) that a second run killed with SIGKILL mid-way and resumed reproduces the
#       uninterrupted run's metrics.jsonl (every training field; timings excluded),
# and the step time and memory of the run (process peak RSS from /usr/bin/time when
# available, and the pooled GPU buffers the trainer reports in metrics.jsonl).
#
# Environment: MODEL (default models/whisper-base), OUT (default target/train-real-run),
# UTTERANCES (1..3, default 1), STEPS (3), KILL_AFTER (1: SIGKILL once this many steps are
# in metrics.jsonl, 20 s into the next one), BATCH (1), LR (1e-4), SKIP (0.2), SEED (0).
# The defaults keep the run short: a whisper-base step takes minutes on lavapipe (2 CPU
# cores); with one utterance every step sees the same example, so the losses of
# successive steps are directly comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
export WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

MODEL="${MODEL:-models/whisper-base}"
OUT="${OUT:-target/train-real-run}"
UTTERANCES="${UTTERANCES:-1}"
STEPS="${STEPS:-3}"
KILL_AFTER="${KILL_AFTER:-1}"
BATCH="${BATCH:-1}"
LR="${LR:-1e-4}"
SKIP="${SKIP:-0.2}"
SEED="${SEED:-0}"

for tool in espeak-ng sox python3; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool is missing (Debian: apt-get install espeak-ng sox python3)" >&2
    exit 1
  }
done
[ -f "$MODEL/model.safetensors" ] || {
  echo "error: $MODEL is missing: run scripts/fetch-models.sh" >&2
  exit 1
}
if [ "$KILL_AFTER" -ge "$STEPS" ]; then
  echo "error: KILL_AFTER ($KILL_AFTER) must be below STEPS ($STEPS)" >&2
  exit 1
fi

echo "== build" >&2
cargo build --release --quiet -p whisper-clsr-train --bin whisper-clsr-train
cargo build --release --quiet --bin whisper-clsr
TRAIN=target/release/whisper-clsr-train
ASR=target/release/whisper-clsr

echo "== data: espeak-ng Catalan utterances" >&2
rm -rf "$OUT"
mkdir -p "$OUT/audio"
sentences=(
  "La ciutat de Barcelona és a la costa del mar Mediterrani."
  "Bon dia, com estàs avui?"
  "M'agrada molt llegir llibres a la biblioteca."
)
: >"$OUT/train.jsonl"
for ((i = 0; i < UTTERANCES; i++)); do
  text="${sentences[$i]}"
  espeak-ng -v ca -w "$OUT/audio/raw$i.wav" "$text"
  # -D: no dither, so every run trains on the same samples.
  sox -D "$OUT/audio/raw$i.wav" -r 16000 -c 1 -b 16 "$OUT/audio/ca$i.wav"
  python3 -c 'import json,sys; print(json.dumps({"audio": sys.argv[1], "text": sys.argv[2], "language": "ca"}, ensure_ascii=False))' \
    "$PWD/$OUT/audio/ca$i.wav" "$text" >>"$OUT/train.jsonl"
done
cat "$OUT/train.jsonl" >&2

# train_cmd RUN_DIR [extra args]: sets CMD to the training command; with TIME_LOG set, GNU
# time appends peak RSS there. An array rather than a function, so that `"${CMD[@]}" &`
# starts the trainer itself and $! is its pid (a backgrounded function is a subshell, and
# SIGKILL to it would leave the trainer running).
train_cmd() {
  local dir="$1"
  shift
  CMD=()
  if [ -n "${TIME_LOG:-}" ] && [ -x /usr/bin/time ]; then
    CMD=(/usr/bin/time -f "peak RSS %M KiB, wall %e s" -a -o "$TIME_LOG")
  fi
  CMD+=("$TRAIN" train --student "$MODEL" --teacher "$MODEL" --language ca
    --train "$OUT/train.jsonl" --out "$dir" --steps "$STEPS" --batch "$BATCH"
    --lr "$LR" --warmup-ratio 0 --skip "$SKIP" --seed "$SEED" --checkpoint-every 1 "$@")
}

echo "== (a) uninterrupted run: $STEPS steps, batch $BATCH, lr $LR" >&2
start=$(date +%s)
TIME_LOG="$OUT/whole.time" train_cmd "$OUT/whole"
"${CMD[@]}"
whole_s=$(($(date +%s) - start))

echo "== (c) second run, killed with SIGKILL after step $KILL_AFTER, then resumed" >&2
mkdir -p "$OUT/resumed"
train_cmd "$OUT/resumed"
"${CMD[@]}" 2>"$OUT/resumed/first.log" &
pid=$!
while :; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: the run to be killed ended early:" >&2
    tail -5 "$OUT/resumed/first.log" >&2
    exit 1
  fi
  lines=$({ wc -l <"$OUT/resumed/metrics.jsonl"; } 2>/dev/null || echo 0)
  [ "$lines" -ge "$KILL_AFTER" ] && break
  sleep 1
done
# Well into the next step, so the kill lands mid-step.
sleep 20
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
echo "killed after $(wc -l <"$OUT/resumed/metrics.jsonl") metrics lines" >&2
"${CMD[@]}"

echo "== (b) the exported pack in the runtime" >&2
PACK="$OUT/whole/ca.pack.safetensors"
clip="$OUT/audio/ca0.wav"
"$ASR" transcribe --model "$MODEL" --language ca --format json "$clip" >"$OUT/plain.json"
"$ASR" transcribe --model "$MODEL" --expert "$PACK" --language ca --format json "$clip" \
  >"$OUT/pack.json"

echo "== figures"
python3 - "$OUT" "$whole_s" <<'EOF'
import json, sys, pathlib
out, whole_s = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def metrics(run):
    return [json.loads(l) for l in (out / run / "metrics.jsonl").read_text().splitlines() if l]
whole, resumed = metrics("whole"), metrics("resumed")
print("(a) loss per step (uninterrupted run):")
print("  step    loss      ce        js        gate_loss gate_ratio lr        grad_norm step_s")
for m in whole:
    print(f"  {m['step']:>4} {m['loss']:9.4f} {m['ce']:9.4f} {m['js']:9.4f} {m['gate_loss']:9.4f} "
          f"{m['gate_ratio']:9.4f} {m['lr']:9.2e} {m['grad_norm']:9.4f} {m['step_seconds']:7.1f}")
first, last = whole[0], whole[-1]
print(f"  loss {first['loss']:.4f} -> {last['loss']:.4f}, ce {first['ce']:.4f} -> {last['ce']:.4f}"
      f" ({'decreased' if last['ce'] < first['ce'] else 'did NOT decrease'})")
fields = ["step", "loss", "ce", "gate_loss", "js", "gate_ratio", "lr", "grad_norm", "tokens"]
diffs = [abs(a[f] - b[f]) for a, b in zip(whole, resumed) for f in fields]
exact = len(whole) == len(resumed) and all(d == 0 for d in diffs)
print(f"(c) resumed run: {len(resumed)} steps vs {len(whole)}; training fields "
      + ("identical (bit-exact)" if exact else f"max abs difference {max(diffs, default=float('nan')):.3e}"))
plain, pack = (json.loads((out / f).read_text().splitlines()[0]) for f in ("plain.json", "pack.json"))
print("(b) transcription of ca0.wav (a training utterance):")
print(f"  without pack: {plain['text']!r} tokens {plain['tokens']}")
print(f"  with pack:    {pack['text']!r} tokens {pack['tokens']}")
same = plain["tokens"] == pack["tokens"]
print("  tokens " + ("UNCHANGED" if same else "differ") + "; text " +
      ("unchanged" if plain["text"] == pack["text"] else "differs"))
if "gate_stats" in pack:
    print(f"  gate stats with pack: {json.dumps(pack['gate_stats'])[:400]}")
steps = [m["step_seconds"] for m in whole]
print(f"step time: first {steps[0]:.1f} s (teacher run, shaders compiled), "
      f"later mean {sum(steps[1:]) / max(len(steps) - 1, 1):.1f} s; whole run {whole_s} s")
print(f"pooled GPU buffers allocated: {whole[-1]['activation_bytes'] / 2**20:.0f} MiB")
t = out / "whole.time"
if t.exists():
    print("process: " + t.read_text().strip().splitlines()[-1])
sys.exit(0 if exact and not same and last["ce"] < first["ce"] else 1)
EOF
