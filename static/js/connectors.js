// Integrations → Connectors: the slug made from the name, the options of the chosen auth
// methods, the action form's parameter rows (cloned from a <template> the server rendered),
// and large pasted OpenAPI documents sent as a file. No framework; htmx does the rest.
(function () {
  "use strict";

  function slugify(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  }

  // --- Slug: follows the name until the person types one.
  document.addEventListener("input", function (event) {
    var field = event.target;
    var form = field.closest && field.closest("#connector-form, #import-form");
    if (!form) return;
    var slug = form.querySelector("input[name=slug]");
    if (!slug || slug.disabled) return;
    if (field.name === "slug") {
      slug.setAttribute("data-manual", slug.value ? "1" : "");
    } else if (field.name === "name" && slug.getAttribute("data-manual") !== "1") {
      slug.value = slugify(field.value);
    }
  });

  // --- Auth methods: show the options of the checked ones.
  function showAuthOptions(form) {
    var checked = Array.prototype.map.call(
      form.querySelectorAll("input[name=auth_types]:checked"), function (box) { return box.value; });
    form.querySelectorAll("[data-auth-options]").forEach(function (fieldset) {
      fieldset.hidden = checked.indexOf(fieldset.getAttribute("data-auth-options")) === -1;
    });
    var select = form.querySelector("select[name=default_auth]");
    if (select) {
      Array.prototype.forEach.call(select.options, function (option) {
        option.disabled = checked.indexOf(option.value) === -1;
      });
      if (select.selectedOptions[0] && select.selectedOptions[0].disabled && checked.length) {
        select.value = checked[0];
      }
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "auth_types") showAuthOptions(event.target.form);
  });

  // --- A connector's page: filter its actions as you type.
  document.addEventListener("input", function (event) {
    var filter = event.target;
    if (!filter.hasAttribute || !filter.hasAttribute("data-filter-actions")) return;
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    document.querySelectorAll("[data-testid=action][data-search]").forEach(function (action) {
      var text = action.getAttribute("data-search");
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      action.hidden = !match;
      if (match) shown += 1;
    });
    var none = document.querySelector("[data-testid=no-action-match]");
    if (none) none.hidden = shown > 0;
  });

  // --- Parameter rows.
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-param]");
    if (add) {
      var template = document.getElementById("param-row-template");
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML;
      var row = holder.firstElementChild;
      document.getElementById("param-rows").appendChild(row);
      row.querySelector("input").focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove && remove.closest("#param-rows")) remove.closest("[data-row]").remove();
  });

  // --- Import: the console takes at most FASTN_MAX_BODY_BYTES of form fields, but a file of
  // up to 5 MiB; a long pasted document travels as a file.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "import-form") return;
    var text = form.querySelector("textarea[name=text]");
    var file = form.querySelector("input[type=file][name=document]");
    var limit = parseInt(form.getAttribute("data-paste-limit"), 10);
    if (!text || !file || !window.DataTransfer || file.files.length) return;
    var blob = new Blob([text.value], { type: "text/plain" });
    if (blob.size <= limit) return;
    var transfer = new DataTransfer();
    transfer.items.add(new File([blob], "pasted-openapi.txt", { type: "text/plain" }));
    file.files = transfer.files;
    text.value = "";
  });

  function init() {
    var form = document.getElementById("connector-form");
    if (form) showAuthOptions(form);
    var slug = document.querySelector("#connector-form input[name=slug], #import-form input[name=slug]");
    if (slug && slug.value) slug.setAttribute("data-manual", "1");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
