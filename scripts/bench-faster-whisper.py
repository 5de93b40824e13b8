"""faster-whisper (CTranslate2 on the CPU) on the same clip and CTranslate2 weights as our
benchmark: the peer a user without a GPU would pick instead. Called by scripts/bench.sh.

Usage: python3 scripts/bench-faster-whisper.py CT2_MODEL_DIR AUDIO.wav [RUNS] [THREADS]

Greedy decoding without timestamps or fallback, English, like bench_whisper's loop. Prints the
median over RUNS (after a warm-up) of: log-mel ms, encoder ms (one 30 s window), the whole
transcription's ms, tokens, decoder ms/token ((whole - mel - encoder) / tokens) and the
real-time factor.
"""
import statistics
import sys
import time

try:
    import ctranslate2
    from faster_whisper import WhisperModel, decode_audio
except ImportError:
    sys.exit("faster-whisper is missing: pip install faster-whisper (scripts/setup.sh test installs it into .cache/python)")

model_dir, audio_path = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2

model = WhisperModel(model_dir, device="cpu", compute_type="float32", cpu_threads=threads)
audio = decode_audio(audio_path)
seconds = len(audio) / 16000


def once():
    t0 = time.perf_counter()
    features = model.feature_extractor(audio)
    t1 = time.perf_counter()
    window = features[:, : model.feature_extractor.nb_max_frames]
    if window.shape[1] < model.feature_extractor.nb_max_frames:
        import numpy as np

        window = np.pad(window, ((0, 0), (0, model.feature_extractor.nb_max_frames - window.shape[1])))
    model.model.encode(ctranslate2.StorageView.from_array(window[None].astype("float32")))
    t2 = time.perf_counter()
    segments, _ = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        temperature=0.0,
        without_timestamps=True,
        condition_on_previous_text=False,
        vad_filter=False,
    )
    tokens = sum(len(s.tokens) for s in segments)
    t3 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, tokens


once()
results = [once() for _ in range(runs)]
mel, encoder, whole, tokens = (statistics.median(r[i] for r in results) for i in range(4))
per_token = (whole - mel - encoder) / max(tokens, 1)
print(f"peer: faster-whisper (CTranslate2 {ctranslate2.__version__}, CPU f32, {threads} threads), {model_dir}")
print(f"{'':<18} {'mel ms':>7} {'encoder ms':>10} {'ms/token':>9} {'RTF':>6}")
print(f"{'faster-whisper':<18} {mel:>7.1f} {encoder:>10.1f} {per_token:>9.2f} {whole / 1e3 / seconds:>6.3f}   ({int(tokens)} tokens, whole transcription {whole:.0f} ms)")
