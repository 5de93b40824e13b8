#!/usr/bin/env bash
# Does a trained expert lower WER? For one language, end to end on this repository's tools:
#   1. a corpus (scripts/make-corpus.sh: UDHR sentences spoken by espeak-ng, split by sentence);
#   2. the base model's WER on the held-out test split (whisper-clsr eval, greedy without the
#      sampling fallback and without timestamps, as the trainer's validation scores);
#   3. training an expert with validation by WER (whisper-clsr-train train --valid --eval-every:
#      the pack is the best checkpoint by validation WER);
#   4. the expert's WER on the same test split, printed beside the base's;
#   5. the run's report (whisper-clsr-train report: curves, gate ratios, heatmap).
#
#   scripts/train-evidence.sh LANG [OUT]        e.g. scripts/train-evidence.sh ca
#
# Settings by environment (defaults for a CPU-only machine, where a whisper-base step takes
# minutes: they show the pipeline working, not the expert's final effect):
#   MODEL=models/whisper-base  TEACHER=(none)  CLIPS=40  STEPS=4  BATCH=1  LR=1e-4  EVAL_EVERY=2
#   TRAIN_MAX=(all)  train on the first N training clips only (a smaller first epoch)
#   EVAL_MAX=(all)   score at most N validation utterances at each evaluation
#   EXPERT_LAYERS=all (the paper's; `decoder` trains decoder experts over a frozen encoder whose
#   output is computed once per clip, fast enough for a CPU run, docs/training.md)
# The README's CPU run (80 min on 2 cores): MODEL=models/whisper-tiny.en CLIPS=240 TRAIN_MAX=64
# EVAL_MAX=8 STEPS=300 BATCH=1 LR=5e-4 EVAL_EVERY=100 EXPERT_LAYERS=decoder ... en.
# On a machine with a GPU, e.g. CLIPS=1000 STEPS=2000 BATCH=16 EVAL_EVERY=200 TEACHER=<larger
# model with the same tokenizer>. OUT (default .cache/evidence/LANG) holds corpus/, base/,
# run/ (with report.html) and expert/; evidence.txt is what the script printed last.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

die() { echo "train-evidence: error: $*" >&2; exit 2; }
log() { echo "train-evidence: $*" >&2; }
[[ $# -ge 1 && $# -le 2 ]] || die "usage: scripts/train-evidence.sh LANG [OUT]"
lang=$1
out=${2:-.cache/evidence/$lang}
model=${MODEL:-models/whisper-base}
clips=${CLIPS:-40}
steps=${STEPS:-4}
batch=${BATCH:-1}
lr=${LR:-1e-4}
eval_every=${EVAL_EVERY:-2}
expert_layers=${EXPERT_LAYERS:-all}
train_max=${TRAIN_MAX:-}
eval_max=${EVAL_MAX:-}
[[ -f $model/model.safetensors ]] || die "$model is missing: scripts/fetch-models.sh makes models/whisper-base"

log "building the CLIs (release)"
cargo build --release --quiet --bin whisper-clsr -p whisper-clsr
cargo build --release --quiet --bin whisper-clsr-train -p whisper-clsr-train
cli=target/release/whisper-clsr
train=target/release/whisper-clsr-train

started=$SECONDS
if [[ ! -f $out/corpus/test.jsonl ]]; then
  log "1/5 corpus: $clips clips of $lang"
  scripts/make-corpus.sh "$lang" "$clips" "$out/corpus"
fi

# The base model's score depends only on the model and the corpus (made once above): a rerun
# with other training settings reuses it.
# Scored as the trainer's validation scores: greedy without the sampling fallback, without
# timestamps (the experts are trained on untimestamped transcripts).
eval_mode=(--no-fallback --without-timestamps)
if [[ -f $out/base/summary.json ]] && grep -q "\"model\": \"$model\"" "$out/base/summary.json" \
  && grep -q '"timestamps": false' "$out/base/summary.json"; then
  log "2/5 base model on the test split: reusing $out/base/summary.json"
else
  log "2/5 base model on the test split"
  "$cli" eval --model "$model" --data "$out/corpus/test.jsonl" --language "$lang" "${eval_mode[@]}" --out "$out/base" >&2
fi

log "3/5 training ($steps steps, batch $batch, validation every $eval_every)"
teacher_args=()
[[ -n ${TEACHER:-} ]] && teacher_args=(--teacher "$TEACHER")
train_manifest=$out/corpus/train.jsonl
if [[ -n $train_max ]]; then
  # Beside the full manifest, so that its relative clip paths still resolve.
  train_manifest=$out/corpus/train-first-$train_max.jsonl
  head -n "$train_max" "$out/corpus/train.jsonl" >"$train_manifest"
fi
eval_args=()
[[ -n $eval_max ]] && eval_args=(--eval-max "$eval_max")
"$train" train --student "$model" "${teacher_args[@]}" --language "$lang" \
  --train "$train_manifest" --valid "$out/corpus/valid.jsonl" --out "$out/run" \
  --steps "$steps" --batch "$batch" --lr "$lr" --eval-every "$eval_every" --checkpoint-every "$eval_every" \
  --expert-layers "$expert_layers" "${eval_args[@]}" >&2

log "4/5 expert on the test split"
pack=$out/run/$lang.pack.safetensors
[[ -f $pack ]] || die "the run left no $pack"
"$cli" eval --model "$model" --expert "$pack" --data "$out/corpus/test.jsonl" --language "$lang" "${eval_mode[@]}" \
  --out "$out/expert" >&2

log "5/5 report"
"$train" report "$out/run" >&2

python3 - "$out" "$lang" "$model" "$steps" "$batch" "$expert_layers" "$((SECONDS - started))" <<'PY' | tee "$out/evidence.txt"
import json, sys, platform, subprocess
out, lang, model, steps, batch, layers, seconds = sys.argv[1:]
base = json.load(open(f"{out}/base/summary.json"))
expert = json.load(open(f"{out}/expert/summary.json"))
val = [json.loads(l) for l in open(f"{out}/run/metrics.jsonl") if "val_wer" in l]
best = min(val, key=lambda m: m["val_wer"]) if val else None
print(f"Language expert evidence: {lang}, {model}, {steps} steps of batch {batch}, experts in {layers} layers")
print(f"held-out test split: {base['utterances']} utterances ({base['words']['hits'] + base['words']['substitutions'] + base['words']['deletions']} reference words)")
print(f"{'':<8} {'WER':>8} {'CER':>8}")
print(f"{'base':<8} {base['wer'] * 100:>7.2f}% {base['cer'] * 100:>7.2f}%")
print(f"{'expert':<8} {expert['wer'] * 100:>7.2f}% {expert['cer'] * 100:>7.2f}%")
print(f"change   {(expert['wer'] - base['wer']) * 100:>+7.2f}  {(expert['cer'] - base['cer']) * 100:>+7.2f}  (points)")
if best:
    print(f"validation WER by step: " + ", ".join(f"{m['step']}: {m['val_wer'] * 100:.1f}%" for m in val) + f" (pack = step {best['step']})")
print(f"report: {out}/run/report.html; took {int(seconds) // 60} min on {platform.node()}")
PY
