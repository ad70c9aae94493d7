"""Two radiologists, one exam: the first claims it, the other sees it leave the pool and is told who was first."""

import pytest
from playwright.sync_api import Browser, Page, expect

from sites.tests.factories import CredentialFactory, RadiologistFactory
from tests.browser.helpers import login
from worklist.models import Exam
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_leaves_the_colleagues_pool_within_5_s_and_a_stale_claim_is_refused(
    page: Page, browser: Browser, browser_context_args, live_server, site_a, radiologist_a
):
    rad = RadiologistFactory(user__ght=site_a.ght, user__username="colleague", user__last_name="Martin")
    CredentialFactory(radiologist=rad, site=site_a)
    exam = ExamFactory(site=site_a, status="READY", in_pool=True, priority="URGENT", patient_name="URGENT^PATIENT")
    row = f'tr[data-exam-id="{exam.pk}"]'

    other = browser.new_context(**browser_context_args)
    try:
        colleague = other.new_page()
        login(colleague, live_server, "colleague")
        colleague.goto(f"{live_server.url}/worklist/")
        expect(colleague.get_by_test_id("pool").locator(row)).to_be_visible()
        stale = other.new_page()  # the exam page, opened before anyone claimed it
        stale.goto(f"{live_server.url}/exams/{exam.pk}/")
        expect(stale.get_by_role("button", name="Lire", exact=True)).to_be_visible()

        login(page, live_server, "rad_a")
        page.goto(f"{live_server.url}/worklist/")
        page.get_by_test_id("pool").locator(row).get_by_role("button", name="Lire", exact=True).click()
        expect(page.get_by_test_id("reading")).to_be_visible()
        assert Exam.objects.get(pk=exam.pk).status == "IN_READING"

        # No reload: htmx polls every 5 s.
        expect(colleague.get_by_test_id("pool").locator(row)).to_have_count(0, timeout=6000)
        expect(colleague.get_by_test_id("pool")).to_contain_text("Aucun examen en attente")

        stale.get_by_role("button", name="Lire", exact=True).click()
        expect(stale.get_by_role("status").filter(has_text="Déjà pris par Dr")).to_contain_text(str(radiologist_a))
        assert Exam.objects.get(pk=exam.pk).assigned_to == radiologist_a
    finally:
        other.close()
