// The demo's segment list: one row per segment with its start time (a button that seeks the
// player there), its words (highlighted while the player is inside them), and SRT/VTT
// downloads of the transcript. Text goes in as text, never as HTML.

/** "m:ss.s" (or "h:mm:ss.s") of seconds. */
export function clock(seconds) {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = (s % 60).toFixed(1).padStart(4, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** Renders `segments` into the list `ol`; clicking a time seeks `player` and plays. */
export function renderSegments(ol, segments, player) {
  ol.replaceChildren();
  for (const s of segments) {
    const li = document.createElement("li");
    const time = document.createElement("button");
    time.type = "button";
    time.className = "time";
    time.textContent = clock(s.start);
    time.title = `${clock(s.start)} – ${clock(s.end)}: play from here`;
    time.addEventListener("click", () => {
      if (player.hidden || !player.src) return;
      player.currentTime = s.start;
      player.play().catch(() => {});
    });
    const text = document.createElement("span");
    text.className = "text";
    if (s.words?.length) {
      for (const w of s.words) {
        const span = document.createElement("span");
        span.className = "word";
        span.dataset.start = w.start;
        span.dataset.end = w.end;
        span.textContent = w.word;
        text.append(span);
      }
    } else {
      text.textContent = s.text;
    }
    li.append(time, text);
    ol.append(li);
  }
}

/** Keeps the word under the player's position marked with the class "now". */
export function followPlayer(ol, player) {
  let current = null;
  const update = () => {
    const t = player.currentTime;
    let found = null;
    for (const w of ol.querySelectorAll(".word")) {
      if (t >= Number(w.dataset.start) && t < Number(w.dataset.end)) {
        found = w;
        break;
      }
    }
    if (found === current) return;
    current?.classList.remove("now");
    found?.classList.add("now");
    current = found;
  };
  player.addEventListener("timeupdate", update);
  player.addEventListener("seeked", update);
}

/** Offers `text` as a download named `name`. */
export function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
