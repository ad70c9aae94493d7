"""Issue #8's main path in Chromium: a MERM asks for an urgent CT; a radiologist validates the protocol in
another browser; the MERM's board follows the exam to the signed report without a reload.

The scanner's part is `simulate_scanner --from-worklist` against the real gateway on a loopback port: it
queries the DICOM worklist and sends the study with the entry's AccessionNumber and StudyInstanceUID. The
one-second beat sweeps (matching, urgent routing) are called directly, as the beat would.
"""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from dicom_gateway.ae import acceptor_config
from dicom_gateway.upper_layer import Gateway
from reports.services import report_get_or_create_draft, report_save_draft, report_sign
from sites.tests.factories import ModalityFactory
from tests.browser.helpers import ARTIFACTS, login
from worklist import services
from worklist.models import Exam, ExamRequest
from worklist.tests import rota

pytestmark = pytest.mark.django_db(transaction=True)


def test_urgent_request_validated_then_followed_on_the_board_to_the_signed_report(
    page: Page, browser: Browser, browser_context_args, live_server, settings, tmp_path, site_a, merm_a, radiologist_a
):
    ARTIFACTS.mkdir(exist_ok=True)
    settings.STORAGE_ROOT = tmp_path / "store"
    services.exam_catalogue_install_defaults(ght=site_a.ght)
    scanner = ModalityFactory(site=site_a, ae_title="CT_FLOW", name="Scanner Site A")
    now = timezone.now()
    line = rota.line(sites=[site_a])
    rota.shift(
        user=radiologist_a, on=line, start=now - datetime.timedelta(hours=1), end=now + datetime.timedelta(hours=8)
    )

    # The MERM asks for an urgent CT at the console.
    login(page, live_server, "merm_a")
    page.goto(f"{live_server.url}/board/")
    page.get_by_test_id("new-request").click()
    page.get_by_label("Urgence").select_option("URGENT")
    page.get_by_label("Examen demandé").select_option(label="Scanner cérébral sans injection")
    page.get_by_label("Appareil").select_option(label=str(scanner))
    page.get_by_label("Nom d'usage").fill("Flow")
    page.get_by_label("Prénom").fill("Jeanne")
    page.get_by_label("Date de naissance").fill("1948-05-17")
    page.get_by_label("Sexe").select_option("F")
    page.get_by_label("IPP (identifiant du site)").fill("IPPFLOW1")
    page.get_by_label("Médecin demandeur").fill("Dr Urgentiste")
    page.get_by_label("Question clinique").fill("Déficit brutal du membre supérieur droit depuis 1 h.")
    page.get_by_role("button", name="Envoyer la demande").click()
    request = ExamRequest.objects.get()
    row = page.locator(f'tr[data-request-id="{request.pk}"]')
    expect(row.get_by_test_id("request-state")).to_contain_text("demandé")
    assert request.assigned_to == radiologist_a

    # The radiologist on duty validates the protocol, in another browser.
    other = browser.new_context(**browser_context_args)
    try:
        rad = other.new_page()
        login(rad, live_server, "rad_a")
        rad.goto(f"{live_server.url}/requests/")
        rad.get_by_role("link", name="Scanner cérébral sans injection").click()
        expect(rad.get_by_test_id("clinical-question")).to_contain_text("Déficit brutal")
        rad.get_by_label("Valider").check()
        rad.get_by_label("Protocole").fill("Hélicoïdal sans injection, coupes fines.")
        rad.get_by_role("button", name="Envoyer la réponse").click()
        expect(rad.get_by_test_id("request-status")).to_contain_text("validé")

        # The MERM's board shows it without a reload.
        expect(row.get_by_test_id("request-state")).to_contain_text("validé", timeout=8000)
        request.refresh_from_db()
        page.screenshot(path=str(ARTIFACTS / "board-request-validated.png"), full_page=True)

        # The scanner reads its DICOM worklist and sends the study (simulate_scanner, real gateway).
        settings.DICOM_AE_TITLE = "TELERADIO"
        gateway = Gateway(acceptor_config(), "127.0.0.1", 0)
        gateway.start()
        try:
            call_command(
                "simulate_scanner",
                "--ae",
                "CT_FLOW",
                "--from-worklist",
                "--accession",
                request.accession_number,
                "--count",
                "4",
                "--port",
                str(gateway.port),
                "--called-ae",
                "TELERADIO",
            )
        finally:
            gateway.stop(grace_seconds=5)
        services.exams_match_requests()
        services.exams_route_urgent_receiving()
        exam = Exam.objects.get(study_instance_uid=request.study_instance_uid)
        assert exam.priority == "URGENT" and exam.assigned_to == radiologist_a
        exam_row = page.locator(f'tr[data-exam-id="{exam.pk}"]')
        expect(exam_row).to_contain_text("attribué", timeout=8000)

        services.exam_claim(exam=exam, by=radiologist_a)
        expect(exam_row).to_contain_text("en lecture", timeout=8000)

        exam.refresh_from_db()
        report = report_get_or_create_draft(exam=exam, by=radiologist_a)
        assert report.indication.startswith("Déficit brutal")  # the request's clinical question
        report = report_save_draft(
            report=report,
            by=radiologist_a,
            revision=report.revision,
            values={"dose": "PDL total : 700 mGy·cm", "findings": "Pas d'hémorragie.", "conclusion": "Normal."},
        )
        report_sign(report=report, by=radiologist_a, password="password")
        expect(exam_row).to_contain_text("CR signé", timeout=8000)
        page.screenshot(path=str(ARTIFACTS / "board-report-signed.png"), full_page=True)
    finally:
        other.close()
