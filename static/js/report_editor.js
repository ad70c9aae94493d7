// The report editor: the draft is saved on the server every few seconds while
// it changes and whenever a field loses focus, so a closed tab or a dropped
// connection loses nothing. A 409 means another tab saved first: we stop and
// ask for a reload rather than overwrite newer text.
// The editor is a page of its own, or a panel htmx loads into the reading page:
// it starts on page load, and on htmx:load for a panel swapped in later.
(function () {
  "use strict";

  function start() {
    var form = document.getElementById("report-draft");
    if (!form || form.dataset.started) { return; }
    form.dataset.started = "true";
    var statusEl = document.getElementById("autosave-status");
    var wordsEl = document.getElementById("conclusion-words");
    var missingEl = document.getElementById("missing-parts");
    var missingList = document.getElementById("missing-list");
    var signForm = document.getElementById("report-sign");
    var dirty = false;
    var saving = false;
    var stopped = false;
    var editedInFlight = false;
    var INTERVAL_MS = 3000;

    function revisionInputs() {
      return document.querySelectorAll("input[name=revision]");
    }

    function setRevision(value) {
      Array.prototype.forEach.call(revisionInputs(), function (input) { input.value = value; });
    }

    function countWords(text) {
      var words = text.trim().split(/\s+/);
      return words[0] === "" ? 0 : words.length;
    }

    function save() {
      if (!dirty || saving || stopped) { return Promise.resolve(); }
      saving = true;
      dirty = false;
      editedInFlight = false;
      statusEl.textContent = form.dataset.savingText;
      return fetch(form.dataset.autosaveUrl, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      }).then(function (result) {
        if (result.status === 200) {
          setRevision(result.body.revision);
          statusEl.textContent = form.dataset.savedText + " " + result.body.saved_at;
          form.dataset.saved = editedInFlight ? "false" : "true";
          if (missingEl) {
            missingEl.hidden = result.body.missing.length === 0;
            missingList.textContent = result.body.missing.join(", ");
          }
        } else {
          if (result.status === 409 || result.status === 403) { stopped = true; }
          else { dirty = true; }
          statusEl.textContent = result.body.message;
        }
      }).catch(function () {
        dirty = true;
        statusEl.textContent = form.dataset.offlineText;
      }).then(function () {
        saving = false;
        // Typed (or ticked) while the request was in flight: save that too, now
        // (a failed request waits for the next tick instead: no tight retry loop).
        if (editedInFlight && !stopped) { return save(); }
      });
    }

    function changed() {
      dirty = true;
      if (saving) { editedInFlight = true; }
      form.dataset.saved = "false";
    }

    form.addEventListener("input", function (event) {
      changed();
      if (event.target.name === "conclusion" && wordsEl) {
        wordsEl.textContent = countWords(event.target.value);
      }
    });
    form.addEventListener("change", function () { changed(); save(); });
    form.addEventListener("focusout", function () { save(); });
    form.addEventListener("submit", function (event) { event.preventDefault(); save(); });
    window.setInterval(save, INTERVAL_MS);
    // Sign what was typed: save first, then submit the signature with the new revision.
    if (signForm) {
      signForm.addEventListener("submit", function (event) {
        if (!dirty && !saving) { return; }
        event.preventDefault();
        var wait = saving ? new Promise(function (resolve) { setTimeout(resolve, 300); }) : Promise.resolve();
        wait.then(save).then(function () { if (!dirty && !stopped) { signForm.submit(); } });
      });
    }
    window.addEventListener("beforeunload", function () {
      if (dirty && navigator.sendBeacon) {
        navigator.sendBeacon(form.dataset.autosaveUrl, new FormData(form));
      }
    });
  }

  start();
  document.addEventListener("htmx:load", start);
})();
