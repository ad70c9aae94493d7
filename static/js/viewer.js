// The reading page's image viewer, on dwv (static/vendor/dwv/dwv.js, bundled
// by scripts/copy-vendor.mjs from the npm package; no CDN).
//
// Images come from the platform: the page (or GET exams/<id>/images/ for a
// prior) lists the series and their images, each series with a signed URL
// (dicom_gateway/viewer_images.py: the scope is checked and audited once, when
// the list is made; each image is then one cheap request bound to the session).
// dwv loads one URL per image, decodes compressed syntaxes in its workers (RLE,
// JPEG, JPEG 2000) and shows the first image as soon as it arrives. The URLs
// expire (manifest.expires_in seconds): a series loaded from an older list asks
// for a fresh one first. (dwv's multipart loader ends the load at the first
// multipart answer, so images are not fetched by chunks.)
//
// Two panes: the current exam and, on demand, a prior beside it. Wheel, drag
// (Scroll tool) and keys move through the stack; the linked scroll keeps the
// offset between the two panes that it had when it was switched on.
// Texts come from the template's data- attributes (Django i18n; no inline script).
// Performance marks "viewer:first-image" and "viewer:stack-ready" are read by
// the browser test and benchmarks/viewer.py.

const root = document.getElementById("viewer");
if (root) {
  main(root).catch((error) => {
    console.error(error);
    root.dataset.state = "error";
  });
}

