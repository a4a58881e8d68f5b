// The trigger pages: copy buttons that carry their text, the routes' dynamic rows (add and
// remove routes, header rows and filter rows, cloned from <template>s the server rendered),
// and the schedule presets' panels. No framework; htmx does the server round trips.
(function () {
  "use strict";

  // --- Copy: data-copy-text="what to copy" (the URL, the cURL command).
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-text]");
    if (!button) return;
    var label = button.textContent;
    copyText(button.getAttribute("data-copy-text")).then(function () {
      button.textContent = "Copied";
      button.setAttribute("data-copied", "true");
      setTimeout(function () { button.textContent = label; }, 1500);
    });
    var menu = button.closest("details.menu");
    if (menu) menu.removeAttribute("open");
  });

  // --- Routes and rows.
  var counter = 0;

  function fromTemplate(id, key) {
    var template = document.getElementById(id);
    if (!template) return null;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.split("__key__").join(key);
    var node = holder.firstElementChild;
    if (window.htmx) window.htmx.process(node);
    return node;
  }

  document.addEventListener("click", function (event) {
    var addRoute = event.target.closest("[data-add-route]");
    if (addRoute) {
      counter += 1;
      var route = fromTemplate("route-template", "n" + Date.now().toString(36) + counter);
      document.getElementById("routes").appendChild(route);
      var first = route.querySelector("select, input:not([type=hidden])");
      if (first) first.focus();
      return;
    }
    var removeRoute = event.target.closest("[data-remove-route]");
    if (removeRoute) {
      removeRoute.closest("[data-route]").remove();
      return;
    }
    var addRow = event.target.closest("[data-add-row]");
    if (addRow) {
      var kind = addRow.getAttribute("data-add-row");
      var owner = addRow.closest("[data-route]");
      var row = fromTemplate(kind + "-row-template", owner.getAttribute("data-key"));
      owner.querySelector('[data-rows="' + kind + '"]').appendChild(row);
      row.querySelector("input").focus();
      return;
    }
    var removeRow = event.target.closest("[data-remove-row]");
    if (removeRow) removeRow.closest("[data-row]").remove();
  });

  // --- Schedule presets: show the fields of the chosen one.
  function showPreset(form) {
    var checked = form.querySelector("input[name=preset]:checked");
    var preset = checked ? checked.value : "interval";
    form.querySelectorAll("[data-preset-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-preset-panel").split(" ").indexOf(preset) === -1;
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "preset") showPreset(event.target.form);
  });

  function init() {
    // A page that shows a new signing secret answered a POST: give it the trigger's own
    // address, so that reloading shows the page again without re-posting (and without the
    // secret, which is never shown twice).
    var reveal = document.querySelector("[data-replace-url]");
    if (reveal) history.replaceState(null, "", reveal.getAttribute("data-replace-url"));
    var form = document.getElementById("trigger-form");
    if (form && form.querySelector("input[name=preset]")) showPreset(form);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
