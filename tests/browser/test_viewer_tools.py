"""The reading page's viewer tools in Chromium: window/level by drag, ruler, invert, zoom.

Each tool is checked by what the reader sees: the pixels of the pane's canvases
(dwv's objects stay inside static/js/viewer.js). The study is three small CT
images, received the way the gateway receives them.
"""

import pytest
from playwright.sync_api import Page, expect

from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.simulator import build_study
from dicom_gateway.tests.dicom_factories import encode
from sites.tests.factories import ModalityFactory
from worklist.models import Exam

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = "#dwv-current .viewLayer canvas"
DRAWING = "#dwv-current .drawLayer canvas"

# The grey levels of the canvas' middle row.
ROW = """(selector) => {
  const c = document.querySelector(selector);
  const d = c.getContext('2d').getImageData(0, Math.floor(c.height / 2), c.width, 1).data;
  return Array.from({length: c.width}, (_, x) => d[4 * x]);
}"""

# The canvas' pixels: how many are lit (non-black), a hash, the grey levels at the given
# points (fractions of the canvas' size), and the horizontal extent of the yellow ones
# (dwv draws rulers in yellow; the image itself is grey).
CANVAS = """([selector, points]) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width) return null;
  const {width, height} = canvas;
  const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  let lit = 0, hash = 0, yellow = 0, left = width, right = -1;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a && (r || g || b)) lit++;
    hash = (hash * 31 + r) | 0;
    if (a > 128 && r > 180 && g > 180 && r - b > 60) {
      yellow++;
      const x = (i / 4) % width;
      left = Math.min(left, x); right = Math.max(right, x);
    }
  }
  const at = points.map(([fx, fy]) => data[4 * (Math.floor(fy * height) * width + Math.floor(fx * width))]);
  return {lit, hash, yellow, left, right, width, at};
}"""


@pytest.fixture
def exam(settings, tmp_path, site_a, radiologist_a):
    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a, ae_title="CT_TOOLS")
    datasets = list(build_study("ct-head", count=3, patient_name="TOOLS^Patient", patient_id="PIDTOOLS"))
    for ds in datasets:
        assert instance_receive(data=encode(ds), modality=modality).status == statuses.SUCCESS
    Exam.objects.filter(study_instance_uid=datasets[0].StudyInstanceUID).update(
        status="ASSIGNED", assigned_to=radiologist_a
    )
    return Exam.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)


@pytest.fixture
def viewer(page: Page, live_server, exam) -> Page:
    """The reading page, its first image shown and the whole stack loaded."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/")
    page.get_by_label("Identifiant").fill("rad_a")
    page.get_by_label("Mot de passe").fill("password")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    expect(page.locator('[data-pane="current"]')).to_have_attribute("data-state", "ready", timeout=15000)
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 1 / 3")
    return page


def _canvas(page: Page, selector: str = IMAGE, points=()):
    return page.evaluate(CANVAS, [selector, [list(p) for p in points]])


def _wait_for_new_picture(page: Page, old_hash: int) -> None:
    page.wait_for_function(
        "([selector, old]) => { const c = document.querySelector(selector);"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let h = 0; for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i]) | 0; return h !== old; }",
        arg=[IMAGE, old_hash],
        timeout=5000,
    )


def _drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag across the current pane, from and to fractions of its size."""
    box = page.locator("#dwv-current").bounding_box()
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=10)
    page.mouse.up()


def _index(page: Page) -> str:
    return page.locator('[data-pane="current"]').get_attribute("data-index")


def test_dragging_with_the_window_level_tool_changes_the_window_not_the_image(viewer: Page):
    page = viewer
    before, row_before = _canvas(page, points=[(0.5, 0.5)]), page.evaluate(ROW, IMAGE)
    page.get_by_role("button", name="Fenêtrage").click()
    expect(page.get_by_role("button", name="Fenêtrage")).to_have_attribute("aria-pressed", "true")
    _drag(page, (0.5, 0.5), (0.8, 0.8))
    _wait_for_new_picture(page, before["hash"])
    after, row_after = _canvas(page, points=[(0.5, 0.5)]), page.evaluate(ROW, IMAGE)
    # The same image (a drag with the Scroll tool moves through the stack)...
    assert _index(page) == "0"
    expect(page.get_by_test_id("current-index")).to_contain_text("Image 1 / 3")
    # ...in another window: the brain's grey level moved...
    assert abs(after["at"][0] - before["at"][0]) > 10, (before, after)
    # ...and nothing else: the head is where it was, and each pixel's new grey is a function of
    # its old one (a pan or a zoom would move the head: pixels grey alike before would differ now).
    assert [v > 0 for v in row_after] == [v > 0 for v in row_before]
    _assert_a_function_of(row_before, row_after)


def _assert_a_function_of(before: list[int], after: list[int]) -> None:
    new_levels: dict[int, list[int]] = {}
    for old, new in zip(before, after, strict=True):
        new_levels.setdefault(old, []).append(new)
    stray = sum(
        1 for levels in new_levels.values() for new in levels if abs(new - sorted(levels)[len(levels) // 2]) > 8
    )
    assert stray <= len(before) // 100, (stray, {k: (min(v), max(v)) for k, v in new_levels.items()})


def test_the_ruler_draws_a_measure_where_the_reader_drags(viewer: Page):
    page = viewer
    assert _canvas(page, DRAWING) is None  # nothing drawn yet
    page.get_by_role("button", name="Mesure").click()
    _drag(page, (0.3, 0.5), (0.7, 0.5))
    page.wait_for_function(f"() => document.querySelector('{DRAWING}')")
    page.wait_for_timeout(100)  # Konva draws on the next animation frame
    drawn = _canvas(page, DRAWING)
    assert drawn["yellow"] > 200, drawn
    # The ruler runs from where the drag started to where it ended (its end ticks included).
    assert abs(drawn["left"] - 0.3 * drawn["width"]) < 6, drawn
    assert abs(drawn["right"] - 0.7 * drawn["width"]) < 6, drawn
    assert _index(page) == "0"  # a measure, not a scroll


def test_invert_turns_each_grey_level_into_its_opposite_and_back(viewer: Page):
    page = viewer
    button = page.get_by_role("button", name="Inverser")
    expect(button).to_have_attribute("aria-pressed", "false")
    brain, air = (0.5, 0.5), (0.5, 0.05)
    before = _canvas(page, points=[brain, air])
    assert before["at"][0] > 20 and before["at"][1] < 10, before  # grey brain, black air

    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    _wait_for_new_picture(page, before["hash"])
    inverted = _canvas(page, points=[brain, air])
    assert [abs(a + b - 255) <= 2 for a, b in zip(before["at"], inverted["at"], strict=True)] == [True, True], (
        before,
        inverted,
    )

    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    _wait_for_new_picture(page, inverted["hash"])
    assert _canvas(page, points=[brain, air])["at"] == before["at"]


def test_zoom_buttons_scale_the_image(viewer: Page):
    page = viewer
    before = _canvas(page)
    page.get_by_role("button", name="Zoomer", exact=True).click()
    _wait_for_new_picture(page, before["hash"])
    zoomed = _canvas(page)
    # The head covers more of the canvas: area by the square of the scale (1.25 for one step).
    assert 1.3 < zoomed["lit"] / before["lit"] < 1.9, (before["lit"], zoomed["lit"])

    page.get_by_role("button", name="Dézoomer").click()
    _wait_for_new_picture(page, zoomed["hash"])
    assert _canvas(page)["lit"] < zoomed["lit"] / 1.2
