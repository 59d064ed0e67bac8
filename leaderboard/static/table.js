/* Sortable, filterable leaderboard tables. Plain JS, no dependencies; reads only data-* attributes
   and never writes HTML (textContent, or clones of the page's own cells).

   Each row is a <tbody class="row"> holding its main row and a hidden detail row, so sorting moves
   both together. A ranked table has two views of the same rows:
   - "models" (the default): one <tbody class="row model"> per model showing, per column, the number
     of its best-sourced row; its source rows (<tbody class="row src" data-of=...>, best-sourced
     first) follow it and show when the model is opened;
   - "rows": every source row on its own, the model rows hidden.
   Filters, the view and each table's sort live in the page's URL (query string), so a view can be
   shared and reloads as it was. */
(function () {
  "use strict";

  var state = { view: "models", q: "", size: null, weights: null, prov: null, superseded: true, sort: {} };
  var form = null;
  var tables = [];

  function all(root, sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); }
  function mainRow(tb) { return tb.rows[0]; }

  function headerCells(table) {
    var rows = table.tHead ? table.tHead.rows : [];
    return rows.length ? Array.prototype.slice.call(rows[rows.length - 1].cells) : [];
  }

  function headerFor(table, col) {
    return headerCells(table).filter(function (h) { return h.getAttribute("data-col") === col; })[0] || null;
  }

  function cellOf(tb, col) {
    var cells = mainRow(tb).cells;
    for (var i = 0; i < cells.length; i++) if (cells[i].getAttribute("data-col") === col) return cells[i];
    return null;
  }

  function cellValue(tb, col, type) {
    var cell = cellOf(tb, col);
    if (!cell) return null;
    var raw = cell.getAttribute("data-v");
    if (raw === null) raw = cell.textContent.trim();
    if (raw === "") return null;
    if (type === "num") {
      var v = parseFloat(raw);
      return isNaN(v) ? null : v;
    }
    return raw.toLowerCase();
  }

  function shownValue(tb, col) {
    var cell = cellOf(tb, col);
    var val = cell && cell.querySelector(".val");
    var v = parseFloat(val ? val.textContent : "");
    return isNaN(v) ? null : v;
  }

  // kind "model": the model rows; "src": every other row (a source row, or a plain sortable row)
  function bodies(table, kind) {
    return Array.prototype.filter.call(table.tBodies, function (tb) {
      if (!tb.classList.contains("row")) return false;
      var isModel = tb.classList.contains("model");
      return !kind || (kind === "model") === isModel;
    });
  }

  function viewOf(table) { return table.hasAttribute("data-unranked") || !bodies(table, "model").length ? "rows" : state.view; }

  // -- sorting and layout ----------------------------------------------------------------------
  function sortOf(table) {
    var s = state.sort[table.id];
    if (s && headerFor(table, s.col)) return s;
    var def = table.getAttribute("data-default-sort");
    return def && headerFor(table, def) ? { col: def, dir: "descending" } : null;
  }

  function ordered(items, col, type, dir) {
    var keyed = items.map(function (tb, i) { return { tb: tb, v: cellValue(tb, col, type), i: i }; });
    keyed.sort(function (a, b) {
      if (a.v === null && b.v === null) return a.i - b.i;
      if (a.v === null) return 1;  // empty cells always last
      if (b.v === null) return -1;
      var c = a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
      return (dir === "descending" ? -c : c) || a.i - b.i;
    });
    return keyed.map(function (k) { return k.tb; });
  }

  function layout(table) {
    var view = viewOf(table);
    table.setAttribute("data-view", view);
    var s = sortOf(table);
    var th = s ? headerFor(table, s.col) : null;
    var type = th ? th.getAttribute("data-type") || "text" : "text";
    var frag = document.createDocumentFragment();
    if (view === "models") {
      var models = bodies(table, "model");
      (s ? ordered(models, s.col, type, s.dir) : models).forEach(function (m) {
        frag.appendChild(m);
        (table._sources[m.id] || []).forEach(function (tb) { frag.appendChild(tb); });
      });
    } else {
      var srcs = bodies(table, "src");
      (s ? ordered(srcs, s.col, type, s.dir) : srcs).forEach(function (tb) { frag.appendChild(tb); });
      bodies(table, "model").forEach(function (m) { frag.appendChild(m); });
    }
    table.appendChild(frag);
    headerCells(table).forEach(function (h) { if (h.classList.contains("sortable")) h.setAttribute("aria-sort", "none"); });
    if (th) th.setAttribute("aria-sort", s.dir);
    table.setAttribute("data-sorted-by", s ? s.col : "");
    renumber(table, view, s && type === "num" ? s.col : null);
  }

  // "#" ranks models, not rows: each model once, by its best visible value in the sorted column, best
  // first whatever the direction; models whose values read the same share a rank (1, 2, 2, 4). In the
  // "rows" view a model's other rows get no number; tables apart from the ranking are never numbered.
  function renumber(table, view, col) {
    if (table.hasAttribute("data-unranked")) return;
    var best = {};
    bodies(table).forEach(function (tb) {
      var rank = tb.querySelector("[data-rank]");
      if (!rank) return;
      rank.textContent = "";
      var isModel = tb.classList.contains("model");
      if (tb.hidden || !col || (view === "models") !== isModel) return;
      var v = shownValue(tb, col);
      if (v === null) return;
      var model = tb.getAttribute("data-model") || "";
      var b = best[model];
      if (!b || v > b.v) best[model] = { v: v, rank: rank };
    });
    var models = Object.keys(best).map(function (k) { return best[k]; });
    models.forEach(function (m) {
      m.rank.textContent = String(1 + models.filter(function (o) { return o.v > m.v; }).length);
    });
  }

  // -- filters -----------------------------------------------------------------------------------
  function values(name) {
    return all(form, 'input[name="' + name + '"]').map(function (i) { return i.value; });
  }

  function allowed(tb, own) {
    var q = state.q.toLowerCase();
    if (state.size && state.size.indexOf(tb.getAttribute("data-size")) < 0) return false;
    if (state.weights && state.weights.indexOf(tb.getAttribute("data-weights")) < 0) return false;
    if (q && (tb.getAttribute("data-name") || "").indexOf(q) < 0) return false;
    if (!own) return true;
    if (state.prov && state.prov.indexOf(tb.getAttribute("data-prov")) < 0) return false;
    return state.superseded || !tb.getAttribute("data-flags");
  }

  // A model row shows, per column, the first visible source row (best-sourced first) that has a
  // number there: the page's own cell when that is the built one (with its ties), else a copy of the
  // source's cell without tie marks (ties were tested between the numbers as built).
  function chooseCells(table, m) {
    var srcs = (table._sources[m.id] || []).filter(function (tb) { return !tb.hidden; });
    headerCells(table).forEach(function (h) {
      if (h.getAttribute("data-type") !== "num" || !h.classList.contains("num")) return;
      var col = h.getAttribute("data-col");
      var cell = cellOf(m, col);
      if (!cell) return;
      if (!cell._built) cell._built = { nodes: Array.prototype.slice.call(cell.childNodes), v: cell.getAttribute("data-v"),
                                        cls: cell.className, from: cell.getAttribute("data-v") === "" ? null : builtSource(table, m, col) };
      var from = null;
      for (var i = 0; i < srcs.length; i++) { var c = cellOf(srcs[i], col); if (c && c.getAttribute("data-v") !== "") { from = srcs[i]; break; } }
      while (cell.firstChild) cell.removeChild(cell.firstChild);
      if (from && from === cell._built.from) {
        cell._built.nodes.forEach(function (n) { cell.appendChild(n); });
        cell.setAttribute("data-v", cell._built.v);
        cell.className = cell._built.cls;
      } else if (from) {
        var src = cellOf(from, col);
        Array.prototype.forEach.call(src.childNodes, function (n) { cell.appendChild(n.cloneNode(true)); });
        all(cell, ".tie").forEach(function (t) { t.parentNode.removeChild(t); });
        cell.setAttribute("data-v", src.getAttribute("data-v"));
        cell.className = src.className.replace(/\btied\b/, "") + (cell._built.cls.indexOf("pin") >= 0 && src.className.indexOf("pin") < 0 ? " pin" : "");
      } else {
        cell.setAttribute("data-v", "");
        cell.className = "num empty" + (cell._built.cls.indexOf("pin") >= 0 ? " pin" : "");
      }
    });
    return srcs.length > 0;
  }

  function builtSource(table, m, col) {  // the source the page's model cell was built from
    var srcs = table._sources[m.id] || [];
    for (var i = 0; i < srcs.length; i++) { var c = cellOf(srcs[i], col); if (c && c.getAttribute("data-v") !== "") return srcs[i]; }
    return null;
  }

  function applyFilters() {
    var counts = [];
    tables.forEach(function (table) {
      var block = table.closest(".table-block");
      var c = counts.filter(function (x) { return x.block === block; })[0];
      if (!c) { c = { block: block, shown: 0, total: 0, apart: 0, rows: 0 }; counts.push(c); }
      bodies(table, "src").forEach(function (tb) { if (tb.hasAttribute("data-prov")) tb.hidden = !allowed(tb, true); });
      if (table.hasAttribute("data-unranked")) {
        c.apart += bodies(table, "src").filter(function (tb) { return !tb.hidden; }).length;
      } else if (viewOf(table) === "models") {
        bodies(table, "model").forEach(function (m) {
          m.hidden = !(chooseCells(table, m) && allowed(m, false));
          c.total += 1;
          if (!m.hidden) c.shown += 1;
        });
        c.unit = "models";
      } else {
        bodies(table, "src").forEach(function (tb) { c.total += 1; if (!tb.hidden) c.shown += 1; });
        c.unit = "rows";
      }
      layout(table);
    });
    counts.forEach(function (c) {
      var count = c.block && c.block.querySelector("[data-count]");
      if (!count) return;
      var unit = c.unit || "rows";
      var text = c.shown === c.total ? c.total + " " + unit : "showing " + c.shown + " of " + c.total + " " + unit;
      count.textContent = text + (c.apart ? " · " + c.apart + " not ranked (below)" : "");
    });
  }

  // -- the URL ---------------------------------------------------------------------------------
  function readURL() {
    var p = new URLSearchParams(location.search);
    state.view = p.get("view") === "rows" ? "rows" : "models";
    state.q = p.get("q") || "";
    ["size", "weights", "prov"].forEach(function (k) {
      state[k] = p.has(k) ? p.get(k).split(",").filter(function (x) { return x; }) : null;
    });
    state.superseded = p.get("superseded") !== "0";
    state.sort = {};
    p.getAll("sort").forEach(function (s) {
      var parts = s.split(":");
      if (parts.length === 3) state.sort[parts[0]] = { col: parts[1], dir: parts[2] === "a" ? "ascending" : "descending" };
    });
  }

  function query() {
    var p = new URLSearchParams();
    if (state.view !== "models") p.set("view", state.view);
    if (state.q) p.set("q", state.q);
    ["size", "weights", "prov"].forEach(function (k) { if (state[k]) p.set(k, state[k].join(",")); });
    if (!state.superseded) p.set("superseded", "0");
    tables.forEach(function (t) {
      var s = state.sort[t.id];
      if (s) p.append("sort", t.id + ":" + s.col + ":" + (s.dir === "ascending" ? "a" : "d"));
    });
    var text = p.toString();
    return text ? "?" + text : "";
  }

  function writeURL() {
    var url = location.pathname + query() + location.hash;
    try { history.replaceState(null, "", url); } catch (e) { /* a browser that refuses: the link below still works */ }
    all(document, "[data-share]").forEach(function (a) { a.href = query() || "?"; });
  }

  function syncForm() {
    if (!form) return;
    all(form, "input").forEach(function (i) {
      if (i.name === "view") i.checked = i.value === state.view;
      else if (i.name === "q") i.value = state.q;
      else if (i.name === "superseded") i.checked = state.superseded;
      else if (state[i.name] !== undefined) i.checked = state[i.name] === null || state[i.name].indexOf(i.value) >= 0;
    });
  }

  function readForm() {
    var pick = function (name) {
      var on = all(form, 'input[name="' + name + '"]').filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
      return on.length === values(name).length ? null : on;
    };
    var v = all(form, 'input[name="view"]').filter(function (i) { return i.checked; })[0];
    state.view = v ? v.value : "models";
    state.q = (form.querySelector('input[name="q"]') || { value: "" }).value.trim();
    state.size = pick("size");
    state.weights = pick("weights");
    state.prov = pick("prov");
    state.superseded = !!(form.querySelector('input[name="superseded"]') || { checked: true }).checked;
  }

  // -- disclosures -------------------------------------------------------------------------------
  function toggle(tb, open) {
    var button = tb.querySelector("button.expand");
    var detail = tb.querySelector("tr.detail");
    if (open === undefined) open = !tb.classList.contains("open");
    tb.classList.toggle("open", open);
    if (detail) detail.hidden = !open;
    if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
    if (tb.classList.contains("model")) {
      var table = tb.closest("table");
      (table._sources[tb.id] || []).forEach(function (s) { s.classList.toggle("shown", open); });
    }
  }

  function initTable(table) {
    table._sources = {};
    bodies(table, "src").forEach(function (tb) {
      var of = tb.getAttribute("data-of");
      if (of) (table._sources[of] = table._sources[of] || []).push(tb);
    });
    headerCells(table).forEach(function (th) {
      if (!th.classList.contains("sortable")) return;
      (th.querySelector("button") || th).addEventListener("click", function () {
        var cur = sortOf(table);
        var col = th.getAttribute("data-col");
        var type = th.getAttribute("data-type") || "text";
        var dir = cur && cur.col === col ? (cur.dir === "descending" ? "ascending" : "descending")
          : (type === "num" ? "descending" : "ascending");
        state.sort[table.id] = { col: col, dir: dir };
        layout(table);
        writeURL();
      });
    });
    table.addEventListener("click", function (e) {
      var t = e.target;
      if (t.closest("a") || t.closest("thead") || t.closest("tr.detail")) return;
      var button = t.closest("button.expand");
      var cell = t.closest("td.num, td.model-col");
      if (!button && !cell) return;
      var tb = t.closest("tbody.row");
      if (tb) toggle(tb);
    });
  }

  function init() {
    form = document.querySelector("form[data-filters]");
    tables = all(document, "table[data-sortable]");
    readURL();
    syncForm();
    tables.forEach(initTable);
    if (form) {
      var changed = function () { readForm(); applyFilters(); writeURL(); };
      form.addEventListener("input", changed);
      form.addEventListener("change", changed);
      form.addEventListener("submit", function (e) { e.preventDefault(); });
    }
    applyFilters();
    all(document, "[data-share]").forEach(function (a) { a.href = query() || "?"; });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
