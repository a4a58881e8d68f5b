// The editor's Test Cases tab and the publish gate (apps/testcases).
// - Requests of elements marked [data-tc-code] carry the editor's code (what "Run" runs and
//   where the form finds the calls to mock).
// - "Add a mock" / "Add an assertion" clone a row template; the mode and expectation radios
//   show the fields that apply.
// - Publish: before the version is created, the approved test cases run on the editor's code;
//   if any fails, a dialog lists the failures and asks before publishing.
(function () {
  "use strict";

  function editorCode() {
    return window.wfEditor && window.wfEditor.getValue ? window.wfEditor.getValue() : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest || !elt.closest("[data-tc-code]")) return;
    var code = editorCode();
    if (code !== null) event.detail.parameters.code = code;
  });

  function syncForm(root) {
    var form = (root || document).querySelector(".tc-form");
    if (!form) return;
    var mode = form.querySelector("[name=mode]:checked");
    var mocks = form.querySelector(".tc-mocks-edit");
    if (mocks) mocks.hidden = !mode || mode.value !== "mock";
    var kind = form.querySelector("[name=expect_kind]:checked");
    var assertions = kind && kind.value === "assertions";
    form.querySelector("[name=expected_output]").hidden = assertions;
    form.querySelector(".tc-assert-rows").hidden = !assertions;
  }

  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest(".tc-form")) syncForm();
  });
  document.addEventListener("htmx:afterSwap", function () { syncForm(); });

  document.addEventListener("click", function (event) {
    var add = event.target.closest && event.target.closest("[data-tc-add]");
    if (!add) return;
    var template = document.getElementById(
      add.getAttribute("data-tc-add") === "mock" ? "tc-mock-template" : "tc-assert-template");
    var row = template.content.firstElementChild.cloneNode(true);
    add.parentNode.insertBefore(row, add);
    var first = row.querySelector("input");
    if (first) first.focus();
  });

  // Opened from "Save as test case": show the tab with the new case.
  function openCasesTab() {
    if (window.location.hash !== "#cases") return;
    var tab = document.getElementById("tab-cases");
    if (tab) tab.click();
  }
  // After htmx has processed the page (its own DOMContentLoaded handler was registered
  // first), so that the tab's panel hears the tab being shown.
  if (document.readyState === "complete") openCasesTab();
  else document.addEventListener("DOMContentLoaded", function () { setTimeout(openCasesTab, 0); });

  // --- The publish gate ---------------------------------------------------------------------

  var passing = false;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function gateDialog() {
    var dialog = document.getElementById("tc-gate-dialog");
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "tc-gate-dialog";
    dialog.className = "wf-dialog";
    dialog.setAttribute("data-testid", "gate-dialog");
    dialog.setAttribute("aria-labelledby", "tc-gate-title");
    dialog.innerHTML =
      '<div class="tc-gate-body" data-testid="gate-body"></div>' +
      '<div class="stack-h wf-dialog-actions">' +
      '<button type="button" class="btn btn-ghost" data-tc-gate="cancel" data-testid="gate-cancel">Cancel</button>' +
      '<button type="button" class="btn btn-danger" data-tc-gate="publish" data-testid="gate-publish">Publish anyway</button>' +
      "</div>";
    document.body.appendChild(dialog);
    return dialog;
  }

  function showProblem(target, reason) {
    target.innerHTML = '<h2 id="tc-gate-title">The approved test cases could not be run</h2><p></p>';
    target.querySelector("p").textContent = "(" + reason + ") Publish anyway?";
  }

  function publishNow(button) {
    passing = true;
    try { button.click(); } finally { passing = false; }
  }

  function runGate(button) {
    var config = document.getElementById("tc-config");
    if (!config) { publishNow(button); return; }
    var label = button.textContent;
    button.disabled = true;
    button.textContent = "Running the approved test cases…";
    var body = new FormData();
    var code = editorCode();
    if (code !== null) body.append("code", code);
    function done() { button.disabled = false; button.textContent = label; }
    fetch(config.getAttribute("data-gate-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
    }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, status: response.status, html: html }; });
    }).then(function (answer) {
      done();
      var holder = document.createElement("div");
      holder.innerHTML = answer.html;
      var gate = holder.querySelector("[data-testid=gate]");
      if (answer.ok && gate && gate.getAttribute("data-failures") === "0") { publishNow(button); return; }
      var dialog = gateDialog();
      var target = dialog.querySelector(".tc-gate-body");
      if (answer.ok && gate) { target.innerHTML = ""; target.appendChild(gate); }
      else showProblem(target, "HTTP " + answer.status);
      dialog.pendingButton = button;
      dialog.showModal();
    }).catch(function (err) {
      done();
      var dialog = gateDialog();
      showProblem(dialog.querySelector(".tc-gate-body"), err.message);
      dialog.pendingButton = button;
      dialog.showModal();
    });
  }

  document.addEventListener("click", function (event) {
    var choice = event.target.closest && event.target.closest("[data-tc-gate]");
    if (!choice) return;
    var dialog = choice.closest("dialog");
    dialog.close();
    if (choice.getAttribute("data-tc-gate") === "publish" && dialog.pendingButton) {
      publishNow(dialog.pendingButton);
    } else {
      var publish = document.getElementById("wf-publish-dialog");
      if (publish && publish.open) publish.close();
      if (window.FastnWorkflows && window.FastnWorkflows.toast) {
        window.FastnWorkflows.toast("info", "Not published: the draft is unchanged.");
      }
    }
    dialog.pendingButton = null;
  });

  // Capture phase on window: ahead of the editor's own handlers (static/js/editor.js).
  window.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-action=confirm-publish]");
    if (!button || passing) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    if (!button.disabled) runGate(button);
  }, true);
  window.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var dialog = event.target.closest && event.target.closest("#wf-publish-dialog");
    if (!dialog) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    var button = dialog.querySelector("[data-action=confirm-publish]");
    if (button && !button.disabled) runGate(button);
  }, true);
})();
