// The demo's "Live" mode: asr.stream() on the microphone, committed text in normal weight,
// tentative text greyed, the latency of the last commit shown. `?live-catch-up=0` in the
// page's address feeds every block on its own (the e2e test's fixed schedule of decodings; see
// docs/web.md, "Live transcription").

/** " · en, expert en": what the latest decoding was in, once there is one. */
function heard({ language, expert }) {
  if (!language) return "";
  return ` · ${language}${expert ? `, expert ${expert}` : ""}`;
}

export class LiveMode {
  /** ui: {button, status, committed, tentative, latency}; hooks: {model(), language(), onStart(), onDone(state), onError(e)}. */
  constructor(ui, hooks) {
    Object.assign(this, { ui, hooks });
    this.session = null;
    this.starting = false;
    this.catchUp = new URLSearchParams(location.search).get("live-catch-up") !== "0";
    ui.button.addEventListener("click", () => (this.session ? this.stop() : this.start()));
  }

  show(s) {
    this.ui.committed.textContent = s.committed;
    this.ui.tentative.textContent = s.tentative ? ` ${s.tentative}` : "";
    if (s.latency != null) this.ui.latency.textContent = `latency ${s.latency.toFixed(1)} s`;
  }

  async start() {
    if (this.starting) return;
    this.starting = true;
    try {
      const asr = await this.hooks.model();
      this.ui.committed.textContent = "";
      this.ui.tentative.textContent = "";
      this.ui.latency.textContent = "";
      this.hooks.onStart();
      const show = (s) => this.show(s);
      this.session = await asr.stream({ language: this.hooks.language(), onPartial: show, onCommit: show, catchUp: this.catchUp });
      this.ui.button.textContent = "■ Stop live";
      this.ui.status.textContent = "listening…";
      this.timer = setInterval(() => {
        const s = this.session?.snapshot();
        if (s) this.ui.status.textContent = `listening… ${s.position.toFixed(1)} s${heard(s)}`;
      }, 200);
      this.session.done.then(
        (final) => this.finished(final),
        (e) => this.finished(null, e),
      );
    } catch (e) {
      this.hooks.onError(e);
    } finally {
      this.starting = false;
    }
  }

  stop() {
    this.ui.status.textContent = "finishing…";
    this.session?.stop();
  }

  finished(final, error) {
    clearInterval(this.timer);
    this.session = null;
    this.ui.button.textContent = "◉ Live";
    this.ui.status.textContent = "";
    if (error) return this.hooks.onError(error);
    this.show(final);
    this.hooks.onDone(final);
  }
}
