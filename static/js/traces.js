// Activity → Traces: a row's link loads the call's detail into the drawer (htmx) and opens it;
// its close button, Escape and a click beside it close it. Without JavaScript the link opens
// the detail as a page.
(function () {
  "use strict";

  function drawer() { return document.getElementById("trace-drawer"); }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-trace-open]");
    if (opener) {
      var d = drawer();
      document.getElementById("trace-drawer-body").innerHTML = '<p class="muted">Loading…</p>';
      if (d && !d.open) d.showModal();
      return;
    }
    if (event.target.closest("[data-close-drawer]")) {
      var open = drawer();
      if (open && open.open) open.close();
      return;
    }
    // A click on the backdrop (the dialog itself, outside its box) closes it.
    var d2 = drawer();
    if (d2 && event.target === d2 && d2.open) {
      var rect = d2.getBoundingClientRect();
      var inside = event.clientX >= rect.left && event.clientX <= rect.right &&
        event.clientY >= rect.top && event.clientY <= rect.bottom;
      if (!inside) d2.close();
    }
  });

  // The custom range's dates show only when "Custom range" is chosen.
  document.addEventListener("change", function (event) {
    if (event.target.name !== "range" || !event.target.form) return;
    var custom = event.target.form.querySelector("[data-custom-range]");
    if (custom) custom.hidden = event.target.value !== "custom";
  });
})();