async function main(root) {
  // The image list comes with the page (a JSON data block, not a script); else it is fetched
  // while the library loads.
  const inPage = document.getElementById("viewer-images");
  const manifestRequest = inPage ? Promise.resolve(JSON.parse(inPage.textContent)) : getJson(root.dataset.imagesUrl);
  const asked = performance.now();
  const dwv = await import(root.dataset.dwvUrl);
  // The page's list was signed when the page was made (time 0 of the navigation).
  const current = new Manifest(root.dataset.imagesUrl, manifestRequest, inPage ? 0 : asked);
  const text = root.dataset;
  const toolbar = root.querySelector(".viewer-toolbar");
  const sync = root.querySelector('[data-action="sync"]');
  const tagPanel = root.querySelector(".tag-panel");
  const panes = {
    current: new Pane(dwv, root.querySelector('[data-pane="current"]'), "dwv-current", text),
    prior: new Pane(dwv, root.querySelector('[data-pane="prior"]'), "dwv-prior", text),
  };
  let active = panes.current;
  let tool = "Scroll";
  let linking = false;
  let offset = 0;

  function activate(pane) {
    active = pane;
    for (const p of Object.values(panes)) p.el.classList.toggle("active", p === pane);
    if (!tagPanel.hidden) showTags();
  }

  // Linked scroll: moving one pane moves the other by the same number of images.
  function onPosition(pane) {
    if (!tagPanel.hidden && pane === active) showTagsSoon();
    if (!sync.checked || linking) return;
    const other = pane === panes.current ? panes.prior : panes.current;
    const here = pane.index();
    if (!here || !other.index()) return;
    linking = true;
    try {
      other.setIndex(here.k + (pane === panes.current ? offset : -offset));
    } finally {
      linking = false;
    }
  }
  // Thumbnails are drawn on the server: asked for once the first image is shown, not before it.
  function showThumbnails() {
    for (const img of root.querySelectorAll(".series-strip img[data-src]")) {
      img.src = img.dataset.src;
      img.removeAttribute("data-src");
    }
  }
  for (const pane of Object.values(panes)) {
    pane.onPosition = () => onPosition(pane);
    pane.onReady = () => {
      pane.setTool(tool);
      showThumbnails();
    };
    pane.el.addEventListener("pointerdown", () => activate(pane));
    pane.el.addEventListener("focus", () => activate(pane));
    // The wheel always scrolls the stack (Ctrl + wheel is left to dwv's zoom).
    pane.el.addEventListener(
      "wheel",
      (event) => {
        if (event.ctrlKey && tool === "ZoomAndPan") return;
        event.preventDefault();
        event.stopPropagation();
        activate(pane);
        pane.step(Math.sign(event.deltaY));
      },
      { capture: true, passive: false },
    );
  }

  sync.addEventListener("change", () => {
    const a = panes.current.index();
    const b = panes.prior.index();
    offset = a && b ? b.k - a.k : 0;
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea, button") || event.altKey || event.metaKey) return;
    const steps = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };
    const here = active.index();
    if (!here) return;
    active.moved = true;
    if (event.key in steps) active.step(steps[event.key]);
    else if (event.key === "Home") active.setIndex(0);
    else if (event.key === "End") active.setIndex(here.n - 1);
    else return;
    event.preventDefault();
  });

  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.tool) {
      tool = button.dataset.tool;
      for (const b of toolbar.querySelectorAll("[data-tool]")) b.setAttribute("aria-pressed", String(b === button));
      for (const p of Object.values(panes)) p.setTool(tool);
      return;
    }
    const action = button.dataset.action;
    if (action === "invert") {
      const on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(on));
      for (const p of Object.values(panes)) p.invert(on);
    } else if (action === "reset") {
      toolbar.querySelector('[data-action="invert"]').setAttribute("aria-pressed", "false");
      toolbar.querySelector('[data-action="preset"]').value = "";
      for (const p of Object.values(panes)) p.reset();
    } else if (action === "zoom-in" || action === "zoom-out") {
      active.zoom(action === "zoom-in" ? 0.25 : -0.25);
    } else if (action === "tags") {
      tagPanel.hidden = !tagPanel.hidden;
      button.setAttribute("aria-expanded", String(!tagPanel.hidden));
      if (!tagPanel.hidden) showTags();
    }
  });

  toolbar.querySelector('[data-action="preset"]').addEventListener("change", (event) => {
    if (!event.target.value) return;
    const [center, width] = event.target.value.split(",").map(Number);
    for (const p of Object.values(panes)) p.setWindow(center, width);
    root.dataset.preset = event.target.value;
  });

  // DICOM tags of the image shown in the active pane (WADO-RS metadata, audited).
  let tagTimer = null;
  function showTagsSoon() {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(showTags, 250);
  }
  async function showTags() {
    const url = active.metadataUrl();
    if (!url) return;
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/dicom+json" } });
    if (!response.ok) return;
    const [elements] = await response.json();
    const rows = Object.entries(elements || {}).map(([key, element]) => {
      const tr = document.createElement("tr");
      let name = "";
      try {
        name = dwv.getTagFromKey(key).getNameFromDictionary() || "";
      } catch {
        name = "";
      }
      const cells = [`(${key.slice(0, 4)},${key.slice(4)})`, name, element.vr, formatValue(element)];
      for (const value of cells) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      return tr;
    });
    tagPanel.querySelector("tbody").replaceChildren(...rows);
  }

  // Series of the current exam: the thumbnails strip.
  const manifest = await manifestRequest;
  const strip = root.querySelector(".series-strip");
  strip.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-series-id]");
    if (!button) return;
    const series = await current.series(button.dataset.seriesId);
    if (!series) return;
    for (const b of strip.querySelectorAll("[data-series-id]")) b.setAttribute("aria-pressed", String(b === button));
    activate(panes.current);
    panes.current.load(series, current);
  });
  if (manifest.series.length) {
    const first = strip.querySelector('[aria-pressed="true"]');
    const series = manifest.series.find((s) => String(s.id) === first?.dataset.seriesId) || manifest.series[0];
    panes.current.load(series, current);
  } else {
    panes.current.say(text.textNoImages);
  }

  // Priors: "Ouvrir à côté" loads the prior in the second pane.
  const priorSelect = root.querySelector('[data-action="prior-series"]');
  let prior = null;
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-open-prior]");
    if (!button) return;
    prior = new Manifest(button.dataset.openPrior, getJson(button.dataset.openPrior), performance.now());
    const priorManifest = await prior.request;
    root.querySelector('[data-role="prior-label"]').textContent = `${text.textPrior} · ${button.dataset.priorLabel}`;
    priorSelect.replaceChildren(
      ...priorManifest.series.map((s) => new Option(`${s.number ?? "—"} · ${s.description || s.modality}`, s.id)),
    );
    panes.prior.el.hidden = false;
    root.classList.add("comparing");
    sync.disabled = false;
    panes.current.fit();
    if (priorManifest.series.length) panes.prior.load(priorManifest.series[0], prior);
    else panes.prior.say(text.textNoImages);
    panes.prior.el.scrollIntoView({ block: "nearest" });
  });
  priorSelect.addEventListener("change", async () => {
    const series = await prior?.series(priorSelect.value);
    if (series) panes.prior.load(series, prior);
  });
  root.querySelector('[data-action="close-prior"]').addEventListener("click", () => {
    panes.prior.close();
    panes.prior.el.hidden = true;
    root.classList.remove("comparing");
    sync.checked = false;
    sync.disabled = true;
    activate(panes.current);
    panes.current.fit();
  });
  window.addEventListener("resize", () => Object.values(panes).forEach((p) => p.fit()));
}

// An exam's image list and when it was signed: its URLs expire after expires_in seconds.
class Manifest {
  constructor(url, request, signedAt) {
    this.url = url;
    this.request = request;
    this.signedAt = signedAt;
  }

  // The series, from a list young enough for a whole load (a third of the URLs' life left at least).
  async series(id) {
    const manifest = await this.request;
    if (performance.now() - this.signedAt > ((manifest.expires_in || 0) * 1000 * 2) / 3) {
      this.signedAt = performance.now();
      this.request = getJson(this.url);
    }
    return (await this.request).series.find((s) => String(s.id) === String(id));
  }

  // After a failed load: the next one asks for fresh URLs.
  stale() {
    this.signedAt = -Infinity;
  }
}

// One dwv App showing one series in one pane.
class Pane {
  constructor(dwv, el, divId, text) {
    this.dwv = dwv;
    this.el = el;
    this.divId = divId;
    this.text = text;
    this.status = el.querySelector(".pane-status");
    this.app = null;
    this.series = null;
    this.loaded = 0;
    this.onPosition = () => {};
    this.onReady = () => {};
  }

