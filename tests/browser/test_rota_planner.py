"""A GHT admin builds next month's rota from a template, fills the gaps and publishes it."""

import datetime
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from sites.models import RotaMonth
from sites.tests.factories import RotaLineFactory, RotaSlotFactory
from tests.browser.helpers import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_builds_fills_and_publishes_next_months_rota(
    page: Page, live_server, site_a, radiologist_a, ght_admin_a
):
    # Few shifts: one line, one slot on Wednesday evenings (4 or 5 in a month).
    line = RotaLineFactory(ght=site_a.ght, name="Soirée IRM 18h–22h", sites=[site_a])
    RotaSlotFactory(line=line, name="Soirée", days="2", start_time=datetime.time(18), end_time=datetime.time(22))
    doctor = str(radiologist_a.radiologist)

    login(page, live_server, "admin_a")
    page.goto(f"{live_server.url}{reverse('exam_list')}")  # an admin lands in the Django admin
    page.get_by_role("link", name="Planning").click()
    expect(page.get_by_role("heading", name="Planning des gardes")).to_be_visible()
    page.get_by_role("button", name="Préparer le mois suivant").click()

    # The draft month: every shift is a gap the validation panel lists.
    expect(page.get_by_test_id("rota-state")).to_have_text("brouillon")
    month_url = re.compile(r"/rota/\d+/(#shift-\d+)?$")
    expect(page).to_have_url(month_url)
    unfilled = page.locator(".shift.unfilled")
    count = unfilled.count()
    assert 4 <= count <= 5
    expect(page.get_by_test_id("error-count")).to_contain_text(f"{count} erreurs bloquent la publication")

    # Publishing now is refused, with the reasons.
    page.get_by_role("button", name="Publier").click()
    expect(page.get_by_text("Publication impossible")).to_be_visible()

    for remaining in range(count, 0, -1):
        page.locator(".shift.unfilled a").first.click()  # htmx swaps the form into the cell
        select = page.get_by_test_id("assign-select")
        expect(select).to_be_visible()
        expect(page).to_have_url(month_url)  # a fragment in place, not a new page
        select.select_option(label=doctor)
        page.get_by_role("button", name="Affecter").click()
        expect(page.locator(".shift.unfilled")).to_have_count(remaining - 1)

    expect(page.get_by_test_id("no-errors")).to_be_visible()
    expect(page.locator(".shift").first).to_contain_text(doctor)
    page.get_by_role("button", name="Publier").click()

    expect(page.get_by_test_id("rota-state")).to_have_text("publié")
    expect(page.get_by_role("button", name="Dépublier")).to_be_visible()
    expect(page.get_by_test_id("history")).to_contain_text("publié")
    assert RotaMonth.objects.get(ght=site_a.ght).state == RotaMonth.State.PUBLISHED
