// Small progressive enhancements shared by every page. No framework: htmx does the rest.
(function () {
  "use strict";

  // Forms carrying data-confirm ask before submitting (delete, revoke, remove).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Fields carrying data-autosubmit submit their form when changed (no inline handlers: the
  // Content-Security-Policy allows no inline script).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) field.form.requestSubmit();
  });

  // Copy buttons: data-copy="#selector-of-input".
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Narrow windows: the sidebar slides in.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-nav]");
    if (toggle) {
      var open = document.body.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    } else if (document.body.classList.contains("nav-open") && !event.target.closest(".sidebar")) {
      document.body.classList.remove("nav-open");
    }
  });

  // Close open menus when clicking elsewhere or pressing Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (d) { if (d !== except) d.removeAttribute("open"); });
  }
  document.addEventListener("click", function (event) { closeMenus(event.target.closest("details.menu")); });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") closeMenus(null); });
})();
