// The page side of live capture: a MediaStream (the microphone unless one is given) through
// an AudioWorklet (capture-worklet.js) that resamples it to 16 kHz and posts 0.1 s blocks.

/** The raw microphone: Whisper was trained on unprocessed audio (see demo/recorder.js). */
async function microphone() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("this browser cannot capture audio here (microphone access needs https or localhost)");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, autoGainControl: false, noiseSuppression: false, echoCancellation: false },
    });
  } catch (e) {
    throw new Error(`no microphone: ${e.message || e.name}`);
  }
}

/**
 * Starts capturing; `onBlock(Float32Array)` gets each 0.1 s block of 16 kHz mono samples.
 * Resolves to {sampleRate, stop()}; stop() ends the capture (and the microphone, if it was
 * opened here; a MediaStream that was passed in is left running).
 */
export async function startCapture({ mediaStream, onBlock }) {
  if (mediaStream != null && !(mediaStream instanceof MediaStream)) {
    throw new TypeError("`mediaStream` must be a MediaStream (e.g. from getUserMedia), or omitted for the microphone");
  }
  const stream = mediaStream ?? (await microphone());
  if (stream.getAudioTracks().length === 0) throw new Error("the MediaStream has no audio track");
  const owned = mediaStream == null;
  const context = new AudioContext();
  try {
    await context.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, "whisper-clsr-capture");
    node.port.onmessage = ({ data }) => onBlock(data);
    source.connect(node);
    // The node writes silence; connected to the output it is processed in every browser
    // (a node leading nowhere may not be pulled).
    node.connect(context.destination);
    await context.resume();
    let stopped = false;
    return {
      sampleRate: context.sampleRate,
      stop() {
        if (stopped) return;
        stopped = true;
        node.port.postMessage("stop");
        node.port.onmessage = null;
        source.disconnect();
        node.disconnect();
        context.close();
        if (owned) stream.getTracks().forEach((t) => t.stop());
      },
    };
  } catch (e) {
    context.close();
    if (owned) stream.getTracks().forEach((t) => t.stop());
    throw e;
  }
}
