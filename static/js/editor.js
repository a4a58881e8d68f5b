// The workflow editor: Monaco in the centre (kept out of htmx swaps), the Configuration form on
// the left (saved through htmx with Monaco's content as a file part), the Test tab on the right.
(function () {
  "use strict";

  var WF = window.FastnWorkflows;
  var cfg = JSON.parse(document.getElementById("wf-editor-config").textContent);
  var initialCode = JSON.parse(document.getElementById("wf-initial-code").textContent);
  // "Open in editor" loads an execution's code; the saved draft is what Discard goes back to.
  var savedCodeScript = document.getElementById("wf-saved-code");

  var editor = null;
  var model = null;
  var leaving = false;
  // The saved state: the form's fields and Monaco's version id at the last save or load.
  var savedForm = null;
  var savedVersionId = null;
  // What Discard restores: the code and the Configuration form (as the server rendered it) at
  // the last save or load.
  var savedCode = savedCodeScript ? JSON.parse(savedCodeScript.textContent) : initialCode;
  var savedFormHTML = null;
  // The state a save in flight will make the saved one.
  var pendingForm = null;
  var pendingVersionId = null;
  var pendingCode = null;
  var saving = false;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function form() { return document.getElementById("wf-form"); }
  function code() { return model ? model.getValue() : initialCode; }

  function utf8Length(text) {
    var bytes = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { bytes += 4; i++; }
      else bytes += 3;
    }
    return bytes;
  }

  // --- Unsaved changes -----------------------------------------------------------------------

  function formState() {
    var f = form();
    if (!f) return "";
    var parts = [];
    Array.prototype.forEach.call(f.elements, function (el) {
      if (!el.name || ["csrfmiddlewaretoken", "intent", "draft_revision", "release_note"].indexOf(el.name) >= 0) return;
      parts.push(el.name + "=" + (el.type === "checkbox" ? el.checked : el.value));
    });
    return parts.join("&");
  }

  function codeDirty() {
    return model !== null && savedVersionId !== null && model.getAlternativeVersionId() !== savedVersionId;
  }

  function isDirty() {
    if (cfg.readOnly) return false;
    return codeDirty() || (savedForm !== null && formState() !== savedForm);
  }

  function refreshDirty() {
    var flag = $("#wf-dirty");
    if (flag) flag.hidden = !isDirty();
  }

  function markSaved() {
    savedForm = formState();
    savedFormHTML = form() ? form().innerHTML : null;
    if (pendingVersionId !== null) savedVersionId = pendingVersionId;
    else if (model) savedVersionId = model.getAlternativeVersionId();
    if (pendingCode !== null) savedCode = pendingCode;
    pendingForm = pendingVersionId = pendingCode = null;
    refreshDirty();
  }

  window.addEventListener("beforeunload", function (event) {
    if (!leaving && isDirty()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // --- Configuration panel ------------------------------------------------------------------

  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80).replace(/-+$/, "");
  }

  function seconds(s) {
    s = Math.round(s);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h + " h" + (m ? " " + m + " min" : "");
  }

  function millis(ms) {
    if (ms < 1000) return Math.round(ms) + "ms";
    var s = ms / 1000;
    if (s < 60) return (Math.round(s * 10) / 10) + "s";
    var m = Math.floor(s / 60), rest = Math.round(s % 60);
    if (m < 60) return m + "m" + (rest ? " " + rest + "s" : "");
    return Math.floor(m / 60) + "h" + (m % 60 ? " " + (m % 60) + "m" : "");
  }

  function tierLimits() {
    var tier = $("#wf-tier");
    return cfg.tiers[tier ? tier.value : "instant"] || cfg.tiers.instant;
  }

  function syncTimeout(source) {
    var range = $("#wf-timeout-range"), number = $("#wf-timeout"), label = $("#wf-timeout-label");
    if (!range || !number) return;
    if (source === "range") number.value = range.value;
    else if (source === "number" && number.value !== "") range.value = number.value;
    var value = parseInt(number.value, 10);
    if (label) label.textContent = isNaN(value) ? "" : seconds(value);
  }

  // The tier the timeout was last set for: a change of tier compares with its default.
  var lastTier = null;

  // With `changed`, the tier was just changed: a timeout outside the new tier's range, or
  // still at the old tier's default (never chosen), becomes the new tier's default; one
  // chosen by hand that fits stays.
  function applyTier(changed) {
    var limits = tierLimits(), range = $("#wf-timeout-range"), number = $("#wf-timeout");
    if (!range || !number) return;
    [range, number].forEach(function (el) { el.min = limits.min; el.max = limits.max; });
    if (changed) {
      var value = parseInt(number.value, 10);
      var old = cfg.tiers[lastTier];
      if (isNaN(value) || value < limits.min || value > limits.max || (old && value === old.default)) {
        number.value = limits.default;
      }
    }
    lastTier = $("#wf-tier") ? $("#wf-tier").value : null;
    range.value = number.value;
    var text = $("#wf-timeout-limits [data-limits]");
    if (text) text.textContent = seconds(limits.min) + " – " + seconds(limits.max) + " (default " + seconds(limits.default) + ")";
    var tier = $("#wf-tier"), help = $("#wf-tier-help");
    if (tier && help) help.textContent = tier.options[tier.selectedIndex].title;
    syncTimeout();
  }

  function retryPreview() {
    var out = $("#wf-retry-preview");
    if (!out) return;
    var attempts = parseInt($("#wf-retry-attempts").value, 10);
    var initial = parseFloat($("#wf-retry-initial").value);
    var coefficient = parseFloat($("#wf-retry-coefficient").value);
    var max = parseFloat($("#wf-retry-max").value);
    if ([attempts, initial, coefficient, max].some(isNaN) || attempts < 1 || initial <= 0 || coefficient < 1) {
      out.textContent = "—";
      return;
    }
    if (attempts === 1) {
      out.textContent = "no retries (1 attempt)";
      return;
    }
    var delays = [];
    for (var n = 1; n < Math.min(attempts, 11); n++) {
      delays.push(millis(Math.min(initial * Math.pow(coefficient, n - 1), max)));
    }
    out.textContent = delays.join(" → ") + "  ·  " + attempts + " attempts in total";
  }

  function syncSwitches() {
    document.querySelectorAll(".wf-switch input").forEach(function (box) {
      var text = box.parentElement.querySelector(".wf-switch-text");
      if (text) text.textContent = box.checked ? text.getAttribute("data-on") : text.getAttribute("data-off");
    });
    var retry = $("#wf-retry"), fields = $("#wf-retry-fields");
    if (retry && fields && retry.checked) fields.hidden = false;
    if (retry && fields && !retry.checked && !fields.querySelector(".field-error")) fields.hidden = true;
  }

  function syncNames() {
    var name = $("#wf-name"), slug = $("#wf-slug");
    var title = $("#wf-title");
    if (title && name) title.textContent = name.value.trim() || (cfg.isNew ? "New workflow" : "Untitled");
    var file = slug && slug.value ? slug.value : "workflow";
    var fileName = $("#wf-file-name");
    if (fileName) fileName.textContent = file + ".js";
    document.querySelectorAll(".wf-slug-live").forEach(function (el) { el.textContent = file; });
  }

  function initConfig() {
    var name = $("#wf-name"), slug = $("#wf-slug");
    if (slug && name && !slug.readOnly && slug.value && slug.value !== slugify(name.value)) {
      slug.setAttribute("data-manual", "1");
    }
    applyTier(false);
    retryPreview();
    syncSwitches();
    syncNames();
  }

  document.addEventListener("input", function (event) {
    var el = event.target;
    if (!el.closest || !el.closest("#wf-form")) return;
    if (el.id === "wf-name") {
      var slug = $("#wf-slug");
      if (slug && !slug.readOnly && slug.getAttribute("data-manual") !== "1") slug.value = slugify(el.value);
    }
    if (el.id === "wf-slug") el.setAttribute("data-manual", el.value ? "1" : "");
    if (el.id === "wf-timeout-range") syncTimeout("range");
    if (el.id === "wf-timeout") syncTimeout("number");
    if (el.id && el.id.indexOf("wf-retry-") === 0) retryPreview();
    syncNames();
    refreshDirty();
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el.closest || !el.closest("#wf-form")) return;
    if (el.id === "wf-tier") applyTier(true);
    syncSwitches();
    refreshDirty();
  });

  // --- Save, publish, discard ---------------------------------------------------------------

  function showCodeError(message) {
    var footer = $("#wf-code-footer");
    var box = footer && footer.querySelector(".wf-code-error");
    if (!box && footer) {
      box = document.createElement("div");
      box.className = "field-error wf-code-error";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "code-error");
      footer.appendChild(box);
    }
    if (box) box.textContent = message;
  }

  function submit(intent) {
    var f = form();
    if (!f || cfg.readOnly) return;
    var size = utf8Length(code());
    if (size > cfg.maxCodeBytes) {
      var message = "The code is " + size.toLocaleString() + " bytes; the limit is " +
        cfg.maxCodeBytes.toLocaleString() + " bytes (1 MB). Nothing was saved.";
      showCodeError(message);
      WF.toast("error", message);
      return;
    }
    if (saving) return;  // one save at a time; the dirty flag shows what is still unsaved
    saving = true;
    f.querySelector("[name=intent]").value = intent;
    pendingForm = formState();
    pendingVersionId = model ? model.getAlternativeVersionId() : null;
    pendingCode = code();
    f.requestSubmit();
  }

  // Discard goes back to the last saved code and configuration in place (an undoable edit in
  // Monaco: Ctrl/Cmd+Z brings the discarded code back).
  function discard() {
    if (!isDirty()) {
      WF.toast("info", "No unsaved changes to discard.");
      return;
    }
    if (!window.confirm("Discard your unsaved changes? The editor goes back to the last saved draft.")) return;
    var f = form();
    if (f && savedFormHTML !== null) f.innerHTML = savedFormHTML;
    if (model) {
      editor.pushUndoStop();
      editor.executeEdits("discard", [{ range: model.getFullModelRange(), text: savedCode }]);
      editor.pushUndoStop();
      window.monaco.editor.setModelMarkers(model, "fastn-run", []);
      savedVersionId = model.getAlternativeVersionId();
    }
    initConfig();
    savedForm = formState();
    refreshDirty();
    updateBytes();
    WF.toast("info", "Unsaved changes discarded.");
  }

  // --- Publish with a release note; confirm deploys to protected environments -------------

  function openPublish() {
    var dialog = document.getElementById("wf-publish-dialog");
    if (!dialog || cfg.readOnly) return;
    var section = $("#wf-publish-section");
    var next = section ? section.getAttribute("data-next-version") : "";
    $("#wf-publish-title").textContent = next ? "Publish v" + next : "Publish";
    $("[data-action=confirm-publish]", dialog).textContent = next ? "Publish v" + next : "Publish";
    countNote();
    if (!dialog.open) dialog.showModal();
    $("#wf-release-note").focus();
  }

  function countNote() {
    var note = $("#wf-release-note"), out = $("#wf-note-count");
    if (note && out) out.textContent = note.value.length;
  }
  document.addEventListener("input", function (event) {
    if (event.target.id === "wf-release-note") countNote();
  });

  // After a publish: success closes the dialog and clears the note; a refused note keeps the
  // dialog open with its error; other refusals close it so the marked fields can be seen.
  document.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail.requestConfig, dialog = document.getElementById("wf-publish-dialog");
    if (!dialog || !dialog.open || !config || !config.elt || config.elt.id !== "wf-form") return;
    var noteError = $("#wf-note-error");
    // Validation answers (400) count as successful swaps (workflow_common.js): read the status.
    if (event.detail.xhr && event.detail.xhr.status === 200) {
      $("#wf-release-note").value = "";
      dialog.close();
    } else if (!noteError || noteError.hidden) {
      dialog.close();
    }
  });

  var pendingDeploy = null;
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!elt.matches || !elt.matches(".wf-deploy-form")) return;
    var env = elt.querySelector("[name=environment]");
    var option = env && env.options[env.selectedIndex];
    if (!option || option.getAttribute("data-protected") !== "true") return;
    event.preventDefault();
    var version = "v" + elt.querySelector("[name=version]").value, slug = option.textContent.trim();
    var current = $("[data-testid=env-version-" + slug + "]");
    var now = current && /^v\d+$/.test(current.textContent.trim()) ? current.textContent.trim() : null;
    $("#wf-deploy-title").textContent = "Deploy " + version + " to " + slug + "?";
    $("#wf-deploy-message").textContent = slug + " is protected: API calls with stage " + slug +
      (slug === "live" ? " (the default)" : "") + " run " + version + " as soon as you deploy" +
      (now ? ", instead of " + now + " now." : "; nothing serves it yet.");
    $("[data-action=confirm-deploy]").textContent = "Deploy " + version + " to " + slug;
    pendingDeploy = event.detail;
    document.getElementById("wf-deploy-dialog").showModal();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var action = button.getAttribute("data-action");
    if (action === "save") submit("save");
    else if (action === "publish") openPublish();
    else if (action === "confirm-publish") submit("publish");
    else if (action === "confirm-deploy") {
      document.getElementById("wf-deploy-dialog").close();
      if (pendingDeploy) pendingDeploy.issueRequest(true);
      pendingDeploy = null;
    }
    else if (action === "discard") discard();
    else if (action === "overwrite") {
      form().querySelector("[name=draft_revision]").value = button.getAttribute("data-revision");
      submit("save");
    } else if (action === "view-version") viewVersion(parseInt(button.getAttribute("data-number"), 10));
    else if (action === "diff-version") openDiff(parseInt(button.getAttribute("data-number"), 10));
    else if (action === "restore-version") restoreVersion(button);
  });

  // Monaco's content travels as a file part: byte-exact (no newline rewriting) and outside the
  // size limit of ordinary form fields.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || (elt.id !== "wf-form" && elt.id !== "wf-test-form")) return;
    if (elt.id === "wf-test-form" && cfg.readOnly) return;
    event.detail.parameters.delete("code");
    event.detail.parameters.append("code", new Blob([code()], { type: "text/javascript" }), "workflow.js");
  });

  // Saved (HX-Trigger-After-Swap): the new panel is in place, this state is the saved one.
  document.addEventListener("workflowSaved", function () {
    markSaved();
    initConfig();
  });
  // Created, restored: the page is about to be replaced by the server's answer.
  document.addEventListener("workflowLeaving", function () { leaving = true; });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "wf-config") {
      initConfig();
      refreshDirty();
      updateBytes();
    }
    if (event.detail.target.id === "wf-test-result") {
      var result = event.detail.target.firstElementChild;
      if (result && result.scrollIntoView) result.scrollIntoView({ block: "nearest" });
    }
  });
  document.addEventListener("htmx:oobAfterSwap", function () { updateBytes(); });
  document.addEventListener("htmx:responseError", function () { leaving = false; });
  document.addEventListener("htmx:afterRequest", function (event) {
    // The form itself may have been swapped out: look at the request's element.
    var config = event.detail.requestConfig;
    if (config && config.elt && config.elt.id === "wf-form") saving = false;
  });

  document.addEventListener("submit", function (event) {
    // Deleting the workflow leaves the page on purpose (console.js asked for confirmation).
    if (event.target.matches("[data-leaves]")) leaving = true;
  });

  // --- Keyboard -----------------------------------------------------------------------------

  function run() {
    var f = $("#wf-test-form");
    if (!f || !f.querySelector("[type=submit]")) return;
    showTab("tab-test");
    f.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    // Inside Monaco its own commands (below) already handled the key.
    if (event.defaultPrevented || !(event.ctrlKey || event.metaKey)) return;
    if (event.key === "s" || event.key === "S") {
      event.preventDefault();
      if (!cfg.readOnly) submit("save");
    } else if (event.key === "Enter") {
      event.preventDefault();
      // In the Publish dialog the shortcut publishes; elsewhere it runs the Test tab.
      if (event.target.closest && event.target.closest("#wf-publish-dialog")) submit("publish");
      else run();
    }
  });

  // --- Test tab -----------------------------------------------------------------------------

  document.addEventListener("workflowRunError", function (event) {
    var line = event.detail.line, column = event.detail.column || 1;
    if (!editor || !line) return;
    var monaco = window.monaco;
    editor.setPosition({ lineNumber: line, column: column });
    editor.revealLineInCenter(line);
    editor.focus();
    monaco.editor.setModelMarkers(model, "fastn-run", [{
      startLineNumber: line, startColumn: column, endLineNumber: line,
      endColumn: model.getLineMaxColumn(Math.min(line, model.getLineCount())),
      message: event.detail.message || "The run failed here.",
      severity: monaco.MarkerSeverity.Error
    }]);
  });

  // --- Right-hand tabs ----------------------------------------------------------------------

  function showTab(id) {
    document.querySelectorAll(".wf-tab").forEach(function (tab) {
      var selected = tab.id === id;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      var panel = document.getElementById(tab.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    });
    var shown = document.getElementById(id);
    if (shown && window.htmx) window.htmx.trigger(shown, "wf-tab-shown");
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest(".wf-tab");
    if (tab) showTab(tab.id);
  });
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest(".wf-tab");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(document.querySelectorAll(".wf-tab"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    showTab(next.id);
    next.focus();
  });

  // The API tab's Copy: the sample's text as shown (console.js copies inputs only).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-text]");
    var source = button && document.querySelector(button.getAttribute("data-copy-text"));
    if (!source) return;
    var failed = function () { WF.toast("error", "Could not copy: select the text and copy it by hand."); };
    if (!navigator.clipboard) return failed();  // plain http on another host is no secure context
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }, failed);
  });

  // --- Versions: view, diff, restore --------------------------------------------------------

  var versionCache = {};
  function fetchVersion(number) {
    if (versionCache[number]) return Promise.resolve(versionCache[number]);
    var url = cfg.versionUrl.replace(/\/0\/$/, "/" + number + "/");
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { versionCache[number] = data; return data; });
  }

  var viewer = null;
  function viewVersion(number) {
    fetchVersion(number).then(function (data) {
      var dialog = document.getElementById("wf-version-dialog");
      $("#wf-version-title").textContent = data.label + " · read-only";
      $("#wf-version-meta").textContent = (data.created_by || "system") + " · " + new Date(data.created_at).toLocaleString() +
        (data.release_note ? " · " + data.release_note : "");
      $("#wf-version-config").textContent = JSON.stringify(data.config, null, 2);
      dialog.showModal();
      var monaco = window.monaco;
      if (!monaco) return;
      if (viewer) viewer.dispose();
      var host = $("#wf-version-code");
      host.innerHTML = "";
      viewer = monaco.editor.create(host, {
        value: data.code, language: "javascript", readOnly: true, automaticLayout: true,
        minimap: { enabled: false }, scrollBeyondLastLine: false, fontSize: 13
      });
    }).catch(function (err) { WF.toast("error", "Could not load the version: " + err.message); });
  }

  var diffEditor = null;
  function renderDiff() {
    var left = parseInt($("#wf-diff-left").value, 10);
    var rightValue = $("#wf-diff-right").value;
    var right = rightValue === "draft" ? null : parseInt(rightValue, 10);
    Promise.all([fetchVersion(left), right === null ? Promise.resolve(null) : fetchVersion(right)])
      .then(function (versions) {
        var monaco = window.monaco;
        var original = monaco.editor.createModel(versions[0].code, "javascript");
        var modified = monaco.editor.createModel(versions[1] ? versions[1].code : code(), "javascript");
        if (!diffEditor) {
          diffEditor = monaco.editor.createDiffEditor($("#wf-diff-host"), {
            readOnly: true, automaticLayout: true, renderSideBySide: true, minimap: { enabled: false },
            originalEditable: false, fontSize: 13
          });
        }
        var old = diffEditor.getModel();
        diffEditor.setModel({ original: original, modified: modified });
        if (old) { old.original.dispose(); old.modified.dispose(); }
        $("#wf-diff-title").textContent = "Compare v" + left + " with " + (right === null ? "the draft" : "v" + right);
        var notes = versions.filter(function (v) { return v && v.release_note; })
          .map(function (v) { return "v" + v.number + ": " + v.release_note; });
        $("#wf-diff-notes").textContent = notes.join("\n");
        $("#wf-diff-notes").hidden = !notes.length;
      })
      .catch(function (err) { WF.toast("error", "Could not load the version: " + err.message); });
    renderConfigDiff(left, right);
  }

  // The configuration beside the code: rendered by the server, from the panel's unsaved
  // values when the right-hand side is the draft (as the code side uses the editor's code).
  var CONFIG_FIELDS = ["name", "description", "tier", "timeout_seconds", "enabled", "retry_enabled",
    "retry_max_attempts", "retry_initial_interval_ms", "retry_backoff_coefficient", "retry_max_interval_ms"];
  var configDiffSeq = 0;
  function renderConfigDiff(left, right) {
    var params = new URLSearchParams({ to: right === null ? "draft" : String(right) });
    var f = form();
    if (right === null && f) {
      Array.prototype.forEach.call(f.elements, function (el) {
        if (CONFIG_FIELDS.indexOf(el.name) < 0) return;
        if (el.type !== "checkbox") params.set(el.name, el.value);
        else if (el.checked) params.set(el.name, "on");
      });
    }
    var url = cfg.compareUrl.replace(/\/0\/compare\/$/, "/" + left + "/compare/") + "?" + params.toString();
    var seq = ++configDiffSeq;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) { if (seq === configDiffSeq) $("#wf-diff-config").innerHTML = html; })
      .catch(function (err) { WF.toast("error", "Could not compare the configuration: " + err.message); });
  }

  // The version list changes with every publish (the panel is swapped); the selects follow it.
  function fillDiffSelects() {
    var numbers = Array.prototype.map.call(
      document.querySelectorAll("[data-testid=versions] li[data-version]"),
      function (li) { return li.getAttribute("data-version"); }
    );
    var options = numbers.map(function (n) { return '<option value="' + n + '">v' + n + "</option>"; }).join("");
    $("#wf-diff-left").innerHTML = options;
    $("#wf-diff-right").innerHTML = '<option value="draft">Draft (editor)</option>' + options;
  }

  function openDiff(number) {
    fillDiffSelects();
    $("#wf-diff-left").value = String(number);
    $("#wf-diff-right").value = "draft";
    document.getElementById("wf-diff-dialog").showModal();
    renderDiff();
  }
  document.addEventListener("change", function (event) {
    if (event.target.id === "wf-diff-left" || event.target.id === "wf-diff-right") renderDiff();
  });

  function restoreVersion(button) {
    var number = button.getAttribute("data-number");
    var message = "Restore v" + number + " into the draft? The draft's code and configuration are replaced" +
      (isDirty() ? ", and your unsaved changes are lost" : "") +
      ". Publish afterwards to make it the next version.";
    if (!window.confirm(message)) return;
    leaving = true;
    window.htmx.trigger(button, "wf-confirmed");
  }

  // --- Monaco -------------------------------------------------------------------------------

  function updateBytes() {
    var out = document.getElementById("wf-bytes");
    if (out) out.textContent = utf8Length(code()).toLocaleString("en-US");
  }

  function typescriptDefaults(monaco) {
    // Monaco ≥ 0.55 moved the TypeScript service to `monaco.typescript`.
    if (monaco.typescript && monaco.typescript.javascriptDefaults) return monaco.typescript;
    return monaco.languages.typescript;
  }

  // The Space's connectors, their actions and parameters, as declarations generated by the
  // server (apps/connectors/typings.py). `no-cache` makes the browser revalidate its copy with
  // the ETag: a 304 while the connectors are unchanged.
  function loadConnectorTypes(ts) {
    var host = document.getElementById("wf-monaco");
    if (!cfg.connectorTypesUrl) return;
    fetch(cfg.connectorTypesUrl, { credentials: "same-origin", cache: "no-cache" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (text) {
        ts.javascriptDefaults.addExtraLib(text, "file:///fastn-connectors.d.ts");
        host.setAttribute("data-connector-types", "loaded");
      })
      .catch(function (err) {
        // Completion of connectors is a help, not a need: the editor works on without it.
        host.setAttribute("data-connector-types", "failed");
        if (window.console) window.console.warn("Connector types not loaded: " + err.message);
      });
  }

  function completionProviders(monaco) {
    var schema = window.FASTN_CTX_SCHEMA;
    function lookup(path) {
      var node = schema;
      for (var i = 0; i < path.length; i++) {
        if (!node.members || !node.members[path[i]]) return null;
        node = node.members[path[i]];
      }
      return node;
    }
    // `ctx.` has no declared type in plain JavaScript: complete its members from the schema.
    monaco.languages.registerCompletionItemProvider("javascript", {
      triggerCharacters: ["."],
      provideCompletionItems: function (textModel, position) {
        var before = textModel.getValueInRange({
          startLineNumber: position.lineNumber, startColumn: 1,
          endLineNumber: position.lineNumber, endColumn: position.column
        });
        var match = /(?:^|[^\w$.])ctx((?:\??\.[A-Za-z_$][\w$]*)*)\??\.([A-Za-z_$][\w$]*)?$/.exec(before);
        if (!match) return { suggestions: [] };
        var node = lookup(match[1].split(/\??\./).filter(Boolean));
        if (!node || !node.members) return { suggestions: [] };
        var word = textModel.getWordUntilPosition(position);
        var range = new monaco.Range(position.lineNumber, word.startColumn, position.lineNumber, word.endColumn);
        return {
          suggestions: Object.keys(node.members).map(function (key, index) {
            var member = node.members[key];
            return {
              label: key,
              kind: monaco.languages.CompletionItemKind.Property,
              detail: "(property) " + key + ": " + member.type,
              documentation: { value: member.doc },
              insertText: key,
              range: range,
              sortText: "0" + String(index).padStart(2, "0")
            };
          })
        };
      }
    });
    monaco.languages.registerHoverProvider("javascript", {
      provideHover: function (textModel, position) {
        var word = textModel.getWordAtPosition(position);
        if (!word) return null;
        var line = textModel.getLineContent(position.lineNumber).slice(0, word.endColumn - 1);
        var match = /(?:^|[^\w$.])ctx((?:\??\.[A-Za-z_$][\w$]*)+)$/.exec(line);
        if (!match) return null;
        var path = match[1].split(/\??\./).filter(Boolean);
        var node = lookup(path);
        if (!node) return null;
        return {
          range: new monaco.Range(position.lineNumber, word.startColumn, position.lineNumber, word.endColumn),
          contents: [
            { value: "```typescript\n(property) ctx." + path.join(".") + ": " + node.type + "\n```" },
            { value: node.doc }
          ]
        };
      }
    });
  }

  function boot() {
    var host = document.getElementById("wf-monaco");
    window.require.config({ paths: { vs: cfg.monacoBase } });
    window.require(["vs/editor/editor.main"], function () {
      var monaco = window.monaco;
      var ts = typescriptDefaults(monaco);
      ts.javascriptDefaults.setCompilerOptions({
        target: ts.ScriptTarget.ESNext,
        module: ts.ModuleKind.ESNext,
        allowNonTsExtensions: true,
        allowJs: true,
        checkJs: false,
        lib: ["lib.es2022.d.ts"]
      });
      ts.javascriptDefaults.setDiagnosticsOptions({ noSemanticValidation: true, noSyntaxValidation: false });
      ts.javascriptDefaults.addExtraLib(window.FASTN_WORKFLOW_TYPES, "file:///fastn-runtime.d.ts");
      loadConnectorTypes(ts);
      completionProviders(monaco);

      model = monaco.editor.createModel(initialCode, "javascript", monaco.Uri.parse("file:///workflow.js"));
      host.innerHTML = "";
      editor = monaco.editor.create(host, {
        model: model,
        readOnly: cfg.readOnly,
        automaticLayout: true,
        minimap: { enabled: false },
        fontSize: 13,
        tabSize: 2,
        scrollBeyondLastLine: false,
        fixedOverflowWidgets: true,
        wordBasedSuggestions: "off",
        renderLineHighlight: "line",
        ariaLabel: "Workflow code"
      });
      window.wfEditor = editor;
      // Code loaded from an execution is not the saved draft: it counts as unsaved.
      savedVersionId = savedCode === initialCode ? model.getAlternativeVersionId() : -1;
      savedForm = formState();
      refreshDirty();

      editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, function () { submit("save"); });
      editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, run);

      var pending = null;
      model.onDidChangeContent(function () {
        monaco.editor.setModelMarkers(model, "fastn-run", []);
        refreshDirty();
        clearTimeout(pending);
        pending = setTimeout(updateBytes, model.getValueLength() > 200000 ? 400 : 50);
      });
      host.setAttribute("data-ready", "true");
    });
  }

  initConfig();
  savedForm = formState();
  savedFormHTML = form() ? form().innerHTML : null;
  boot();
})();
