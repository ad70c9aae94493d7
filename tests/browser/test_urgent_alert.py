"""The opt-in alert for a new urgent exam: it fires for an exam that appears, never for those shown at load."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import login
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_urgent_exam_alerts_within_5_s_without_reload(page: Page, live_server, site_a, radiologist_a):
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    shown = ExamFactory(site=site_a, status="READY", in_pool=True, priority="URGENT", patient_name="DEJA^LA")
    login(page, live_server, "rad_a")
    page.goto(f"{live_server.url}/worklist/")
    expect(page.locator(f'tr[data-exam-id="{shown.pk}"]')).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/worklist/")) as saved:
        page.get_by_test_id("urgent-alert").check()
    assert saved.value.status == 204

    # A new standard exam refreshes the list (the page is live) but does not alert.
    ExamFactory(site=site_a, status="READY", in_pool=True, priority="STANDARD", study_description="Routine")
    expect(page.get_by_text("Routine")).to_be_visible(timeout=7000)
    assert page.evaluate("window.__teleradioAlerts") == 0

    new = ExamFactory(
        site=site_a, status="READY", in_pool=True, priority="URGENT", study_description="Scanner AVC", modality="CT"
    )
    expect(page.locator(f'tr[data-exam-id="{new.pk}"]')).to_be_visible(timeout=7000)
    expect(page.get_by_test_id("urgent-announcer")).to_contain_text("Nouvelle urgence : CH Site A · CT · Scanner AVC")
    assert page.evaluate("window.__teleradioAlerts") == 1
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload

    # The switch is kept for the reader: after a reload it is still on, and nothing already shown alerts.
    page.reload()
    expect(page.get_by_test_id("urgent-alert")).to_be_checked()
    page.wait_for_timeout(5500)
    assert page.evaluate("window.__teleradioAlerts") == 0
