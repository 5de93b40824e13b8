// Microphone recording for the demo: MediaRecorder into one Blob, stopped by the caller or
// after ten minutes (transcription takes any length; the cap keeps a forgotten recording
// from filling memory).

const MAX_SECONDS = 600;

export class Recorder {
  /** onTick(seconds) while recording; onDone(blob) when it stops; onError(error). */
  constructor({ onTick, onDone, onError }) {
    Object.assign(this, { onTick, onDone, onError });
    this.recorder = null;
    this.pending = null;
  }

  get recording() {
    return this.recorder?.state === "recording";
  }

  /**
   * Starts recording. A second call while one is starting (the permission prompt may be open)
   * or running gets that one: a double click opens one microphone stream, not two.
   */
  start() {
    if (this.recording) return Promise.resolve();
    this.pending ??= this.#open().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  async #open() {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("this browser cannot record audio here (microphone access needs https or localhost)");
    }
    let stream;
    try {
      // The raw signal: Whisper was trained on unprocessed audio, and the browser's voice
      // processing (gain control, noise suppression) reshapes speech for calls, not for it.
      // The page plays nothing while recording, so there is no echo to cancel.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, autoGainControl: false, noiseSuppression: false, echoCancellation: false },
      });
    } catch (e) {
      throw new Error(`no microphone: ${e.message || e.name}`);
    }
    // From here on, every path ends with the microphone released.
    const release = () => stream.getTracks().forEach((t) => t.stop());
    let recorder;
    let timer;
    try {
      recorder = new MediaRecorder(stream);
      const chunks = [];
      recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
      recorder.onerror = (e) => {
        this.onError?.(e.error ?? new Error("recording failed"));
        this.stop();
      };
      recorder.onstop = () => {
        clearInterval(timer);
        release();
        this.onDone?.(new Blob(chunks, { type: recorder.mimeType }));
      };
      recorder.start();
      const started = performance.now();
      timer = setInterval(() => {
        const seconds = (performance.now() - started) / 1000;
        this.onTick?.(seconds);
        if (seconds >= MAX_SECONDS) this.stop();
      }, 200);
    } catch (e) {
      release();
      throw new Error(`cannot record: ${e.message || e.name}`);
    }
    this.recorder = recorder;
  }

  stop() {
    if (this.recording) this.recorder.stop();
  }
}
