// The per-layer expert-gate heatmap: one cell per encoder and decoder layer, coloured by the
// share of tokens the language expert's gate routed to the expert (null: layer not covered).

function cell(value, label) {
  const el = document.createElement("div");
  el.className = "cell";
  if (value == null) {
    el.classList.add("none");
    el.title = `${label}: not covered by the pack`;
    el.textContent = "–";
  } else {
    // white (0: all tokens on the shared FFN) to deep blue (1: all on the expert)
    el.style.background = `hsl(220 80% ${Math.round(97 - value * 57)}%)`;
    el.style.color = value > 0.6 ? "white" : "black";
    el.title = `${label}: ${(value * 100).toFixed(1)}% of tokens to the expert`;
    el.textContent = Math.round(value * 100);
    el.dataset.value = String(value);
  }
  return el;
}

/** The header row: layer numbers over the columns. */
function axis(layers) {
  const row = document.createElement("div");
  row.className = "heatmap-axis";
  const name = document.createElement("span");
  name.className = "heatmap-label";
  name.textContent = "layer";
  const numbers = Array.from({ length: layers }, (_, i) => {
    const el = document.createElement("span");
    el.className = "layer-number";
    el.textContent = String(i);
    return el;
  });
  row.append(name, ...numbers);
  return row;
}

/** Renders gateStats ({encoder: [..], decoder: [..]}) into `container`. */
export function renderHeatmap(container, gateStats) {
  container.replaceChildren(axis(Math.max(gateStats.encoder.length, gateStats.decoder.length)));
  for (const part of ["encoder", "decoder"]) {
    const row = document.createElement("div");
    row.className = "heatmap-row";
    const name = document.createElement("span");
    name.className = "heatmap-label";
    name.textContent = part;
    row.append(name, ...gateStats[part].map((v, i) => cell(v, `${part} layer ${i}`)));
    container.append(row);
  }
}
