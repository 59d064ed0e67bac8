/* Per-sample explorer. Data: window.EXPLORER_META (data/meta.js) and, loaded on demand,
   window.EXPLORER_CHUNKS[k] (data/chunk-NNN.js). Everything in the data is untrusted text
   (model outputs, annotations, judge reasons): it only ever reaches the page through
   textContent, attribute setters with fixed names, or validated frame paths. */
(function () {
  "use strict";
  var META = window.EXPLORER_META;
  var root = document.getElementById("explorer");
  if (!META || !root) return;

  var form = document.getElementById("ex-controls");
  var listEl = document.getElementById("ex-list");
  var sampleEl = document.getElementById("ex-sample");
  var posEl = document.getElementById("ex-pos");
  var prevBtn = document.getElementById("ex-prev");
  var nextBtn = document.getElementById("ex-next");
  var moreBtn = document.getElementById("ex-more");
  var permalink = document.getElementById("ex-permalink");
  var hintEl = document.getElementById("ex-hint");
  var PAGE = 200;
  var shownCount = PAGE;
  var filtered = [];
  var KEYS = ["subset", "run", "b", "rel", "min", "max", "status", "sort", "text", "scope", "q"];
  var state = { s: null, subset: "", run: "", b: "", rel: "", min: "", max: "", status: "", sort: "", text: "",
                scope: "", q: "" };
  var FULL = 100;  // the tables' scale: a right answer is 100, a wrong one 0
  var pending = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function pad(n, w) { var s = String(n); while (s.length < w) s = "0" + s; return s; }

  function runIndex(id) {
    for (var i = 0; i < META.runs.length; i++) if (META.runs[i].id === id) return i;
    return -1;
  }

  // value scale per run, for the coloured dots
  var scaleMax = META.runs.map(function (_, i) {
    var m = 0;
    META.samples.forEach(function (s) { var v = s[2][i]; if (typeof v === "number" && v > m) m = v; });
    return m <= 1 ? 1 : m;
  });

  // each dot also carries a sign, so colour is never the only signal
  function glyph(v, i) {
    if (typeof v !== "number") return "–";
    if (v >= scaleMax[i] - 1e-9) return "✓";
    if (v <= 1e-9) return "✗";
    return v >= scaleMax[i] / 2 ? "+" : "−";
  }

  function colour(v, i) {
    if (typeof v !== "number") return "#d7dbe2";
    var t = Math.max(0, Math.min(1, v / scaleMax[i]));
    // light tones, so the dark sign on them keeps its contrast
    var r = Math.round(240 - 130 * t), g = Math.round(150 + 80 * t), b = Math.round(140 - 20 * t);
    return "rgb(" + r + "," + g + "," + b + ")";
  }

  function fmt(v) {
    if (typeof v !== "number") return "–";
    if (Math.abs(v) <= 1 && v !== 0 && v !== 1) return v.toFixed(3);
    return Math.round(v * 100) / 100 + "";
  }

  // -- state <-> URL hash --------------------------------------------------------------------
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    state.s = params.get("s");
    KEYS.forEach(function (k) { state[k] = params.get(k) || ""; });
    if (!state.run && META.runs.length) state.run = META.runs[0].id;
  }

  function hashFor(s) {
    var p = new URLSearchParams();
    if (s !== null && s !== undefined) p.set("s", s);
    KEYS.forEach(function (k) { if (state[k]) p.set(k, state[k]); });
    return "#" + p.toString();
  }

  // -- controls --------------------------------------------------------------------------------
  function initControls() {
    var subsetSel = form.elements.subset;
    (META.subsets || []).forEach(function (s) {
      var o = el("option", null, (META.subset_titles && META.subset_titles[s]) || s);
      o.value = s;
      subsetSel.appendChild(o);
    });
    [form.elements.run, form.elements.b].forEach(function (sel) {
      META.runs.forEach(function (r) {
        var o = el("option", null, r.model + " · " + r.id.slice(0, 8));
        o.value = r.id;
        sel.appendChild(o);
      });
    });
    hintEl.textContent = META.value_hint ? "score: " + META.value_hint : "";
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("input", onControls);
    form.addEventListener("change", onControls);
  }

  function syncControls() {
    KEYS.forEach(function (k) { if (form.elements[k]) form.elements[k].value = state[k]; });
  }

  function onControls() {
    KEYS.forEach(function (k) { if (form.elements[k]) state[k] = String(form.elements[k].value).trim(); });
    shownCount = PAGE;
    if (!applyFilter()) return;  // waits for the search text; comes back here
    if (filtered.length && filtered.indexOf(indexOf(state.s)) < 0) state.s = META.samples[filtered[0]][0];
    history.replaceState(null, "", hashFor(state.s));
    render();
  }

  // -- filtering -------------------------------------------------------------------------------
  var idIndex = {};
  META.samples.forEach(function (s, i) { idIndex[s[0]] = i; });
  function indexOf(id) { return id !== null && id !== undefined && idIndex.hasOwnProperty(id) ? idIndex[id] : -1; }

  // full-text search reads data/text.js (references and predictions), loaded on the first search
  var textWaiting = false;
  function withText(done) {
    if (window.EXPLORER_TEXT) { done(); return; }
    if (textWaiting) return;
    textWaiting = true;
    posEl.textContent = "loading the texts for the search…";
    var sc = document.createElement("script");
    sc.src = "data/text.js";
    sc.onload = function () {
      textWaiting = false;
      (window.EXPLORER_TEXT || []).forEach(function (t) {
        t[0] = String(t[0] || "").toLowerCase();
        t[1] = t[1].map(function (x) { return String(x || "").toLowerCase(); });
      });
      done();
    };
    sc.onerror = function () { textWaiting = false; posEl.textContent = "Could not load data/text.js"; };
    document.head.appendChild(sc);
  }

  function textMatch(i, words, ri) {
    var t = window.EXPLORER_TEXT[i];
    var hay = [];
    if (state.scope !== "pred" && state.scope !== "preda") hay.push(t[0]);
    if (state.scope === "preda") { if (ri >= 0) hay.push(t[1][ri]); }
    else if (state.scope !== "ref") hay = hay.concat(t[1]);
    return words.every(function (w) { return hay.some(function (h) { return h.indexOf(w) >= 0; }); });
  }

  function right(v) { return typeof v === "number" && v >= FULL - 1e-9; }
  function wrong(v) { return typeof v === "number" && v <= 1e-9; }

  function relation(a, b) {
    switch (state.rel) {
      case "ab": return right(a) && wrong(b);
      case "ba": return wrong(a) && right(b);
      case "both": return right(a) && right(b);
      case "neither": return wrong(a) && wrong(b);
      case "gt": return typeof a === "number" && typeof b === "number" && a > b;
      case "lt": return typeof a === "number" && typeof b === "number" && a < b;
      default: return true;
    }
  }

  // Returns false while the search texts load (onControls runs again when they are there).
  function applyFilter() {
    var words = state.text.toLowerCase().split(/\s+/).filter(function (w) { return w; });
    if (words.length && !window.EXPLORER_TEXT) { withText(function () { onControls(); }); return false; }
    var ri = runIndex(state.run), bi = runIndex(state.b);
    var lo = state.min === "" ? null : parseFloat(state.min);
    var hi = state.max === "" ? null : parseFloat(state.max);
    var q = state.q.toLowerCase();
    filtered = [];
    META.samples.forEach(function (s, i) {
      if (state.subset && s[1] !== state.subset) return;
      if (q && String(s[0]).toLowerCase().indexOf(q) < 0) return;
      if (ri >= 0) {
        var v = s[2][ri], st = s[3][ri];
        if (lo !== null && !(typeof v === "number" && v >= lo)) return;
        if (hi !== null && !(typeof v === "number" && v <= hi)) return;
        if (state.status === "failed" && st === "ok" && typeof v === "number") return;
        if (state.status === "ok" && typeof v !== "number") return;
      }
      if (state.rel && (ri < 0 || bi < 0 || !relation(s[2][ri], s[2][bi]))) return;
      if (words.length && !textMatch(i, words, ri)) return;
      filtered.push(i);
    });
    sortFiltered(ri, bi);
    hintEl.textContent = hint();
    return true;
  }

  function sortFiltered(ri, bi) {
    var key = null;
    var sign = state.sort.charAt(0) === "-" ? 1 : -1;
    var by = state.sort.replace(/^-/, "");
    if (by === "diff" && ri >= 0 && bi >= 0) key = function (s) {
      var a = s[2][ri], b = s[2][bi];
      return typeof a === "number" && typeof b === "number" ? a - b : null;
    };
    else if (by === "a" && ri >= 0) key = function (s) { return typeof s[2][ri] === "number" ? s[2][ri] : null; };
    if (!key) return;
    var keyed = filtered.map(function (i) { return { i: i, k: key(META.samples[i]) }; });
    keyed.sort(function (x, y) {
      if (x.k === null || y.k === null) return (x.k === null) - (y.k === null) || x.i - y.i;
      return sign * (x.k - y.k) || x.i - y.i;
    });
    filtered = keyed.map(function (x) { return x.i; });
  }

  function hint() {
    var out = META.value_hint ? "score: " + META.value_hint + "." : "";
    if (state.rel && (runIndex(state.run) < 0 || runIndex(state.b) < 0)) out += " Choose models A and B to compare them.";
    else if (state.rel === "ab" || state.rel === "ba" || state.rel === "both" || state.rel === "neither")
      out += " Right: full marks (" + FULL + "); wrong: 0; a failed or missing score is neither.";
    return out;
  }

  // -- list --------------------------------------------------------------------------------------
  function renderList(current) {
    listEl.textContent = "";
    var n = Math.min(filtered.length, shownCount);
    for (var k = 0; k < n; k++) {
      var i = filtered[k], s = META.samples[i];
      var li = el("li");
      var a = el("a");
      a.href = hashFor(s[0]);
      a.setAttribute("data-sample", s[0]);
      if (i === current) a.setAttribute("aria-current", "true");
      a.appendChild(el("span", "sid", s[0]));
      var dots = el("span", "dots");
      s[2].forEach(function (v, ri) {
        var d = el("span", "dot", glyph(v, ri));
        d.style.background = colour(v, ri);
        d.setAttribute("aria-label", META.runs[ri].model + ": " + fmt(v));
        dots.appendChild(d);
      });
      a.appendChild(dots);
      li.appendChild(a);
      listEl.appendChild(li);
    }
    moreBtn.hidden = filtered.length <= shownCount;
  }

  // -- chunks ------------------------------------------------------------------------------------
  function withChunk(c, done) {
    var chunks = window.EXPLORER_CHUNKS || {};
    if (chunks[c]) { done(chunks[c]); return; }
    if (pending[c]) { pending[c].push(done); return; }
    pending[c] = [done];
    var sc = document.createElement("script");
    sc.src = "data/chunk-" + pad(c, 3) + ".js";
    sc.onload = function () {
      var got = (window.EXPLORER_CHUNKS || {})[c] || [];
      var cbs = pending[c]; delete pending[c];
      cbs.forEach(function (f) { f(got); });
    };
    sc.onerror = function () {
      delete pending[c];
      sampleEl.textContent = "";
      sampleEl.appendChild(el("p", "warn", "Could not load data/chunk-" + pad(c, 3) + ".js"));
    };
    document.head.appendChild(sc);
  }

  // -- one sample --------------------------------------------------------------------------------
  function section(parent, title) { parent.appendChild(el("h3", null, title)); }

  // a long text shows its start; a button opens the rest
  var LONG = 600;
  function textbox(parent, text, mono) {
    var box = el("div", "textbox" + (mono ? " mono" : ""), text);
    parent.appendChild(box);
    if (String(text || "").length <= LONG) return;
    box.classList.add("clipped");
    box.id = "tb-" + (++textbox.n);
    var b = el("button", "more", "show all (" + String(text).length + " characters)");
    b.type = "button";
    b.setAttribute("aria-expanded", "false");
    b.setAttribute("aria-controls", box.id);
    b.addEventListener("click", function () {
      var open = box.classList.toggle("clipped") === false;
      b.setAttribute("aria-expanded", open ? "true" : "false");
      b.textContent = open ? "show less" : "show all (" + String(text).length + " characters)";
    });
    parent.appendChild(b);
  }
  textbox.n = 0;

  function inputsTable(parent, entry) {
    var rows = [];
    entry.runs.forEach(function (pr, ri) { if (pr.inputs) rows.push([META.runs[ri].model, pr.inputs]); });
    if (!rows.length) return;
    section(parent, "What each model was given (inputs record)");
    var wrap = el("div", "scroll");
    var t = el("table", "plain inputs");
    var head = el("tr");
    ["Model", "Frames", "Frame indices", "Timestamps (s)", "Size", "Visual tokens", "Prompt SHA-256"].forEach(function (h) {
      var th = el("th", null, h); th.scope = "col"; head.appendChild(th);
    });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var x = r[1], tr = el("tr");
      var list = function (v) { return Array.isArray(v) ? v.map(function (n) { return typeof n === "number" ? Math.round(n * 100) / 100 : String(n); }).join(", ") : "–"; };
      var wh = function (v) { return Array.isArray(v) ? v.join("×") : ""; };
      var size = wh(x.decoded_wh) + (x.resized_wh ? " → " + wh(x.resized_wh) : "") + (x.grid_thw ? " (grid " + list(x.grid_thw) + ")" : "");
      [r[0], (x.frame_indices ? x.frame_indices.length : "–") + (x.frames_requested ? " of " + x.frames_requested + " asked" : "") + (x.images ? ", " + x.images + " images" : ""),
       list(x.frame_indices), list(x.timestamps), size || "–", x.visual_tokens !== undefined ? String(x.visual_tokens) : "–",
       x.prompt_sha256 ? String(x.prompt_sha256).slice(0, 16) + "…" : "–"].forEach(function (v, k) {
        tr.appendChild(el("td", k === 2 || k === 3 ? "small" : null, v));
      });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    wrap.appendChild(t);
    parent.appendChild(wrap);
  }

  function relClass(rel) {
    var r = String(rel || "").trim().toLowerCase();
    if (r.indexOf("entail") === 0) return "entailment";
    if (r.indexOf("contradict") === 0) return "contradiction";
    if (r.indexOf("neutral") === 0) return "neutral";
    return "";
  }

  function isVerdictList(v) {
    return Array.isArray(v) && v.length > 0 && v.every(function (x) {
      return x && typeof x === "object" && !Array.isArray(x) &&
        ("event" in x || "text" in x) && ("relationship" in x || "label" in x || "verdict" in x);
    });
  }

  function verdictTitle(key) {
    var k = key.toLowerCase();
    if (k.indexOf("recall") >= 0 || k.indexOf("gt") >= 0 || k.indexOf("ref") >= 0)
      return "Reference events vs. this description (recall)";
    if (k.indexOf("precision") >= 0 || k.indexOf("pred") >= 0)
      return "Events of this description vs. the reference (precision)";
    return key;
  }

  function renderVerdicts(parent, key, list) {
    parent.appendChild(el("div", "small muted", verdictTitle(key)));
    var ul = el("ul", "verdicts");
    list.forEach(function (x) {
      var rel = x.relationship !== undefined ? x.relationship : (x.label !== undefined ? x.label : x.verdict);
      var li = el("li", relClass(rel));
      li.appendChild(el("span", "rel", rel === undefined || rel === null ? "?" : String(rel)));
      li.appendChild(el("span", "ev", x.event !== undefined ? x.event : x.text));
      if (x.reason) li.appendChild(el("span", "reason", x.reason));
      ul.appendChild(li);
    });
    parent.appendChild(ul);
  }

  function renderScores(box, runMeta, pr) {
    runMeta.score_sets.forEach(function (ss) {
      var sc = pr.scores ? pr.scores[ss.id] : null;
      if (!sc) return;
      var head = el("div", "fields");
      var label = (ss.metric || "score") + " · " + (ss.protocol || "") + (ss.judge ? " · judge " + ss.judge : "");
      head.appendChild(el("strong", null, label + ": "));
      if (sc.status !== "ok") {
        head.appendChild(el("span", "status-failed", "failed" + (sc.reason ? " (" + sc.reason + ")" : "")));
        box.appendChild(head);
        return;
      }
      var scalars = [];
      var lists = [];
      var keys = Object.keys(sc.fields || {});
      var hasVerdicts = keys.some(function (k) { return isVerdictList(sc.fields[k]); });
      keys.forEach(function (k) {
        var v = sc.fields[k];
        if (isVerdictList(v)) lists.push([k, v]);
        else if (v === null || typeof v !== "object") scalars.push(k + " " + (typeof v === "number" ? fmt(v) : String(v)));
        else if (!hasVerdicts && Array.isArray(v) && v.every(function (x) { return typeof x !== "object"; }))
          scalars.push(k + " [" + v.map(String).join(", ") + "]");
      });
      head.appendChild(el("span", null, scalars.join(" · ")));
      box.appendChild(head);
      lists.forEach(function (kv) { renderVerdicts(box, kv[0], kv[1]); });
    });
  }

  function renderSample(entry, i) {
    sampleEl.textContent = "";
    var s = META.samples[i];
    var h = el("h2", null, "Sample " + entry.id);
    sampleEl.appendChild(h);
    var bits = [];
    if (s[1]) bits.push((META.subset_titles && META.subset_titles[s[1]]) || s[1]);
    if (entry.groups) Object.keys(entry.groups).forEach(function (k) { if (entry.groups[k] !== s[1]) bits.push(k + ": " + entry.groups[k]); });
    if (entry.video) bits.push("video " + entry.video);
    if (entry.extra) Object.keys(entry.extra).forEach(function (k) { bits.push(k + " " + entry.extra[k]); });
    sampleEl.appendChild(el("div", "kvline", bits.join(" · ")));

    if (entry.frames && entry.frames.length) {
      section(sampleEl, "Frames");
      var strip = el("div", "strip");
      entry.frames.forEach(function (f) {
        if (!/^frames\/[0-9]+-[0-9]+\.jpg$/.test(String(f.src))) return;
        var fig = el("figure");
        var img = el("img");
        img.src = f.src;
        img.alt = "frame " + f.index;
        img.loading = "lazy";
        fig.appendChild(img);
        fig.appendChild(el("figcaption", null, (typeof f.t === "number" ? f.t.toFixed(1) + " s" : "") + " · #" + f.index));
        strip.appendChild(fig);
      });
      sampleEl.appendChild(strip);
    } else if (META.has_samples) {
      sampleEl.appendChild(el("p", "small muted", "No frames: the video is not available locally (build with --video-root)."));
    }
    inputsTable(sampleEl, entry);
    if (!META.has_samples) {
      sampleEl.appendChild(el("p", "small muted", "The annotations were not available to the build: prompt and references are not shown."));
    }
    if (entry.prompt) { section(sampleEl, "Prompt"); textbox(sampleEl, entry.prompt, true); }
    if (entry.options && entry.options.length) {
      section(sampleEl, "Options");
      var ol = el("ol", "events");
      ol.type = "A";
      entry.options.forEach(function (o) { ol.appendChild(el("li", null, o)); });
      sampleEl.appendChild(ol);
    }
    if (entry.answer) { section(sampleEl, "Answer"); textbox(sampleEl, entry.answer); }
    if (entry.references && entry.references.length) {
      section(sampleEl, entry.references.length > 1 ? "References (" + entry.n_references + ")" : "Reference");
      entry.references.forEach(function (r) { textbox(sampleEl, r); });
      if (entry.n_references > entry.references.length)
        sampleEl.appendChild(el("p", "small muted", (entry.n_references - entry.references.length) + " more not shown"));
    }
    if (entry.events) {
      section(sampleEl, "Reference events (" + entry.events.length + ")");
      var ev = el("ol", "events");
      entry.events.forEach(function (e) { ev.appendChild(el("li", null, e)); });
      sampleEl.appendChild(ev);
    }
    section(sampleEl, "Predictions");
    var legend = el("div", "legend");
    [["entailment", "entailed"], ["neutral", "neutral"], ["contradiction", "contradicted"]].forEach(function (p) {
      var sp = el("span", null, "■ " + p[1]); sp.className = "verdicts-" + p[0]; legend.appendChild(sp);
    });
    if (META.benchmark === "dream") sampleEl.appendChild(legend);
    var grid = el("div", "preds");
    var focus = runIndex(state.run);
    entry.runs.forEach(function (pr, ri) {
      var rm = META.runs[ri];
      var box = el("article", "pred" + (ri === focus && META.runs.length > 1 ? " focus" : ""));
      var head = el("header");
      var who = el("span", "who", rm.model);
      head.appendChild(who);
      if (ri === focus) head.appendChild(el("span", "ab", "A"));
      if (ri === runIndex(state.b)) head.appendChild(el("span", "ab", "B"));
      head.appendChild(el("span", "score", fmt(s[2][ri])));
      box.appendChild(head);
      box.appendChild(el("div", "small muted", "run " + rm.id + (rm.backend ? " · " + rm.backend : "") + (rm.revision ? " · " + rm.revision : "")));
      if (pr.status === "missing") box.appendChild(el("div", "status-missing", "no prediction in this run"));
      else if (pr.status === "error") box.appendChild(el("div", "status-error", "error: " + (pr.error || "unknown")));
      if (pr.text !== null && pr.text !== undefined) textbox(box, pr.text);
      if (typeof pr.seconds === "number" && pr.seconds >= 0.01) box.appendChild(el("div", "fields", "generated in " + pr.seconds.toFixed(2) + " s"));
      renderScores(box, rm, pr);
      grid.appendChild(box);
    });
    sampleEl.appendChild(grid);
  }

  // -- navigation --------------------------------------------------------------------------------
  function render() {
    var i = indexOf(state.s);
    if (i < 0 || filtered.indexOf(i) < 0) i = filtered.length ? filtered[0] : -1;
    var pos = filtered.indexOf(i);
    if (pos >= shownCount) shownCount = Math.ceil((pos + 1) / PAGE) * PAGE;
    renderList(i);
    prevBtn.disabled = pos <= 0;
    nextBtn.disabled = pos < 0 || pos >= filtered.length - 1;
    if (i < 0) {
      posEl.textContent = "no sample matches (" + META.samples.length + " in all)";
      sampleEl.textContent = "";
      permalink.href = hashFor(null);
      return;
    }
    var id = META.samples[i][0];
    posEl.textContent = "sample " + (pos + 1) + " of " + filtered.length +
      (filtered.length !== META.samples.length ? " (of " + META.samples.length + ")" : "");
    permalink.href = hashFor(id);
    var c = Math.floor(i / META.chunk);
    withChunk(c, function (entries) {
      if (indexOf(state.s) >= 0 && indexOf(state.s) !== i) return;  // navigated away meanwhile
      var entry = entries[i - c * META.chunk];
      if (entry) renderSample(entry, i);
    });
    var cur = listEl.querySelector('a[aria-current="true"]');
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest" });
  }

  function go(delta) {
    var i = indexOf(state.s);
    var pos = filtered.indexOf(i);
    if (pos < 0) pos = 0;
    var next = pos + delta;
    if (next < 0 || next >= filtered.length) return;
    location.hash = hashFor(META.samples[filtered[next]][0]);
  }

  prevBtn.addEventListener("click", function () { go(-1); });
  nextBtn.addEventListener("click", function () { go(1); });
  moreBtn.addEventListener("click", function () { shownCount += PAGE; renderList(indexOf(state.s)); });
  document.addEventListener("keydown", function (e) {
    var t = e.target && e.target.tagName;
    if (t === "INPUT" || t === "SELECT" || t === "TEXTAREA" || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "j" || e.key === "ArrowRight") { go(1); e.preventDefault(); }
    if (e.key === "k" || e.key === "ArrowLeft") { go(-1); e.preventDefault(); }
  });
  window.addEventListener("hashchange", function () {
    readHash();
    syncControls();
    if (applyFilter()) render();
  });

  initControls();
  readHash();
  if (runIndex(state.run) < 0 && META.runs.length) state.run = META.runs[0].id;
  syncControls();
  if (applyFilter()) {
    if (indexOf(state.s) < 0 && filtered.length) state.s = META.samples[filtered[0]][0];
    render();
  }
})();
