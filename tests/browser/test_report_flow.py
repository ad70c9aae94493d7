"""Issue #7's main path in Chromium: a radiologist writes from a template, flags a critical finding and
signs with their password; the site's MERM sees the banner, acknowledges, and downloads the PDF.

The PDF is rendered to PNG with pdftoppm (poppler-utils) into test-artifacts/ to be looked at.
"""

import datetime
import shutil
import subprocess

import pytest
from playwright.sync_api import Browser, Page, expect

from reports.models import Addendum, CriticalAlert, Report
from reports.services import report_templates_install_defaults
from tests.browser.helpers import ARTIFACTS, login
from worklist.services import exam_claim
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_write_from_a_template_flag_critical_sign_then_the_site_acknowledges_and_downloads(
    page: Page, browser: Browser, browser_context_args, live_server, site_a, radiologist_a, merm_a
):
    ARTIFACTS.mkdir(exist_ok=True)
    report_templates_install_defaults(ght=site_a.ght)
    exam = ExamFactory(
        site=site_a,
        status="ASSIGNED",
        assigned_to=radiologist_a,
        patient_name="CRITIQUE^Jeanne",
        patient_birth_date=datetime.date(1948, 5, 17),
        priority="URGENT",
    )
    exam_claim(exam=exam, by=radiologist_a)

    login(page, live_server, "rad_a")
    # The reading page: the editor is loaded into it beside the viewer.
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    page.get_by_label("Modèle").select_option(label="Scanner cérébral sans injection – AVC")
    page.get_by_role("button", name="Appliquer").click()
    expect(page.get_by_label("Résultats")).to_contain_text("Absence d'hémorragie")
    page.get_by_label("Dosimétrie").fill("PDL total : 812 mGy·cm")
    page.get_by_label("Conclusion").fill("Hématome sous-dural aigu droit avec effet de masse.")
    expect(page.get_by_test_id("conclusion-words")).to_contain_text("8")
    page.get_by_label("Résultat critique").check()
    # Saved on change; data-saved turns "true" once the server has the last edit.
    expect(page.locator("#report-draft")).to_have_attribute("data-saved", "true", timeout=8000)
    expect(page.get_by_test_id("autosave-status")).to_contain_text("Brouillon enregistré")
    # The draft is on the server: a reload shows it.
    page.reload()
    expect(page.get_by_label("Conclusion")).to_have_value("Hématome sous-dural aigu droit avec effet de masse.")
    expect(page.get_by_label("Résultat critique")).to_be_checked()
    page.get_by_label("Mot de passe (signature)").fill("password")
    page.get_by_role("button", name="Signer le compte rendu").click()
    expect(page.get_by_test_id("signed-report")).to_be_visible()
    assert page.url.endswith(f"/exams/{exam.pk}/")  # back on the reading page
    expect(page.get_by_test_id("critical-status")).to_contain_text("en attente")
    page.screenshot(path=str(ARTIFACTS / "report-signed.png"), full_page=True)
    report = Report.objects.get(exam=exam)
    assert report.is_signed and report.critical_finding
    assert CriticalAlert.objects.filter(report=report, acknowledged_at__isnull=True).exists()

    site = browser.new_context(**browser_context_args, accept_downloads=True)
    try:
        merm = site.new_page()
        login(merm, live_server, "merm_a")
        merm.goto(f"{live_server.url}/board/")
        banner = merm.get_by_test_id("critical-alert")
        expect(banner).to_contain_text("CRITIQUE Jeanne")
        merm.screenshot(path=str(ARTIFACTS / "board-critical-banner.png"), full_page=True)
        banner.get_by_placeholder("Personne informée").fill("Dr MARTIN, urgentiste")
        banner.get_by_role("button", name="Accuser réception").click()
        expect(merm.get_by_role("status").filter(has_text="Accusé de réception enregistré")).to_be_visible()
        expect(merm.get_by_test_id("critical-alert")).to_have_count(0)
        addendum = Addendum.objects.get(report=report, kind="critical_ack")
        assert addendum.text.startswith("Résultat communiqué à Dr MARTIN, urgentiste le ")

        merm.goto(f"{live_server.url}/exams/{exam.pk}/report/")
        expect(merm.get_by_test_id("addendum")).to_contain_text("Résultat communiqué à Dr MARTIN")
        with merm.expect_download() as download:
            merm.get_by_test_id("report-pdf").click()
        pdf = ARTIFACTS / "report.pdf"
        download.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(ARTIFACTS / "report")], check=True)
            pages = sorted(ARTIFACTS.glob("report-*.png"))
            assert pages and pages[0].stat().st_size > 5000
    finally:
        site.close()
