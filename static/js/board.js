// The site board refreshes itself every 5 s (htmx, conditional: a 304 changes
// nothing), except while the MERM is typing in one of its forms (acknowledging
// a critical finding), so that a refresh never wipes what they typed.
(function () {
  "use strict";
  var live = document.getElementById("board-live");
  if (!live || !window.htmx) { return; }
  var etag = null;
  var PERIOD_MS = 5000;

  function busy() {
    var active = document.activeElement;
    if (active && live.contains(active) && active.tagName !== "BODY") { return true; }
    return Array.prototype.some.call(live.querySelectorAll("input[type=text]"), function (input) {
      return input.value !== input.defaultValue;
    });
  }

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt === live && etag) { event.detail.headers["If-None-Match"] = etag; }
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.elt !== live) { return; }
    if (event.detail.xhr.status === 304) { event.detail.shouldSwap = false; return; }
    etag = event.detail.xhr.getResponseHeader("ETag") || etag;
  });
  window.setInterval(function () {
    if (!busy()) { window.htmx.trigger(live, "refresh"); }
  }, PERIOD_MS);
})();
