#!/usr/bin/env bash
# Replay metrics of live transcription (not a CI test): runs `whisper-clsr stream` on an
# audio file with the simulated clock and reports per-word emission latency, first-partial
# latency, partial stability, committed-word revisions, streaming vs offline WER, and the
# words emitted on a noise-only file.
#
#   scripts/bench-stream.sh [--model DIR] [--clock simulated|realtime] [--update-interval S] [--trim-after S] [--carry-pause S] [--language L] [--reference TXT] [--keep DIR] FILE
#
# Times are seconds of audio. With the simulated clock (the default) an update takes no time,
# so the figures are the policy's latency, not the device's; `--clock realtime` feeds FILE at
# real-time pace, so the latencies include the device's time (on a device that keeps up with
# real time: a GPU). The noise file is always run on the simulated clock.
# WHISPER_CLSR_BIN=PATH uses that whisper-clsr binary instead of building one (a machine
# without a Rust toolchain: scripts/gpu-stream.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/whisper-tiny.en
clock=simulated
interval=1
stream_options=()
language=()
reference=
keep=
while [[ $# -gt 1 ]]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --clock) clock=$2; shift 2 ;;
    --update-interval) interval=$2; shift 2 ;;
    --trim-after|--carry-pause) stream_options+=("$1" "$2"); shift 2 ;;
    --language) language=(--language "$2"); shift 2 ;;
    --reference) reference=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
file=${1:?usage: scripts/bench-stream.sh [--model DIR] [--clock simulated|realtime] [--update-interval S] [--trim-after S] [--carry-pause S] [--language L] [--reference TXT] [--keep DIR] FILE}
[[ -f $file ]] || { echo "no such file: $file" >&2; exit 2; }
[[ $clock == simulated || $clock == realtime ]] || { echo "--clock $clock: simulated or realtime" >&2; exit 2; }
export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}

if [[ -n ${WHISPER_CLSR_BIN:-} ]]; then
  bin=$WHISPER_CLSR_BIN
else
  # Built with the workspace's dependency features, so the test build's dependencies serve it.
  scripts/workspace-run.sh whisper-clsr --version >&2
  bin=target/debug/whisper-clsr
fi
work=$(mktemp -d)
# --keep DIR: the events (events.jsonl, noise.jsonl) and offline.txt are left there.
trap '[[ -n $keep ]] && mkdir -p "$keep" && cp "$work"/*.jsonl "$work"/offline.txt "$keep"/; rm -rf "$work"' EXIT

echo "stream: $bin stream --model $model --input $file --clock $clock --format json --update-interval $interval ${stream_options[*]} ${language[*]}" >&2
"$bin" stream --model "$model" --input "$file" --clock "$clock" --format json \
  --update-interval "$interval" "${stream_options[@]}" "${language[@]}" >"$work/events.jsonl"
"$bin" transcribe --model "$model" "${language[@]}" --format text "$file" >"$work/offline.txt"

# Noise-only: 60 s of white noise at RMS 0.03.
python3 - "$work/noise.wav" <<'PY'
import random, struct, sys, wave
random.seed(0)
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, random.gauss(0, 0.03))) * 32767)) for _ in range(960000)))
PY
"$bin" stream --model "$model" --input "$work/noise.wav" --clock simulated --format json \
  --update-interval "$interval" "${language[@]}" >"$work/noise.jsonl"

if [[ $clock == realtime ]]; then
  echo "clock: real time (latencies include the device's time)"
else
  echo "clock: simulated (the policy's latencies: updates take no time)"
fi
python3 - "$work/events.jsonl" "$work/offline.txt" "$work/noise.jsonl" "$reference" <<'PY'
import json, re, sys

def norm(text):
    return re.sub(r"[^\w' ]+", " ", text.lower()).split()

