/* lstm-trace explorer: draws the heatmaps and the step view from the page's own JSON
   (<script id="lt-data">, made by lstm_trace/render/explorer/data.py). No libraries and no
   network: everything it shows is in the page. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("lt-data").textContent);
  const T = data.seq_len;
  const held = data.steps.held;
  const tip = document.getElementById("lt-tip");
  const slider = document.getElementById("lt-step");
  const placeBox = document.getElementById("lt-place");
  const state = { place: 0, step: held.length ? held[0] : 0 };
  const cache = new Map();
  const SHOWN = 6; /* values written out per tensor; the strip beside shows every unit */

  /* base64 little-endian float32 -> Float32Array, decoded once per array */
  function floats(text) {
    if (cache.has(text)) return cache.get(text);
    const bin = atob(text);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const out = new Float32Array(bytes.buffer);
    cache.set(text, out);
    return out;
  }

  /* '#rrggbb' -> [r, g, b] */
  function rgb(hex) {
    return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }
  const VIRIDIS = data.palettes.viridis.map(rgb);
  const DIVERGING = data.palettes.diverging.map(rgb);
  const NAN = rgb(data.palettes.nan);
  document.documentElement.style.setProperty("--lt-nan", data.palettes.nan); /* the rule's */

  /* anchors at even spacing over [0, 1], linear between (colors.py's viridis_rgb) */
  function ramp(anchors, t) {
    const pos = Math.min(Math.max(t, 0), 1) * (anchors.length - 1);
    const lo = Math.min(Math.floor(pos), anchors.length - 2);
    const f = pos - lo;
    const a = anchors[lo], b = anchors[lo + 1];
    return [0, 1, 2].map((k) => Math.round(a[k] * (1 - f) + b[k] * f));
  }

  /* a value's colour on a map's scale: 'unit' 0..1 viridis, 'signed' -limit..limit diverging */
  function colour(v, scale) {
    if (Number.isNaN(v)) return NAN;
    if (scale.kind === "unit") return ramp(VIRIDIS, v);
    return ramp(DIVERGING, (v / scale.limit + 1) / 2);
  }

  /* a value as the step view writes it: 5 significant digits, nan, inf, - for none */
  function fmt(v) {
    if (v === null || v === undefined) return "-";
    if (Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    return String(Number(v.toPrecision(5)));
  }

  /* a legend's end: 3 significant digits */
  function fmt3(v) {
    return String(Number(v.toPrecision(3)));
  }

  /* values (rows x cols, row by row) into canvas, a pixel a value; CSS scales it up */
  function paint(canvas, values, cols, rows, scale) {
    canvas.width = cols;
    canvas.height = rows;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(cols, rows);
    for (let i = 0; i < cols * rows; i++) {
      const c = colour(values[i], scale);
      img.data[4 * i] = c[0];
      img.data[4 * i + 1] = c[1];
      img.data[4 * i + 2] = c[2];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  /* a map's colour bar: the scale's low end, 64 colours, its high end */
  function legend(scale) {
    const box = document.createElement("div");
    box.className = "lt-legend";
    const bar = document.createElement("canvas");
    const steps = 64;
    const values = new Float32Array(steps);
    for (let i = 0; i < steps; i++) {
      const t = i / (steps - 1);
      values[i] = scale.kind === "unit" ? t : (2 * t - 1) * scale.limit;
    }
    paint(bar, values, steps, 1, scale);
    const low = scale.kind === "unit" ? "0" : fmt3(-scale.limit);
    box.append(low, bar, scale.kind === "unit" ? "1" : fmt3(scale.limit));
    return box;
  }

  /* the tooltip by the mouse, kept inside the window */
  function showTip(event, lines) {
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
    const y = Math.min(event.clientY + 14, window.innerHeight - tip.offsetHeight - 4);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }

  function hideTip() {
    tip.hidden = true;
  }

  /* the cell of a canvas under the mouse: [row, column] */
  function cellAt(canvas, event, rows, cols) {
    const box = canvas.getBoundingClientRect();
    const r = Math.floor(((event.clientY - box.top) / box.height) * rows);
    const c = Math.floor(((event.clientX - box.left) / box.width) * cols);
    return [Math.min(Math.max(r, 0), rows - 1), Math.min(Math.max(c, 0), cols - 1)];
  }

  /* 'step 4' or 'steps 4-7' */
  function span(first, last, word) {
    return first === last ? `${word} ${first}` : `${word}s ${first}-${last}`;
  }

  /* the heatmap row a step was averaged into: the last row whose first step <= step */
  function rowOf(step) {
    const first = data.maps.first_steps;
    let lo = 0, hi = first.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (first[mid] <= step) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /* --- the heatmaps of the chosen layer and direction --- */

  /* the widest a map is drawn: 256 px, or less so that a place's maps fit one row, as long
     as every column keeps a pixel */
  function mapWidth(items, room) {
    const gap = 18 + 2;
    const share = Math.floor((room - gap * items.length) / Math.max(items.length, 1));
    if (share < 150) return 256; /* a caption's room: the maps wrap instead */
    const fits = items.every((i) => i.cols <= share);
    return fits ? Math.min(256, share) : 256;
  }

  function drawMaps() {
    const box = document.getElementById("lt-maps");
    box.textContent = "";
    if (!data.maps) return;
    const place = data.places[state.place];
    const items = data.maps.items.filter(
      (i) => i.layer === place.layer && i.direction === place.direction);
    const width = mapWidth(items, box.clientWidth);
    for (const item of items) box.append(mapFigure(item, place, width));
    placeMarkers();
  }

  /* one heatmap: its caption, the canvas (a cell per row and column, scaled up by whole
     pixels), the marker of the slider's step, the tooltip and the legend */
  function mapFigure(item, place, width) {
    const rows = data.maps.rows;
    const first = data.maps.first_steps;
    const values = floats(item.data);
    const fig = document.createElement("figure");
    fig.className = "lt-map";
    const cap = document.createElement("figcaption");
    cap.innerHTML = "<b></b> <span></span><span class=\"lt-scale\"></span>";
    cap.children[0].textContent = item.name;
    cap.children[1].textContent = item.symbol;
    cap.children[2].textContent = item.scale.text;
    const frame = document.createElement("div");
    frame.className = "lt-box";
    const canvas = document.createElement("canvas");
    canvas.dataset.name = item.name;
    canvas.dataset.rows = rows;
    canvas.dataset.cols = item.cols;
    paint(canvas, values, item.cols, rows, item.scale);
    const cw = Math.max(1, Math.min(8, Math.floor(width / item.cols)));
    const ch = Math.max(1, Math.min(24, Math.floor(360 / rows))); /* a pixel a row at least */
    canvas.style.width = item.cols * cw + "px";
    canvas.style.height = rows * ch + "px";
    fig.style.width = Math.max(item.cols * cw, 150) + 2 + "px"; /* captions wrap within */
    const marker = document.createElement("div");
    marker.className = "lt-marker";
    frame.append(canvas, marker);
    canvas.addEventListener("mousemove", (event) => {
      const [r, c] = cellAt(canvas, event, rows, item.cols);
      const v = values[r * item.cols + c];
      const last = (r + 1 < rows ? first[r + 1] : T) - 1;
      const unitLast = Math.min(item.units, (c + 1) * item.group) - 1;
      const mean = last > first[r] || unitLast > c * item.group ? " (mean)" : "";
      showTip(event, [
        `${item.name} ${item.symbol}, ${place.label}`,
        span(first[r], last, "step"),
        span(c * item.group, unitLast, "unit"),
        `value ${fmt(v)}${mean}`,
      ]);
      tip.dataset.step = first[r];
      tip.dataset.unit = c * item.group;
      tip.dataset.value = String(v);
    });
    canvas.addEventListener("mouseleave", hideTip);
    canvas.addEventListener("click", (event) => {
      const [r] = cellAt(canvas, event, rows, item.cols);
      showStep(heldIn(first[r], (r + 1 < rows ? first[r + 1] : T) - 1));
    });
    fig.append(cap, frame, legend(item.scale));
    return fig;
  }

  /* the line across every map at the row of the slider's step */
  function placeMarkers() {
    if (!data.maps) return;
    const r = rowOf(state.step);
    for (const frame of document.querySelectorAll("#lt-maps .lt-box")) {
      const canvas = frame.querySelector("canvas");
      const marker = frame.querySelector(".lt-marker");
      const h = parseFloat(canvas.style.height);
      marker.style.top = ((r + 0.5) / data.maps.rows) * h - 1 + "px";
    }
  }

  /* --- the step view: every tensor of the chosen layer and direction at one held step --- */
  /* the held step closest to step (a heatmap click lands on one the page holds) */
  function nearest(step) {
    let best = held[0];
    for (const s of held) if (Math.abs(s - step) < Math.abs(best - step)) best = s;
    return best;
  }

  /* the held step a heatmap row of steps first..last stands for: its first held step, else
     (a row between held steps) the held step nearest to it */
  function heldIn(first, last) {
    const inside = held.find((s) => s >= first && s <= last);
    return inside ?? nearest(first);
  }

  /* where a move of the slider to `value` lands: the held step it reached, moving on */
  function snap(value) {
    if (held.includes(value)) return value;
    if (value > state.step) return held.find((s) => s >= value) ?? held[held.length - 1];
    const before = held.filter((s) => s <= value);
    return before.length ? before[before.length - 1] : held[0];
  }

  /* a <td> of text appended to row */
  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.append(td);
    return td;
  }

  /* the colours of a strip: its heatmap's scale (this place's) when every value of the step
     lies within it, so that a gate and h keep the scale of their maps; else -m .. m, m the
     step's largest finite |value| (x, the concatenation, C, a projection's h) */
  function stripScale(point, values, place) {
    let big = 0;
    for (const v of values) if (Number.isFinite(v)) big = Math.max(big, Math.abs(v));
    const item = data.maps && data.maps.items.find((i) => i.name === point.name &&
      i.layer === place.layer && i.direction === place.direction);
    if (item) {
      const s = item.scale;
      let low = Infinity;
      for (const v of values) if (Number.isFinite(v)) low = Math.min(low, v);
      const fits = s.kind === "unit" ? low >= 0 && big <= 1 : big <= s.limit;
      if (fits) return s;
    }
    return { kind: "signed", limit: big || 1 };
  }

  function scaleText(scale) {
    return scale.kind === "unit" ? "0 .. 1" : `${fmt3(-scale.limit)} .. ${fmt3(scale.limit)}`;
  }

  /* every unit of a tensor at the shown step as a strip of colour, with its tooltip; a
     tensor of no values here (a trace that kept no samples) has none */
  function valueStrip(point, values, place) {
    const n = values.length;
    if (n === 0) return document.createTextNode("-");
    const strip = document.createElement("canvas");
    const scale = stripScale(point, values, place);
    strip.dataset.low = scale.kind === "unit" ? 0 : -scale.limit;
    strip.dataset.high = scale.kind === "unit" ? 1 : scale.limit;
    paint(strip, values, n, 1, scale);
    strip.addEventListener("mousemove", (event) => {
      const [, c] = cellAt(strip, event, 1, n);
      showTip(event, [`${point.name} ${point.symbol}, step ${state.step}`, `unit ${c}`,
        `value ${fmt(values[c])}`, `colours ${scaleText(scale)}`]);
      tip.dataset.step = state.step;
      tip.dataset.unit = c;
      tip.dataset.value = String(values[c]);
    });
    strip.addEventListener("mouseleave", hideTip);
    return strip;
  }

  /* the step view's table: per hook point its stats, first values and strip at the step */
  function drawValues() {
    const body = document.querySelector("#lt-values tbody");
    body.textContent = "";
    const place = data.steps.places[state.place];
    const at = held.indexOf(state.step);
    const first = data.first_nonfinite;
    for (const point of place.points) {
      const all = floats(point.values);
      const n = point.units;
      const values = all.subarray(at * n, (at + 1) * n);
      const stats = point.stats[at];
      const row = document.createElement("tr");
      row.dataset.name = point.name;
      row.title = point.equation;
      cell(row, point.name);
      cell(row, point.symbol);
      cell(row, point.shape);
      for (let k = 0; k < 4; k++) cell(row, stats ? fmt(stats[k]) : "-", "num");
      const bad = stats ? stats[4] + stats[5] : 0;
      cell(row, stats ? `${stats[4]}/${stats[5]}` : "-", "num");
      const shown = Array.from(values.subarray(0, SHOWN), fmt).join(" ");
      cell(row, shown + (n > SHOWN ? " ..." : ""), "lt-vals");
      cell(row, "").append(valueStrip(point, values, data.places[state.place]));
      if (bad) row.classList.add("lt-nonfinite");
      if (first && first.step === state.step && first.gate === point.name &&
          first.layer === place.layer && first.direction === place.direction) {
        row.classList.add("lt-first");
      }
      body.append(row);
    }
  }

  /* show a held step: the slider, its label, the table and the maps' markers */
  function showStep(step) {
    state.step = step;
    slider.value = step;
    const label = document.getElementById("lt-step-label");
    label.textContent = `step ${step} of 0-${T - 1} (held ${held.indexOf(step) + 1} of ${held.length})`;
    label.dataset.step = step;
    drawValues();
    placeMarkers();
  }

  /* show another layer and direction: its maps and its values */
  function choosePlace(index) {
    state.place = index;
    placeBox.selectedIndex = index;
    drawMaps();
    drawValues();
  }

  data.places.forEach((p) => placeBox.append(new Option(p.label)));
  placeBox.addEventListener("change", () => choosePlace(placeBox.selectedIndex));
  slider.addEventListener("input", () => showStep(snap(Number(slider.value))));
  /* the held step before (by = -1) or after (by = 1) the one shown, if there is one */
  function move(by) {
    const i = held.indexOf(state.step) + by;
    if (i >= 0 && i < held.length) showStep(held[i]);
  }
  document.getElementById("lt-prev").addEventListener("click", () => move(-1));
  document.getElementById("lt-next").addEventListener("click", () => move(1));
  /* the arrow keys move the slider from anywhere on the page (the slider, a <select> and the
     buttons handle their own keys) */
  document.addEventListener("keydown", (event) => {
    const own = ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName);
    if (own || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      move(event.key === "ArrowLeft" ? -1 : 1);
      event.preventDefault();
    }
  });
  const jump = document.getElementById("lt-jump-nan");
  if (jump && data.first_nonfinite) {
    jump.addEventListener("click", () => {
      const f = data.first_nonfinite;
      const index = data.places.findIndex((p) => p.layer === f.layer && p.direction === f.direction);
      choosePlace(Math.max(index, 0));
      showStep(nearest(f.step));
      document.getElementById("lt-steps").scrollIntoView({ block: "start" });
    });
  }
  window.addEventListener("scroll", hideTip, { passive: true });
  choosePlace(0);
  showStep(state.step);
})();
