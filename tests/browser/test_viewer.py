"""The reading page's viewer, end to end in Chromium: stored images, claim, stack, window, prior beside it.

The studies are received the way the gateway receives them (instance_receive);
the prior is RLE-compressed, so dwv's decoder worker is exercised too.
Screenshots and the Performance API figures go to test-artifacts/ (git-ignored);
the figures are recorded, never asserted (benchmarks/viewer.py measures).
"""

import datetime
import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pydicom.uid import RLELossless

from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.simulator import build_study
from dicom_gateway.tests.dicom_factories import encode
from sites.tests.factories import ModalityFactory
from tests.browser.helpers import login
from worklist.models import Exam

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Non-black pixels and distinct grey levels of the pane's image canvas.
CANVAS_STATS = """(selector) => {
  const canvas = document.querySelector(selector + ' canvas');
  if (!canvas || !canvas.width) return {lit: 0, levels: 0, hash: 0};
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let lit = 0, hash = 0; const levels = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] || data[i + 1] || data[i + 2]) lit++;
    levels.add(data[i]);
    hash = (hash * 31 + data[i]) | 0;
  }
  return {lit, levels: levels.size, hash};
}"""


def _ingest(datasets, modality, syntax=None) -> Exam:
    for ds in datasets:
        if syntax is not None:
            ds.compress(syntax)
        data = encode(ds) if syntax is None else encode(ds, syntax)
        assert instance_receive(data=data, modality=modality).status == statuses.SUCCESS
    return Exam.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)


@pytest.fixture
def studies(settings, tmp_path, site_a, radiologist_a):
    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a, ae_title="CT_VIEWER")
    patient = {"patient_name": "VIEWER^Patient", "patient_id": "PIDVIEWER"}
    current = _ingest(list(build_study("ct-head", count=24, **patient)), modality)
    when = datetime.datetime.now() - datetime.timedelta(days=200)
    prior = _ingest(list(build_study("ct-head", count=12, when=when, **patient)), modality, RLELossless)
    Exam.objects.filter(pk=current.pk).update(status="ASSIGNED", assigned_to=radiologist_a)
    Exam.objects.filter(pk=prior.pk).update(status="REPORTED")
    return current, prior


def _index(page: Page, pane: str) -> int:
    return int(page.locator(f'[data-pane="{pane}"]').get_attribute("data-index"))


