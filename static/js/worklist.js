// The radiologist's worklist: keyboard (j/k move, Enter opens, c claims) and
// conditional polling (htmx sends If-None-Match; a 304 leaves the list as it is).
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
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.elt === live && selectedId) { select(current()); }
  });
})();
