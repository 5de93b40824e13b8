#!/usr/bin/env python3
"""Independent float64 numpy reference for tests/audio.rs (Whisper log-mel front-end).

Usage (all binary files are little-endian, raw, no header):
  audio_ref.py filters N_MELS OUT.f64          slaney mel filterbank [N_MELS, 201]
  audio_ref.py logmel IN.f32 N_MELS OUT.f64    Whisper log-mel [N_MELS, 3000]
  audio_ref.py wav IN.wav OUT.f32              16-bit PCM WAV -> f32 samples (x / 32768), mono only

Needs only numpy (`pip install numpy`). If librosa is importable, `filters` also cross-checks
this implementation against librosa.filters.mel and fails on a mismatch.
"""
import sys
import wave

try:
    import numpy as np
except ImportError:
    sys.stderr.write("numpy is missing: run `pip install numpy` (needed by tests/audio_ref.py)\n")
    sys.exit(2)

SR, N_FFT, HOP, N_SAMPLES = 16000, 400, 160, 480000


def hz_to_mel(f):
    # librosa slaney scale: linear below 1 kHz, logarithmic above.
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep,
                    f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(n_mels):
    fft_freqs = np.linspace(0, SR / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return weights * enorm[:, None]


def librosa_crosscheck(ours, n_mels):
    try:
        import librosa
    except Exception:
        sys.stderr.write("librosa not installed: cross-check skipped\n")
        return
    ref = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=n_mels, htk=False, norm="slaney",
                              dtype=np.float64)
    err = np.max(np.abs(ref - ours))
    if err > 1e-12:
        sys.stderr.write(f"numpy reference differs from librosa by {err}\n")
        sys.exit(3)
    sys.stderr.write(f"librosa cross-check ok (max diff {err:.3g})\n")


def log_mel(samples, n_mels):
    x = np.zeros(N_SAMPLES, dtype=np.float64)
    n = min(len(samples), N_SAMPLES)
    x[:n] = samples[:n]
    x = np.pad(x, N_FFT // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    n_frames = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * window, axis=-1)) ** 2
    power = power[:-1]  # Whisper drops the last STFT frame: 3001 -> 3000
    mel = mel_filters(n_mels) @ power.T
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return (log + 4.0) / 4.0


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.stderr.write("wav: only 16-bit mono supported here\n")
            sys.exit(4)
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "filters" and len(argv) == 4:
        n_mels = int(argv[2])
        f = mel_filters(n_mels)
        librosa_crosscheck(f, n_mels)
        f.astype("<f8").tofile(argv[3])
    elif cmd == "logmel" and len(argv) == 5:
        samples = np.fromfile(argv[2], dtype="<f4").astype(np.float64)
        log_mel(samples, int(argv[3])).astype("<f8").tofile(argv[4])
    elif cmd == "wav" and len(argv) == 4:
        read_wav(argv[2]).astype("<f4").tofile(argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)