  load(series, source) {
    this.close();
    const dwv = this.dwv;
    const app = new dwv.App();
    const options = new dwv.AppOptions({ "*": [new dwv.ViewConfig(this.divId)] });
    options.tools = {
      Scroll: new dwv.ToolConfig(),
      WindowLevel: new dwv.ToolConfig(),
      ZoomAndPan: new dwv.ToolConfig(),
      Draw: new dwv.ToolConfig(["Ruler"]),
    };
    app.init(options);
    this.app = app;
    this.series = series;
    this.loaded = 0;
    this.moved = false;
    const main = this.el.dataset.pane === "current";
    const started = performance.now();
    let first = true;
    app.addEventListener("renderend", () => {
      if (!first) return;
      first = false;
      if (main) performance.mark("viewer:first-image", { detail: { ms: performance.now() - started } });
      this.el.dataset.state = "shown";
      this.onReady();
      this.update();
    });
    app.addEventListener("loaditem", () => {
      this.loaded += 1;
      this.update();
    });
    app.addEventListener("positionchange", () => {
      this.update();
      this.onPosition();
    });
    app.addEventListener("load", () => {
      // Parallel requests may land out of order: start at the first image unless the reader already moved.
      if (!this.moved) this.setIndex(0);
      if (main) performance.mark("viewer:stack-ready", { detail: { ms: performance.now() - started } });
      this.el.dataset.state = "ready";
      this.update();
    });
    app.addEventListener("error", (event) => {
      console.error("viewer:", event.type, event.error?.message || event.message || String(event.error || ""), event.target?.src || "");
      this.el.dataset.state = "error";
      this.say(this.text.textError);
      source?.stale();
    });
    this.el.dataset.state = "loading";
    this.say(this.text.textLoading);
    // dwv sends the next request when one ends, after decoding it on the main thread: 16 in
    // flight keep Chromium's 6 connections per host busy meanwhile (8: 3.3 s for the 300-image
    // benchmark, 12-16: 2.5-3.5 s; docs/benchmarks.md).
    app.loadURLs(
      series.instances.map((uid) => series.images + uid),
      { batchSize: 16 },
    );
  }

  close() {
    if (this.app) {
      this.app.abortAllLoads();
      this.app.reset();
    }
    this.app = null;
    document.getElementById(this.divId).replaceChildren();
    delete this.el.dataset.state;
  }

  say(message) {
    this.status.textContent = message;
  }

  controller() {
    const layer = this.app?.getLayerGroupByDivId(this.divId)?.getBaseViewLayer();
    return layer?.getViewController();
  }

  // {k, n}: the index of the image shown along the scroll axis, and the stack size.
  index() {
    const vc = this.controller();
    if (!vc) return null;
    const dim = vc.getScrollDimIndex();
    return { k: vc.getCurrentIndex().get(dim), n: vc.getImageSize().get(dim), dim };
  }

  setIndex(k) {
    const vc = this.controller();
    const here = this.index();
    if (!vc || !here) return;
    const values = vc.getCurrentIndex().getValues();
    values[here.dim] = Math.max(0, Math.min(here.n - 1, k));
    if (values[here.dim] !== here.k) vc.setCurrentIndex(new this.dwv.Index(values));
  }

  step(delta) {
    this.moved = true;
    const here = this.index();
    if (here && delta) this.setIndex(here.k + delta);
  }

  update() {
    const here = this.index();
    if (!here) return;
    const total = this.series.instances.length;
    const loading = this.loaded < total ? ` · ${this.text.textLoading} ${this.loaded}/${total}` : "";
    this.say(`${this.text.textImage} ${here.k + 1} / ${here.n}${loading}`);
    this.el.dataset.index = String(here.k);
  }

  setTool(name) {
    if (!this.app || !this.controller()) return;
    if (name === "Ruler") {
      this.app.setTool("Draw");
      this.app.setToolFeatures({ shapeName: "Ruler" });
    } else {
      this.app.setTool(name);
    }
  }

  setWindow(center, width) {
    this.controller()?.setWindowLevel(new this.dwv.WindowLevel(center, width));
  }

  invert(on) {
    this.controller()?.setColourMap(on ? "invPlain" : "plain");
  }

  zoom(step) {
    const vc = this.controller();
    if (!vc) return;
    const size = vc.getImageSize();
    this.app.setActiveLayerGroup(0);
    this.app.zoom(step, size.get(0) / 2, size.get(1) / 2);
  }

  reset() {
    const vc = this.controller();
    if (!vc) return;
    vc.setColourMap("plain");
    vc.resetWindowLevel();
    this.app.resetZoomPan();
  }

  fit() {
    if (this.controller()) this.app.fitToContainer();
  }

  metadataUrl() {
    const uid = this.controller()?.getCurrentImageUid();
    return uid && this.series ? `${this.series.instances_url}${uid}/metadata` : "";
  }
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function formatValue(element) {
  if (element.InlineBinary || element.BulkDataURI) return "…";
  const values = (element.Value || []).map((v) => (typeof v === "object" && v !== null ? v.Alphabetic || "…" : v));
  const text = values.join("\\");
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}
