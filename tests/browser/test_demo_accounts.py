"""The demo accounts of README.md work in a real browser, in French, each in its own sites.

The demo organisation is loaded with sites.demo.demo_load(), the loader behind
seed_demo, and every login goes through the real form with the published demo
password.
"""

import re
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import Page, expect

from core.templatetags.dicom import person_name
from sites.demo import DEMO_PASSWORD, demo_load
from worklist.models import Exam

pytestmark = pytest.mark.django_db(transaction=True)

# Demo patients (sites/demo.py EXAMS) and where they are.
LANDERNEAU_HEAD_CT = "DEMO^Patient^Un"  # CH Landerneau, GHT Bretagne Occidentale, urgent, READY
CARHAIX_CHEST_CTA = "DEMO^Patient^Deux"  # CH Carhaix, same GHT, another site
VITRE_ABDO_CT = "DEMO^Patient^Trois"  # CH Vitré, GHT Haute-Bretagne
CAYENNE_BRAIN_MR = "DEMO^Patient^Cinq"  # CH Cayenne, GHT Guyane
RENNES_SPINE_MR = "DEMO^Patient^Six"  # CHU Rennes, GHT Haute-Bretagne


@pytest.fixture
def demo(db):
    # demo_load needs the subspecialties seeded by a data migration, which the
    # flush after each transactional test removes. serialized_rollback does not
    # bring them back when other tests set up the database before Playwright
    # started: the connection seen under Playwright's sync API (a greenlet with
    # its own context) then has no serialized copy. Seeding again is idempotent.
    seed_subspecialties = import_module("sites.migrations.0002_subspecialties").seed
    seed_subspecialties(django_apps, None)
    return demo_load()


def _login(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def _logout(page: Page, live_server) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()


def test_the_demo_merm_of_landerneau_sees_the_board_of_their_site_only(page: Page, live_server, demo):
    _login(page, live_server, "merm.landerneau")

    expect(page).to_have_url(f"{live_server.url}/board/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Tableau du site")).to_be_visible()
    expect(page.get_by_role("heading", name="Examens des dernières 24 heures")).to_be_visible()
    expect(page.get_by_text("CH de Landerneau").first).to_be_visible()
    board = page.locator("table.exams")
    expect(board.get_by_text(person_name(LANDERNEAU_HEAD_CT))).to_be_visible()
    for elsewhere in (CARHAIX_CHEST_CTA, VITRE_ABDO_CT, CAYENNE_BRAIN_MR):
        expect(board.get_by_text(person_name(elsewhere))).to_have_count(0)

    board.get_by_role("link", name="Scanner cérébral sans injection").click()
    expect(page.get_by_role("heading", name="Scanner cérébral sans injection")).to_be_visible()
    expect(page.get_by_test_id("patient-name")).to_have_text(person_name(LANDERNEAU_HEAD_CT))
    expect(page.get_by_role("heading", name="Historique")).to_be_visible()

    _logout(page, live_server)


def test_a_demo_radiologist_sees_the_worklist_of_their_credentials_only(page: Page, live_server, demo):
    # dr.martin reads for CHU Brest, CH Landerneau and CH Carhaix (GHT Bretagne Occidentale).
    _login(page, live_server, "dr.martin")

    expect(page).to_have_url(f"{live_server.url}/worklist/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Liste de travail")).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+ examens? en attente\."))).to_be_visible()
    worklist = page.locator("table.exams")
    expect(worklist.get_by_text(person_name(LANDERNEAU_HEAD_CT))).to_be_visible()
    for other_ght in (VITRE_ABDO_CT, CAYENNE_BRAIN_MR, RENNES_SPINE_MR):
        expect(worklist.get_by_text(person_name(other_ght))).to_have_count(0)
    # The 8-column table fits a 1280 px screen without a horizontal scrollbar (static/css/teleradio.css).
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    worklist.get_by_role("link", name="Scanner cérébral sans injection").click()
    expect(page.get_by_test_id("patient-name")).to_have_text(person_name(LANDERNEAU_HEAD_CT))
    expect(page.get_by_text("CH de Landerneau")).to_be_visible()

    # An exam of another GHT is not found, even by its address.
    vitre_exam = Exam.objects.get(patient_name=VITRE_ABDO_CT)
    response = page.goto(f"{live_server.url}/exams/{vitre_exam.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_text(person_name(VITRE_ABDO_CT))).to_have_count(0)

    page.goto(f"{live_server.url}/worklist/")
    _logout(page, live_server)


def test_a_demo_ght_admin_lands_on_the_admin(page: Page, live_server, demo):
    _login(page, live_server, "admin.brest")

    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("#site-name")).to_have_text("Administration Téléradio")
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_the_footer_switches_the_pages_to_english(page: Page, live_server, demo):
    _login(page, live_server, "dr.martin")
    expect(page.get_by_role("heading", name="Liste de travail")).to_be_visible()

    page.get_by_label("Langue").select_option("en")
    page.get_by_role("button", name="Changer").click()

    expect(page).to_have_url(f"{live_server.url}/worklist/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Worklist", exact=True)).to_be_visible()
    # Both tables, "my exams" and the GHT pool, have English column headers.
    for section in ("mine", "pool"):
        expect(page.get_by_test_id(section).get_by_role("columnheader", name="Priority")).to_be_visible()
    expect(page.get_by_role("heading", name="My exams")).to_be_visible()
    expect(page.get_by_role("heading", name="GHT pool")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # The choice holds on the next page, and can be undone the same way.
    page.get_by_role("link", name="Exams", exact=True).click()
    expect(page.get_by_role("heading", name="Exams")).to_be_visible()
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", name="Examens")).to_be_visible()
