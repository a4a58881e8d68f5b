// The execution detail page. Its poll swaps the steps' timeline when a step changes: a step
// the reader expanded stays expanded (each <details> of the timeline has a stable id).
(function () {
  "use strict";

  var open = new Set();

  // `toggle` does not bubble: listen in the capture phase.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.id || !details.closest || !details.closest("#exec-timeline")) return;
    if (details.open) open.add(details.id); else open.delete(details.id);
  }, true);

  function reopen() {
    open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details && !details.open) details.open = true;
    });
  }
  document.addEventListener("htmx:afterSettle", reopen);
  document.addEventListener("htmx:oobAfterSwap", reopen);
})();
