/* Sortable, filterable leaderboard tables. Plain JS, no dependencies; reads only data-* attributes
   and never writes HTML (textContent only). Each table row group is a <tbody class="row"> holding
   the main row and its hidden detail row, so sorting moves both together. */
(function () {
  "use strict";

  function mainRow(tb) { return tb.rows[0]; }

  function headerCells(table) {
    var rows = table.tHead ? table.tHead.rows : [];
    return rows.length ? Array.prototype.slice.call(rows[rows.length - 1].cells) : [];
  }

  function cellValue(tb, index, type) {
    var cell = mainRow(tb).cells[index];
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

  function rowGroups(table) {
    return Array.prototype.filter.call(table.tBodies, function (tb) { return tb.classList.contains("row"); });
  }

  function sortTable(table, th, dir) {
    var ths = headerCells(table);
    var index = ths.indexOf(th);
    var type = th.getAttribute("data-type") || "text";
    var groups = rowGroups(table);
    var keyed = groups.map(function (tb, i) { return { tb: tb, v: cellValue(tb, index, type), i: i }; });
    keyed.sort(function (a, b) {
      if (a.v === null && b.v === null) return a.i - b.i;
      if (a.v === null) return 1;  // empty cells always last
      if (b.v === null) return -1;
      var c = a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
      return (dir === "descending" ? -c : c) || a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k.tb); });
    table.appendChild(frag);
    ths.forEach(function (h) { if (h.classList.contains("sortable")) h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir);
    table.setAttribute("data-sorted-by", th.getAttribute("data-col") || "");
    renumber(table);
  }

  // "#" ranks models, not rows: each model is ranked once, by its best visible value in the sorted
  // column, best first whatever the sort direction; models whose values read the same share a rank
  // (1, 2, 2, 4). A model's other rows get no number. Tables of results apart from the ranking
  // (data-unranked) are never numbered.
  function renumber(table) {
    if (table.hasAttribute("data-unranked")) return;
    var ths = headerCells(table);
    var th = ths.filter(function (h) { var s = h.getAttribute("aria-sort"); return s === "ascending" || s === "descending"; })[0];
    var index = th ? ths.indexOf(th) : -1;
    var numeric = th && th.getAttribute("data-type") === "num";
    var best = {};
    rowGroups(table).forEach(function (tb) {
      var rank = tb.querySelector("[data-rank]");
      if (!rank) return;
      rank.textContent = "";
      if (tb.hidden || !numeric) return;
      var v = cellValue(tb, index, "num");
      if (v === null) return;
      var val = mainRow(tb).cells[index].querySelector(".val");
      var shown = parseFloat(val ? val.textContent : "");
      var model = tb.getAttribute("data-model") || tb.getAttribute("data-name") || "";
      var b = best[model];
      if (!b || v > b.v) best[model] = { v: v, shown: isNaN(shown) ? v : shown, rank: rank };
    });
    var models = Object.keys(best).map(function (k) { return best[k]; });
    models.forEach(function (m) {
      var above = models.filter(function (o) { return o.shown > m.shown; }).length;
      m.rank.textContent = String(above + 1);
    });
  }

  function initSorting(table) {
    headerCells(table).forEach(function (th) {
      if (!th.classList.contains("sortable")) return;
      var button = th.querySelector("button") || th;
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var type = th.getAttribute("data-type") || "text";
        var dir;
        if (current === "descending") dir = "ascending";
        else if (current === "ascending") dir = "descending";
        else dir = type === "num" ? "descending" : "ascending";
        sortTable(table, th, dir);
      });
    });
    var def = table.getAttribute("data-default-sort");
    if (def) {
      var th = headerCells(table).filter(function (h) { return h.getAttribute("data-col") === def; })[0];
      if (th) sortTable(table, th, "descending");
    }
  }

  function initDetails(table) {
    rowGroups(table).forEach(function (tb) {
      var button = tb.querySelector("button.expand");
      var detail = tb.querySelector("tr.detail");
      if (!button || !detail) return;
      button.addEventListener("click", function () {
        var open = detail.hidden;
        detail.hidden = !open;
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    });
  }

  function checked(form, name) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="' + name + '"]'), function (i) { return i.checked; })
      .map(function (i) { return i.value; });
  }

  function applyFilters(form) {
    var q = (form.querySelector('input[name="q"]') || { value: "" }).value.trim().toLowerCase();
    var sizes = checked(form, "size"), weights = checked(form, "weights"), provs = checked(form, "prov");
    var showFlagged = checked(form, "superseded").length > 0;
    var counts = [];  // per table block: ranked rows shown / total, rows apart from the ranking shown
    document.querySelectorAll("table[data-sortable]").forEach(function (table) {
      var block = table.closest(".table-block");
      var c = counts.filter(function (x) { return x.block === block; })[0];
      if (!c) { c = { block: block, shown: 0, total: 0, apart: 0 }; counts.push(c); }
      rowGroups(table).forEach(function (tb) {
        if (!tb.hasAttribute("data-prov")) return;
        var ok = sizes.indexOf(tb.getAttribute("data-size")) >= 0 &&
          weights.indexOf(tb.getAttribute("data-weights")) >= 0 &&
          provs.indexOf(tb.getAttribute("data-prov")) >= 0 &&
          (showFlagged || !tb.getAttribute("data-flags")) &&
          (!q || (tb.getAttribute("data-name") || "").indexOf(q) >= 0);
        tb.hidden = !ok;
        if (table.hasAttribute("data-unranked")) { if (ok) c.apart += 1; return; }
        c.total += 1;
        if (ok) c.shown += 1;
      });
      renumber(table);
    });
    counts.forEach(function (c) {
      var count = c.block && c.block.querySelector("[data-count]");
      if (!count) return;
      var text = c.shown === c.total ? c.total + " rows" : "showing " + c.shown + " of " + c.total + " rows";
      count.textContent = text + (c.apart ? " · " + c.apart + " not ranked (below)" : "");
    });
  }

  function init() {
    document.querySelectorAll("table[data-sortable]").forEach(function (table) {
      initSorting(table);
      initDetails(table);
    });
    var form = document.querySelector("form[data-filters]");
    if (form) {
      form.addEventListener("input", function () { applyFilters(form); });
      form.addEventListener("change", function () { applyFilters(form); });
      form.addEventListener("submit", function (e) { e.preventDefault(); });
      applyFilters(form);
    } else {
      document.querySelectorAll("table[data-sortable]").forEach(renumber);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
