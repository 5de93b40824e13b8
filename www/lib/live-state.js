// What a live transcription shows, kept apart: committed text (final, only ever grows) and
// tentative text (the rest of the latest hypothesis, replaced by the next one), built from the
// worker's events ({type: "commit"|"partial", text, start, end, emittedAt, words, language,
// expert}).

export class LiveState {
  constructor() {
    /** One entry per commit: {text, start, end, words: [{word, start, end}], language, expert}. */
    this.segments = [];
    this.tentative = "";
    /** The latest decoding's language and the expert pack it was routed through (or null). */
    this.language = null;
    this.expert = null;
    /** Seconds from the end of the last committed word's audio to its commit being shown. */
    this.latency = null;
  }

  /** Every committed word, as Whisper wrote them (leading spaces, punctuation). */
  get committed() {
    return this.segments
      .flatMap((s) => s.words.map((w) => w.word))
      .join("")
      .trim();
  }

  /**
   * Applies one batch of events, given `now`, the seconds of audio captured when they arrived.
   * Returns the new commit events.
   */
  apply(events, now) {
    const commits = [];
    for (const e of events) {
      if (e.language !== undefined) [this.language, this.expert] = [e.language, e.expert ?? null];
      if (e.type === "commit") {
        this.segments.push({ text: e.text, start: e.start, end: e.end, words: e.words, language: e.language ?? null, expert: e.expert ?? null });
        this.latency = Math.max(0, now - e.end);
        commits.push(e);
        // Words after a commit come in the partial that follows it, if any is left.
        this.tentative = "";
      } else if (e.type === "partial") {
        this.tentative = e.text;
      }
    }
    return commits;
  }

  /** A copy for callbacks and results: {committed, tentative, segments, latency, language, expert}. */
  snapshot() {
    return {
      committed: this.committed,
      tentative: this.tentative,
      segments: this.segments.map((s) => ({ ...s, words: s.words.map((w) => ({ ...w })) })),
      latency: this.latency,
      language: this.language,
      expert: this.expert,
    };
  }
}
