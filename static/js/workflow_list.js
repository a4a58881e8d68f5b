// The Workflows table: the Run dialog loads its form, focuses the input, shows the result.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-open-dialog='run-dialog']");
    if (!button) return;
    var body = document.getElementById("run-dialog-body");
    if (body) body.innerHTML = '<p class="muted">Loading…</p>';
  }, true);

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "run-dialog-body") return;
    var result = event.detail.target.querySelector("[data-testid=run-result]");
    if (result) {
      result.scrollIntoView({ block: "nearest" });
    } else {
      var input = event.detail.target.querySelector("textarea");
      if (input) input.focus();
    }
  });

  // Ctrl/Cmd+Enter in the dialog's input runs.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var form = event.target.closest && event.target.closest("#run-dialog form");
    if (form) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
})();
