"""Each user's main path in a real browser: log in, land on the right page, in French."""

import pytest
from playwright.sync_api import Page, expect

from core.templatetags.dicom import person_name

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page: Page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def test_a_radiologist_lands_on_the_worklist(page: Page, live_server, radiologist_a, exam_a):
    _login(page, live_server, "rad_a", "password")
    expect(page).to_have_url(f"{live_server.url}/worklist/")
    expect(page.get_by_role("heading", name="Liste de travail")).to_be_visible()
    expect(page.get_by_text(person_name(exam_a.patient_name))).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_a_merm_lands_on_the_site_board(page: Page, live_server, merm_a, exam_a):
    _login(page, live_server, "merm_a", "password")
    expect(page).to_have_url(f"{live_server.url}/board/")
    expect(page.get_by_role("heading", name="Tableau du site")).to_be_visible()


def test_a_wrong_password_says_so_in_french(page: Page, live_server, merm_a):
    _login(page, live_server, "merm_a", "wrong")
    expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
