// The editor's Docs tab (templates/insight/docs_tab.html): sends the editor's code with every
// request of the tab, keeps the chosen sub-view and options across reloads, zooms and pans
// the Flow's SVG, and selects a step's lines in Monaco when it is clicked.
(function () {
  "use strict";

  var host = document.getElementById("insight");
  if (!host) return;
  var panel = document.getElementById("wf-tab-docs");
  var state = { view: "flow", environment: "", runs: "" };
  var view = null; // the Flow's current viewBox {x, y, w, h} and the fitted one
  var REFRESH_MS = 900;

  function editor() { return window.wfEditor || null; }

  // --- Requests: the editor's code and the remembered options go along -------------------
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest || !elt.closest("#insight")) return;
    var params = event.detail.parameters;
    var ed = editor();
    if (ed) {
      params.delete("code");
      params.append("code", new Blob([ed.getValue()], { type: "text/javascript" }), "workflow.js");
    }
    ["view", "environment", "runs"].forEach(function (name) {
      if (!params.has(name) && state[name]) params.append(name, state[name]);
    });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== host) return;
    var inner = host.querySelector("[data-view]");
    if (inner) state.view = inner.getAttribute("data-view");
    var env = host.querySelector("select[name=environment]");
    var runs = host.querySelector("select[name=runs]");
    if (env) state.environment = env.value;
    if (runs) state.runs = runs.value;
    setupCanvas();
    markCurrent();
  });

  // --- Selecting code ---------------------------------------------------------------------
  function selectLines(start, end, column) {
    var ed = editor();
    if (!ed || !start) return false;
    var model = ed.getModel();
    var last = model.getLineCount();
    start = Math.max(1, Math.min(start, last));
    end = Math.max(start, Math.min(end || start, last));
    if (column) {
      ed.setPosition({ lineNumber: start, column: column });
    } else {
      ed.setSelection({
        startLineNumber: start, startColumn: model.getLineFirstNonWhitespaceColumn(start) || 1,
        endLineNumber: end, endColumn: model.getLineMaxColumn(end)
      });
    }
    ed.revealLinesInCenterIfOutsideViewport(start, end);
    ed.focus();
    return true;
  }

  function nodesMeta() {
    var script = host.querySelector("#insight-nodes");
    if (!script) return {};
    try { return JSON.parse(script.textContent); } catch (err) { return {}; }
  }

  function selectNode(group) {
    var id = group.id.replace(/^wfn_/, "");
    var lines = nodesMeta()[id];
    host.querySelectorAll("g.node.is-selected").forEach(function (g) { g.classList.remove("is-selected"); });
    group.classList.add("is-selected");
    var canvas = host.querySelector("[data-insight-canvas]");
    if (canvas) canvas.setAttribute("data-selected-node", id);
    if (lines && lines[0]) selectLines(lines[0], lines[1]);
  }

  host.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insight-lines]");
    if (button) {
      var parts = button.getAttribute("data-insight-lines").split("-");
      var column = parseInt(button.getAttribute("data-insight-column") || "0", 10);
      selectLines(parseInt(parts[0], 10), parseInt(parts[1], 10), column);
      return;
    }
    var zoom = event.target.closest("[data-insight-zoom]");
    if (zoom) {
      var how = zoom.getAttribute("data-insight-zoom");
      if (how === "fit") fit();
      else zoomBy(how === "in" ? 1 / 1.25 : 1.25);
      return;
    }
    if (event.target.closest("[data-insight-wide]")) {
      var panels = document.querySelector(".wf-panels");
      var wide = panels.classList.toggle("insight-wide");
      event.target.closest("[data-insight-wide]").setAttribute("aria-pressed", wide ? "true" : "false");
      window.setTimeout(fit, 50);
      return;
    }
    if (dragged) return; // the end of a pan, not a click
    var group = event.target.closest("g.node");
    if (group && host.contains(group)) selectNode(group);
  });

  // --- Zoom and pan (the SVG's viewBox) ------------------------------------------------------
  var dragged = false;

  function svg() { return host.querySelector("[data-insight-canvas] svg"); }

  function apply() {
    var el = svg();
    if (el && view) el.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
  }

  function fit() {
    if (!view) return;
    view.x = view.fit.x; view.y = view.fit.y; view.w = view.fit.w; view.h = view.fit.h;
    apply();
  }

  function zoomBy(factor, clientX, clientY) {
    var el = svg();
    if (!el || !view) return;
    var w = view.w * factor, h = view.h * factor;
    // Never closer than 1/8 of the drawing's width, nor farther than 8 times it.
    if (w < view.fit.w / 8 || w > view.fit.w * 8) return;
    var rect = el.getBoundingClientRect();
    var fx = clientX === undefined ? 0.5 : (clientX - rect.left) / rect.width;
    var fy = clientY === undefined ? 0.5 : (clientY - rect.top) / rect.height;
    view.x += (view.w - w) * fx;
    view.y += (view.h - h) * fy;
    view.w = w; view.h = h;
    apply();
  }

  // Start where the text is readable (about 85% of its size), at the top of the flow and
  // centred on it; "Fit" shows the whole drawing.
  var READABLE = 0.85;
  function startReadable(canvas) {
    var rect = canvas.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    var w = Math.min(view.fit.w, rect.width / READABLE);
    var h = w * rect.height / rect.width;
    if (h >= view.fit.h && w >= view.fit.w) return; // it all fits already
    view.w = w; view.h = h;
    view.x = view.fit.x + (view.fit.w - w) / 2;
    view.y = view.fit.y;
    apply();
  }

  function setupCanvas() {
    var el = svg();
    view = null;
    if (!el) return;
    var box = (el.getAttribute("viewBox") || "0 0 100 100").split(/[\s,]+/).map(parseFloat);
    view = { x: box[0], y: box[1], w: box[2], h: box[3] };
    view.fit = { x: box[0], y: box[1], w: box[2], h: box[3] };
    el.removeAttribute("width");
    el.removeAttribute("height");
    var canvas = el.parentNode;
    startReadable(canvas);
    canvas.addEventListener("wheel", function (event) {
      event.preventDefault();
      zoomBy(event.deltaY < 0 ? 1 / 1.15 : 1.15, event.clientX, event.clientY);
    }, { passive: false });
    var start = null;
    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      start = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y };
      dragged = false;
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!start) return;
      var dx = event.clientX - start.x, dy = event.clientY - start.y;
      if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!dragged) canvas.setPointerCapture(event.pointerId);
      dragged = true;
      canvas.classList.add("is-panning");
      var rect = el.getBoundingClientRect();
      var scale = Math.max(view.w / rect.width, view.h / rect.height);
      view.x = start.vx - dx * scale;
      view.y = start.vy - dy * scale;
      apply();
    });
    function end() {
      start = null;
      canvas.classList.remove("is-panning");
      // The click that ends a drag comes right after pointerup: forget the drag after it.
      window.setTimeout(function () { dragged = false; }, 0);
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("keydown", function (event) {
      var step = view.w / 10;
      if (event.key === "+" || event.key === "=") zoomBy(1 / 1.25);
      else if (event.key === "-") zoomBy(1.25);
      else if (event.key === "0") fit();
      else if (event.key === "ArrowLeft") { view.x -= step; apply(); }
      else if (event.key === "ArrowRight") { view.x += step; apply(); }
      else if (event.key === "ArrowUp") { view.y -= step; apply(); }
      else if (event.key === "ArrowDown") { view.y += step; apply(); }
      else return;
      event.preventDefault();
    });
  }

  // --- The node of the editor's cursor ----------------------------------------------------
  function markCurrent() {
    var ed = editor();
    if (!ed || !ed.getPosition()) return;
    var line = ed.getPosition().lineNumber;
    var meta = nodesMeta(), best = null;
    Object.keys(meta).forEach(function (id) {
      var m = meta[id];
      if (m[0] && m[0] <= line && line <= m[1] &&
          (best === null || m[1] - m[0] < meta[best][1] - meta[best][0])) best = id;
    });
    host.querySelectorAll(".is-current").forEach(function (el) { el.classList.remove("is-current"); });
    if (best === null) return;
    var group = document.getElementById("wfn_" + best);
    if (group) group.classList.add("is-current");
    var row = host.querySelector('.insight-seq-row[data-node="' + best + '"]');
    if (row) row.classList.add("is-current");
  }

  // --- Follow the editor: redraw after typing stops, while the tab is visible ----------------
  var pending = null;
  function watchEditor() {
    var ed = editor();
    if (!ed) { window.setTimeout(watchEditor, 200); return; }
    ed.onDidChangeModelContent(function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        if (!panel.hidden && window.htmx) window.htmx.trigger(host, "insight-refresh");
      }, REFRESH_MS);
    });
    ed.onDidChangeCursorPosition(function () { if (!panel.hidden) markCurrent(); });
  }
  watchEditor();
})();
