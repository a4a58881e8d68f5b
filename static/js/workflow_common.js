// Shared by the Workflows table and the editor: dialogs, JSON inputs that refuse to run with
// invalid JSON, htmx swapping of validation answers (400/409), toasts from HX-Trigger.
(function () {
  "use strict";

  var WF = (window.FastnWorkflows = window.FastnWorkflows || {});

  // --- Dialogs: [data-open-dialog="id"] opens, [data-close-dialog] closes the closest one.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && !dialog.open) dialog.showModal();
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
  });
  // A click on the backdrop (the dialog element itself, outside its box) closes it.
  document.addEventListener("click", function (event) {
    if (event.target.tagName === "DIALOG" && event.target.open) {
      var rect = event.target.getBoundingClientRect();
      var inside = event.clientX >= rect.left && event.clientX <= rect.right &&
        event.clientY >= rect.top && event.clientY <= rect.bottom;
      if (!inside) event.target.close();
    }
  });

  // --- JSON inputs: validated as you type and before any request that carries them.
  WF.jsonProblem = function (text) {
    if (!text.trim()) return null;
    try {
      JSON.parse(text);
      return null;
    } catch (err) {
      return "Invalid JSON: " + err.message;
    }
  };

  WF.checkJsonInput = function (textarea) {
    var problem = WF.jsonProblem(textarea.value);
    var label = textarea.labels && textarea.labels[0] ? textarea.labels[0].textContent.trim() : "Input";
    var box = textarea.parentElement.querySelector("[data-json-error]");
    if (box) {
      box.textContent = problem ? label.replace(/\s*\(JSON\)$/, "") + " — " + problem : "";
      box.hidden = !problem;
    }
    textarea.classList.toggle("is-invalid", !!problem);
    textarea.setAttribute("aria-invalid", problem ? "true" : "false");
    return !problem;
  };

  var timers = new WeakMap();
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (!el.matches || !el.matches("[data-json-input]")) return;
    clearTimeout(timers.get(el));
    timers.set(el, setTimeout(function () { WF.checkJsonInput(el); }, 250));
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.querySelectorAll) return;
    var inputs = elt.querySelectorAll("[data-json-input]");
    var ok = true;
    inputs.forEach(function (input) { ok = WF.checkJsonInput(input) && ok; });
    if (!ok) {
      event.preventDefault();
      var first = elt.querySelector("[data-json-input].is-invalid");
      if (first) first.focus();
    }
  });

  // --- Validation answers carry the form with its errors: swap them like successes.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 400 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 403 || status >= 500) {
      event.detail.shouldSwap = false;
      WF.toast("error", status === 403 ? "Your role does not allow this." : "Something went wrong on the server. Try again.");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    WF.toast("error", "The server could not be reached. Check your connection and try again.");
  });

  // --- Toasts: HX-Trigger {"toast": {"level": "success"|"error"|"info", "message": "…"}}.
  WF.toast = function (level, message) {
    var box = document.getElementById("wf-toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "wf-toasts";
      box.className = "wf-toasts";
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    var toast = document.createElement("div");
    toast.className = "wf-toast wf-toast-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    box.appendChild(toast);
    setTimeout(function () { toast.classList.add("wf-toast-out"); }, level === "error" ? 6000 : 3000);
    setTimeout(function () { toast.remove(); }, level === "error" ? 6400 : 3400);
  };
  document.addEventListener("toast", function (event) {
    WF.toast(event.detail.level, event.detail.message);
  });
})();
