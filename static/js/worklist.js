// The radiologist's worklist: keyboard (j/k move, Enter opens, c claims),
// conditional polling (htmx sends If-None-Match; a 304 leaves the list as it is),
// and the opt-in alert for a new urgent exam (a short WebAudio tone, a browser
// notification if allowed, and a line in a live region).
(function () {
  "use strict";
  var live = document.getElementById("worklist-live");
  if (!live) { return; }
  var selectedId = null;
  var etag = null;

  function rows() { return Array.prototype.slice.call(live.querySelectorAll("tr[data-exam-id]")); }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) { selectedId = null; return; }
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    selectedId = row.getAttribute("data-exam-id");
    row.scrollIntoView({ block: "nearest" });
  }

  function current() {
    return rows().filter(function (r) { return r.getAttribute("data-exam-id") === selectedId; })[0] || null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(current());
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[index]);
  }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (event.ctrlKey || event.metaKey || event.altKey || ["input", "select", "textarea", "button", "a"].indexOf(tag) >= 0) {
      return;
    }
    var row = current();
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter" && row) {
      var link = row.querySelector("a[href]");
      if (link) { window.location.assign(link.href); event.preventDefault(); }
    } else if (event.key === "c" && row) {
      var form = row.querySelector("form.claim");
      if (form) { form.submit(); event.preventDefault(); }
    }
  });

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt === live && etag) { event.detail.headers["If-None-Match"] = etag; }
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.elt !== live) { return; }
    if (event.detail.xhr.status === 304) { event.detail.shouldSwap = false; return; }
    etag = event.detail.xhr.getResponseHeader("ETag") || etag;
  });
  // --- Alert for a new urgent exam ---------------------------------------------------
  // Exams already shown when the page loaded never alert; each exam alerts once.
  var URGENT = ["URGENT", "VITAL"];
  var known = {};
  rows().forEach(function (r) { known[r.getAttribute("data-exam-id")] = true; });
  var toggle = document.querySelector("[data-testid=urgent-alert]");
  var announcer = document.getElementById("urgent-announcer");
  var audio = null;
  window.__teleradioAlerts = 0;

  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) { audio = new Context(); }
    if (audio && audio.state === "suspended") { audio.resume(); }
    return audio;
  }

  function beep() {
    // Two short tones, generated: no sound file to download.
    var context = audioContext();
    if (!context) { return; }
    [0, 0.25].forEach(function (offset) {
      var oscillator = context.createOscillator();
      var gain = context.createGain();
      var start = context.currentTime + offset;
      oscillator.type = "sine";
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start);
      oscillator.stop(start + 0.2);
    });
  }

  function describe(row) {
    var cells = row.querySelectorAll("td");
    return Array.prototype.slice.call(cells, 1, 4).map(function (c) { return c.textContent.trim(); }).join(" · ");
  }

  function alertUrgent(fresh) {
    window.__teleradioAlerts += fresh.length;
    var label = announcer ? announcer.getAttribute("data-label") : "";
    var text = label + " : " + fresh.map(describe).join(" ; ");
    if (announcer) { announcer.textContent = text; }
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      try { new Notification(label, { body: fresh.map(describe).join("\n"), tag: "teleradio-urgent" }); } catch (e) { /* not shown */ }
    }
  }

  function checkNewUrgent() {
    var fresh = rows().filter(function (r) {
      var id = r.getAttribute("data-exam-id");
      var isNew = !known[id];
      known[id] = true;
      return isNew && URGENT.indexOf(r.getAttribute("data-priority")) >= 0;
    });
    if (fresh.length && toggle && toggle.checked) { alertUrgent(fresh); }
  }

  if (toggle) {
    toggle.addEventListener("change", function () {
      var form = toggle.form;
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" }
      });
      if (toggle.checked) {
        audioContext();  // created in the click: browsers allow sound after a gesture
        if ("Notification" in window && Notification.permission === "default") { Notification.requestPermission(); }
      }
    });
    // A page loaded with the switch on gets its sound at the reader's first key or click.
    ["keydown", "pointerdown"].forEach(function (type) {
      document.addEventListener(type, function () { if (toggle.checked) { audioContext(); } }, { once: true });
    });
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.elt !== live) { return; }
    if (selectedId) { select(current()); }
    checkNewUrgent();
  });
})();
