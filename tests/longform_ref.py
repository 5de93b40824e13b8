"""Reference long-form transcription with faster-whisper (CTranslate2), for tests/longform.rs.

Usage: python3 tests/longform_ref.py CT2_MODEL_DIR AUDIO.wav [LANGUAGE] [--words] [--beam-size N]
Prints JSON: {"segments": [{"start", "end", "text", "tokens", "words"}], "text"}; "words"
([{"word", "start", "end", "probability"}]) only with --words.

faster-whisper implements OpenAI's transcribe() (timestamp rules, seek, temperature fallback,
no-speech skipping, previous-text prompts) and runs the very CTranslate2 weights that
scripts/fetch-models.sh downloads. Options mirror our defaults: greedy at temperature 0 (beam
size 1), fallback 0.0..1.0 step 0.2 with best-of 5, thresholds 2.4 / -1.0 / 0.6, previous text
as prompt, no VAD filter; --beam-size N decodes temperature 0 by beam search (patience 1,
length penalty 1: the log-probability divided by the length, as our default ranks).
"""
import json
import sys

try:
    from faster_whisper import WhisperModel
except ImportError:
    sys.exit("faster-whisper is missing: pip install faster-whisper")

argv = sys.argv[1:]
beam_size = 1
if "--beam-size" in argv:
    at = argv.index("--beam-size")
    beam_size = int(argv[at + 1])
    del argv[at : at + 2]
args = [a for a in argv if a != "--words"]
words = "--words" in argv
model_dir, audio = args[0], args[1]
language = args[2] if len(args) > 2 else None
model = WhisperModel(model_dir, device="cpu", compute_type="float32", cpu_threads=2)
segments, info = model.transcribe(
    audio,
    language=language,
    beam_size=beam_size,
    patience=1.0,
    length_penalty=1.0,
    best_of=5,
    temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    compression_ratio_threshold=2.4,
    log_prob_threshold=-1.0,
    no_speech_threshold=0.6,
    condition_on_previous_text=True,
    without_timestamps=False,
    max_initial_timestamp=1.0,
    vad_filter=False,
    word_timestamps=words,
)
out = []
for s in segments:
    segment = {"start": s.start, "end": s.end, "text": s.text, "tokens": list(s.tokens)}
    if words:
        segment["words"] = [
            {"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
            for w in s.words
        ]
    out.append(segment)
print(json.dumps({"segments": out, "text": "".join(s["text"] for s in out)}))