def edit_table(hyp, ref):
    """Levenshtein distances between every prefix of hyp and of ref."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(ref) + 1)] for i in range(len(hyp) + 1)]
    for i in range(1, len(hyp) + 1):
        for j in range(1, len(ref) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (hyp[i - 1] != ref[j - 1]))
    return d

def wer(hyp, ref):
    return edit_table(hyp, ref)[len(hyp)][len(ref)] / max(1, len(ref))

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

events = [json.loads(l) for l in open(sys.argv[1])]
commits = [e for e in events if e["type"] == "commit"]
partials = [e for e in events if e["type"] == "partial"]
final = [w for c in commits for w in c["words"]]
latency = [c["emitted_at"] - w["end"] for c in commits for w in c["words"]]
revisions = sum(1 for a, b in zip(commits, commits[1:]) for w in b["words"] if w["start"] < a["end"] - 1e-6)
# A partial word survives when the final text has it within 0.5 s as it was shown, or as it
# was shown followed by punctuation: a partial leaves out the punctuation after its last word,
# which the commit adds ("fuel" then "fuel,"), so what was shown is still there. Also counted:
# written exactly alike, and the same word with another case or punctuation ("so..." as "so").
key = lambda word: norm(word) or [word.strip()]
kept = lambda shown, final: final == shown or (
    final.startswith(shown) and re.fullmatch(r"[^\w'’]+", final[len(shown):]) is not None)
survived = alike = same_word = total = 0
for p in partials:
    for w in p["words"]:
        total += 1
        near = [f for f in final if abs(f["start"] - w["start"]) < 0.5]
        survived += any(kept(w["word"], f["word"]) for f in near)
        alike += any(f["word"] == w["word"] for f in near)
        same_word += any(key(f["word"]) == key(w["word"]) for f in near)
first_partial = partials[0]["emitted_at"] - partials[0]["start"] if partials else float("nan")
stream_words = norm(" ".join(c["text"] for c in commits))
offline_words = norm(open(sys.argv[2]).read())
noise_words = sum(len(e["words"]) for e in map(json.loads, open(sys.argv[3])) if e["type"] == "commit")
print(f"committed words: {len(final)}, commits: {len(commits)}, partials: {len(partials)}")
print(f"emission latency per word (commit emitted_at - word end): p50 {pct(latency, .5):.2f} s, p90 {pct(latency, .9):.2f} s")
print(f"first-partial latency (emitted_at - start of its first word): {first_partial:.2f} s")
share = lambda n: f"{n}/{total} ({100 * n / max(1, total):.0f} %)"
print(f"partial words surviving unchanged into the final text: {share(survived)}; "
      f"written exactly alike: {share(alike)}; the same words ignoring case and punctuation: {share(same_word)}")
print(f"committed-word revisions: {revisions}")
print(f"WER streaming vs offline: {100 * wer(stream_words, offline_words):.1f} %")
if sys.argv[4]:
    ref = norm(open(sys.argv[4]).read())
    print(f"WER vs reference: streaming {100 * wer(stream_words, ref):.1f} %, offline {100 * wer(offline_words, ref):.1f} %")
    # Are misheard words committed with little audio after them? Each committed word is
    # marked right when a Levenshtein alignment matches it to the reference, and binned by
    # the audio that followed it in the hypothesis before its commit (the last partial
    # showing it: emitted_at - its end there).
    def matched(hyp, ref):
        d = edit_table(hyp, ref)
        ok, i, j = [False] * len(hyp), len(hyp), len(ref)
        while i and j:
            if d[i][j] == d[i - 1][j - 1] + (hyp[i - 1] != ref[j - 1]):
                ok[i - 1] = hyp[i - 1] == ref[j - 1]
                i, j = i - 1, j - 1
            elif d[i][j] == d[i - 1][j] + 1:
                i -= 1
            else:
                j -= 1
        return ok
    committed = []  # (normalised word, its commit's index in events, the word)
    for at, e in enumerate(events):
        if e["type"] == "commit":
            committed += [(n, at, w) for w in e["words"] for n in norm(w["word"])]
    ok = matched([n for n, _, _ in committed], ref)
    bins = {}
    for (n, at, w), right in zip(committed, ok):
        before = [e for e in events[:at] if e["type"] == "partial"][-1:]
        shown = [p["emitted_at"] - pw["end"] for p in before for pw in p["words"]
                 if abs(pw["start"] - w["start"]) < 0.3 and norm(pw["word"]) == norm(w["word"])]
        b = "not in the partial before" if not shown else "< 0.5 s" if shown[0] < 0.5 else "0.5-1 s" if shown[0] < 1 else ">= 1 s"
        bins.setdefault(b, [0, 0])[not right] += 1
    print("committed words right/wrong by the audio after them in the hypothesis before their commit: "
          + ", ".join(f"{b} {bins[b][0]}/{bins[b][1]}" for b in ["< 0.5 s", "0.5-1 s", ">= 1 s", "not in the partial before"] if b in bins))
print(f"words emitted on 60 s of white noise (RMS 0.03): {noise_words}")
PY
