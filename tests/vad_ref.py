#!/usr/bin/env python3
"""Independent reference for tests/vad.rs: runs silero_vad.onnx in onnxruntime.

Usage (binary files are little-endian raw f32, no header):
  vad_ref.py MODEL.onnx IN.f32 OUT.f32

Feeds IN (16 kHz mono) in 512-sample chunks, the last one zero-padded, each prefixed by the
previous chunk's last 64 samples (zeros at first) with the LSTM state carried over — what the
silero-vad package's OnnxWrapper does — and writes one speech probability per chunk.

Needs numpy and onnxruntime: `pip install numpy onnxruntime`.
"""
import sys

try:
    import numpy as np
    import onnxruntime
except ImportError as e:
    sys.stderr.write(f"{e}: run `pip install numpy onnxruntime` (needed by tests/vad_ref.py)\n")
    sys.exit(2)

CHUNK, CONTEXT, SR = 512, 64, 16000


def main():
    model, inp, out = sys.argv[1:4]
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=opts,
                                           providers=["CPUExecutionProvider"])
    audio = np.fromfile(inp, dtype="<f4")
    if len(audio) % CHUNK:
        audio = np.concatenate([audio, np.zeros(CHUNK - len(audio) % CHUNK, dtype=np.float32)])
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, CONTEXT), dtype=np.float32)
    sr = np.array(SR, dtype=np.int64)
    probs = []
    for i in range(0, len(audio), CHUNK):
        x = np.concatenate([context, audio[None, i:i + CHUNK]], axis=1)
        p, state = session.run(None, {"input": x, "state": state, "sr": sr})
        probs.append(p[0, 0])
        context = x[:, -CONTEXT:]
    np.asarray(probs, dtype="<f4").tofile(out)


if __name__ == "__main__":
    main()
