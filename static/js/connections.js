// Connection forms: show the credential fields of the chosen auth method only, and name the
// submit button after what it does (OAuth 2.0 with the authorization code goes to the
// provider: "Connect"). Without this script every panel shows and the server still uses only
// the chosen method's fields.
(function () {
  "use strict";

  function update(form) {
    var checked = form.querySelector("input[name=auth_method]:checked") ||
      form.querySelector("input[name=auth_method][type=hidden]");
    var method = checked ? checked.value : "";
    form.querySelectorAll("[data-auth-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-auth-panel").split(" ").indexOf(method) === -1;
    });
    var grant = form.querySelector("input[name=grant_type]:checked");
    var redirects = method === "OAUTH_2" && (!grant || grant.value === "authorization_code");
    var button = form.querySelector("[data-submit-label]");
    if (button) {
      if (!button.hasAttribute("data-label")) button.setAttribute("data-label", button.textContent);
      button.textContent = redirects ? "Connect" : button.getAttribute("data-label");
    }
  }

  document.querySelectorAll("form.connect-form").forEach(function (form) {
    update(form);
    form.addEventListener("change", function () { update(form); });
  });
})();