def test_a_radiologist_claims_reads_the_stack_and_compares_with_a_prior(page: Page, live_server, studies):
    ARTIFACTS.mkdir(exist_ok=True)
    current, prior = studies
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => console.error('CSP', e.violatedDirective, e.sourceFile))"
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, live_server, "rad_a")
    page.goto(f"{live_server.url}/exams/{current.pk}/")
    page.get_by_role("button", name="Lire", exact=True).click()
    expect(page.get_by_test_id("reading")).to_be_visible()

    pane = page.locator('[data-pane="current"]')
    expect(pane).to_have_attribute("data-state", "ready", timeout=15000)
    stats = page.evaluate(CANVAS_STATS, "#dwv-current")
    assert stats["lit"] > 1000 and stats["levels"] > 2, stats
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 1 / 24")
    page.wait_for_function("() => document.querySelector('.series-strip img')?.naturalWidth > 0")
    page.screenshot(path=ARTIFACTS / "viewer-first-image.png")

    # Wheel, then keys: the displayed index moves.
    page.locator("#dwv-current").hover()
    for _ in range(5):
        page.mouse.wheel(0, 100)
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 6 / 24")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 8 / 24")
    page.keyboard.press("End")
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 24 / 24")
    page.keyboard.press("PageUp")
    assert _index(page, "current") == 13

    # Window preset: the picture changes.
    before = page.evaluate(CANVAS_STATS, "#dwv-current")
    page.get_by_test_id("window-preset").select_option(label="Os")
    page.wait_for_function(
        "(h) => { const c = document.querySelector('#dwv-current canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let x = 0; for (let i = 0; i < d.length; i += 4) x = (x * 31 + d[i]) | 0; return x !== h; }",
        arg=before["hash"],
    )
    page.screenshot(path=ARTIFACTS / "viewer-bone-window.png")

    # DICOM tags of the image shown.
    page.get_by_role("button", name="Tags DICOM").click()
    expect(page.get_by_test_id("tag-table")).to_contain_text("PIDVIEWER")

    # The prior (RLE) beside it, then linked scroll.
    priors = page.get_by_test_id("priors")
    expect(priors).to_contain_text(prior.study_description)
    priors.get_by_role("button", name="Ouvrir à côté").click()
    prior_pane = page.locator('[data-pane="prior"]')
    expect(prior_pane).to_have_attribute("data-state", "ready", timeout=15000)
    stats = page.evaluate(CANVAS_STATS, "#dwv-prior")
    assert stats["lit"] > 1000 and stats["levels"] > 2, stats
    expect(page.get_by_test_id("prior-index")).to_contain_text("Image 1 / 12")
    page.get_by_test_id("sync-scroll").check()
    page.locator("#dwv-current").hover()
    start_current, start_prior = _index(page, "current"), _index(page, "prior")
    page.mouse.wheel(0, -100)
    page.mouse.wheel(0, -100)
    expect(page.get_by_test_id("current-index")).to_contain_text(f"Image {start_current - 1} / 24")
    expect(page.get_by_test_id("prior-index")).to_contain_text("Image 1 / 12")  # clamped at the first image
    page.locator("#dwv-prior").hover()
    for _ in range(4):
        page.mouse.wheel(0, 100)
    expect(page.get_by_test_id("prior-index")).to_contain_text(f"Image {start_prior + 5} / 12")
    # The offset set when the link was switched on holds: 13 images apart.
    expect(page.get_by_test_id("current-index")).to_contain_text(f"Image {start_current + 5} / 24")
    page.screenshot(path=ARTIFACTS / "viewer-prior-beside.png", full_page=True)

    timings = page.evaluate(
        """() => ({
          navigation: performance.getEntriesByType('navigation').map(e => e.toJSON()),
          marks: performance.getEntriesByType('mark')
            .map(e => ({name: e.name, startTime: e.startTime, detail: e.detail})),
          images: performance.getEntriesByType('resource').filter(e => e.name.includes('/viewer/images/')).length,
          wado: performance.getEntriesByType('resource').filter(e => e.name.includes('/dicomweb/wado')).length,
        })"""
    )
    (ARTIFACTS / "viewer-timings.json").write_text(json.dumps(timings, indent=2))
    assert {m["name"] for m in timings["marks"]} >= {"viewer:first-image", "viewer:stack-ready"}
    # Every image by the signed URLs of the page and of the prior's list; none by WADO-URI.
    assert timings["images"] == 24 + 12 and timings["wado"] == 0, timings
    # The viewer needs no CSP exception (htmx's indicator style is another matter).
    assert not [e for e in errors if e.startswith("CSP") and ("dwv" in e or "viewer" in e)], errors
    assert not [e for e in errors if e.startswith("viewer:") or "Error" in e], errors


def test_a_series_opened_after_its_urls_expired_asks_for_fresh_ones(page: Page, live_server, studies, monkeypatch):
    current, _prior = studies
    # The URLs live 3 s: the viewer renews them from two thirds of that on.
    monkeypatch.setattr("dicom_gateway.viewer_images.MAX_AGE", 3)
    login(page, live_server, "rad_a")
    page.goto(f"{live_server.url}/exams/{current.pk}/")
    pane = page.locator('[data-pane="current"]')
    expect(pane).to_have_attribute("data-state", "ready", timeout=15000)
    page.wait_for_timeout(4500)  # the page's URLs have expired (signing counts whole seconds)
    with page.expect_response(lambda r: f"/exams/{current.pk}/images/" in r.url) as renewed:
        page.locator(".series-strip [data-series-id]").first.click()
    assert renewed.value.ok
    page.wait_for_function("() => performance.getEntriesByName('viewer:stack-ready').length === 2", timeout=15000)
    expect(pane).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 1 / 24")
