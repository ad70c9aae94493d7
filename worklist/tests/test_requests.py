"""Exam requests: routed for protocol validation, validated, escalated, matched to the received study."""

import datetime

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError, ConflictError
from core.models import AuditEvent, Notification
from worklist import services
from worklist.models import Exam, ExamEvent, ExamRequest
from worklist.tests import rota
from worklist.tests.factories import ExamCatalogueItemFactory, ExamFactory

S = ExamRequest.Status


@pytest.fixture
def item(site_a):
    return ExamCatalogueItemFactory(ght=site_a.ght)


@pytest.fixture
def on_duty(site_a, radiologist_a):
    now = timezone.now()
    line = rota.line(sites=[site_a])
    rota.shift(
        user=radiologist_a, on=line, start=now - datetime.timedelta(hours=1), end=now + datetime.timedelta(hours=8)
    )
    return radiologist_a


def _values(item, **changes):
    values = {
        "patient_family_name": "Dupont",
        "patient_given_name": "Jeanne",
        "patient_birth_date": datetime.date(1950, 3, 2),
        "patient_sex": "F",
        "patient_id": "IPP000042",
        "requesting_physician": "Dr Urgentiste",
        "clinical_question": "Déficit brutal du membre supérieur droit depuis 1 h.",
        "priority": "URGENT",
        "catalogue_item": item,
    }
    return {**values, **changes}


def test_a_request_is_routed_to_the_reader_on_duty_with_a_short_delay(site_a, merm_a, item, on_duty):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    assert request.status == S.REQUESTED
    assert request.assigned_to == on_duty
    assert request.deadline_at - request.created_at < datetime.timedelta(minutes=11)
    assert Notification.objects.filter(user=on_duty, text__contains="à valider").exists()
    assert AuditEvent.objects.filter(action="request.create", user=merm_a).exists()


def test_nobody_on_duty_notifies_every_credentialed_reader(site_a, merm_a, item, radiologist_a, radiologist_b):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    assert request.assigned_to is None
    assert Notification.objects.filter(user=radiologist_a).exists()
    assert not Notification.objects.filter(user=radiologist_b).exists()


def test_only_a_merm_of_the_site_requests(site_a, merm_b, radiologist_a, item):
    for user in (merm_b, radiologist_a):
        with pytest.raises(services.NotPermitted):
            services.exam_request_create(by=user, site=site_a, values=_values(item))
    assert not ExamRequest.objects.exists()


def test_another_ght_catalogue_item_is_refused(site_a, merm_a, ght_b):
    foreign = ExamCatalogueItemFactory(ght=ght_b)
    with pytest.raises(ApplicationError):
        services.exam_request_create(by=merm_a, site=site_a, values=_values(foreign))


def test_accepting_gives_an_accession_number_and_a_study_uid(site_a, merm_a, item, on_duty):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    request = services.exam_request_validate(request=request, by=on_duty, decision="accept", protocol="Sans injection")
    assert request.status == S.SCHEDULED
    assert request.accession_number.startswith("TR") and len(request.accession_number) <= 16
    assert request.study_instance_uid
    assert request.validated_by == on_duty
    assert Notification.objects.filter(user=merm_a, text__contains="validée").exists()
    with pytest.raises(ConflictError):
        services.exam_request_validate(request=request, by=on_duty, decision="refuse", comment="Trop tard")


@pytest.mark.parametrize(("decision", "status"), [("info", S.INFO_NEEDED), ("refuse", S.REFUSED)])
def test_ask_for_more_or_refuse_needs_a_comment(site_a, merm_a, item, on_duty, decision, status):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    with pytest.raises(ApplicationError):
        services.exam_request_validate(request=request, by=on_duty, decision=decision, comment=" ")
    request = services.exam_request_validate(request=request, by=on_duty, decision=decision, comment="Créatinine ?")
    assert request.status == status


def test_the_merm_completes_and_it_waits_for_validation_again(site_a, merm_a, item, on_duty):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    services.exam_request_validate(request=request, by=on_duty, decision="info", comment="Créatinine ?")
    request = services.exam_request_complete(request=request, by=merm_a, text="DFG 75 mL/min")
    assert request.status == S.REQUESTED
    assert "DFG 75 mL/min" in request.clinical_question


def test_a_radiologist_of_another_ght_cannot_validate(site_a, merm_a, item, on_duty, radiologist_b):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    with pytest.raises(services.NotPermitted):
        services.exam_request_validate(request=request, by=radiologist_b, decision="accept", protocol="x")


def test_late_validation_is_rerouted_once_and_the_site_told(site_a, merm_a, item, on_duty, ght_admin_a):
    from sites.tests.factories import CredentialFactory, RadiologistFactory

    second = RadiologistFactory(user__ght=site_a.ght)
    CredentialFactory(radiologist=second, site=site_a)
    now = timezone.now()
    line = rota.line(sites=[site_a], name="Garde 2")
    rota.shift(
        user=second.user, on=line, start=now - datetime.timedelta(hours=1), end=now + datetime.timedelta(hours=8)
    )
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    first = request.assigned_to
    late = request.deadline_at + datetime.timedelta(seconds=1)
    assert services.exam_requests_escalate(now=late) == [request.pk]
    assert services.exam_requests_escalate(now=late) == []
    request.refresh_from_db()
    assert request.assigned_to not in (None, first)
    assert Notification.objects.filter(user=merm_a, text__contains="non validée").exists()
    assert Notification.objects.filter(user=ght_admin_a, text__contains="non validée").exists()


def test_the_merm_cancels_with_a_reason(site_a, merm_a, item, on_duty):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    with pytest.raises(ApplicationError):
        services.exam_request_cancel(request=request, by=merm_a, reason="")
    request = services.exam_request_cancel(request=request, by=merm_a, reason="Patient transféré")
    assert request.status == S.CANCELLED


@pytest.fixture
def scheduled(site_a, merm_a, item, on_duty):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item, priority="VITAL"))
    return services.exam_request_validate(request=request, by=on_duty, decision="accept", protocol="Sans injection")


def test_a_study_with_the_accession_number_is_matched_and_takes_the_urgency(scheduled, site_a):
    exam = ExamFactory(
        site=site_a, status="RECEIVING", accession_number=scheduled.accession_number, priority="STANDARD"
    )
    assert services.exams_match_requests() == [exam.pk]
    scheduled.refresh_from_db()
    exam.refresh_from_db()
    assert scheduled.exam == exam and scheduled.status == S.DONE
    assert scheduled.match_method == "accession" and scheduled.match_confirmed
    assert exam.priority == "VITAL"
    assert ExamEvent.objects.filter(exam=exam, reason__contains=scheduled.accession_number).exists()
    assert services.exams_match_requests() == []  # idempotent


def test_the_study_uid_of_the_worklist_matches_first(scheduled, site_a):
    exam = ExamFactory(
        site=site_a, status="RECEIVING", study_instance_uid=scheduled.study_instance_uid, accession_number=""
    )
    assert services.exam_match_request(exam=exam) == scheduled
    scheduled.refresh_from_db()
    assert scheduled.match_method == "study_uid"


def test_a_match_on_demographics_alone_is_flagged_for_the_site(scheduled, site_a, merm_a):
    exam = ExamFactory(site=site_a, status="RECEIVING", accession_number="", patient_id=scheduled.patient_id)
    assert services.exam_match_request(exam=exam) is not None
    scheduled.refresh_from_db()
    assert scheduled.match_method == "demographics" and not scheduled.match_confirmed
    assert scheduled.identity_status == "open"  # a person must confirm it before the report leaves
    assert Notification.objects.filter(user=merm_a, text__contains="Vigilance identité").exists()


def test_another_site_study_never_matches(scheduled, site_b):
    exam = ExamFactory(site=site_b, status="RECEIVING", accession_number=scheduled.accession_number)
    assert services.exam_match_request(exam=exam) is None
    assert Exam.objects.get(pk=exam.pk).priority == "STANDARD"


def test_the_requested_subspecialty_reaches_routing(site_a, merm_a, on_duty):
    from sites.models import Subspecialty
    from worklist.selectors import routing_inputs_for_exam

    neuro = Subspecialty.objects.get(code="neuro")
    item = ExamCatalogueItemFactory(ght=site_a.ght, subspecialty=neuro, name="IRM encéphale AVC", modality="MR")
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    request = services.exam_request_validate(request=request, by=on_duty, decision="accept", protocol="AVC")
    exam = ExamFactory(site=site_a, status="RECEIVING", modality="MR", accession_number=request.accession_number)
    services.exam_match_request(exam=exam)
    exam.refresh_from_db()
    assert routing_inputs_for_exam(exam=exam, at=timezone.now()).exam.requested_subspecialty == "neuro"


def test_pages_merm_requests_radiologist_validates_board_shows_it(client, site_a, merm_a, item, on_duty, site_b):
    client.force_login(merm_a)
    form = client.get("/requests/new/")
    assert form.status_code == 200
    data = {
        "site": site_a.pk,
        "priority": "URGENT",
        "catalogue_item": item.pk,
        "patient_family_name": "Dupont",
        "patient_given_name": "Jeanne",
        "patient_birth_date": "1950-03-02",
        "patient_sex": "F",
        "patient_id": "IPP42",
        "requesting_physician": "Dr Urgentiste",
        "clinical_question": "Déficit brutal <b>droit</b>.",
        "pregnancy": "na",
    }
    bad = client.post("/requests/new/", {**data, "ins": "123"})
    assert "15 chiffres" in bad.content.decode()
    assert not ExamRequest.objects.exists()
    answer = client.post("/requests/new/", data)
    assert answer.status_code == 302
    request = ExamRequest.objects.get()
    board = client.get("/board/").content.decode()
    assert f'data-request-id="{request.pk}"' in board and "demandé" in board

    client.force_login(on_duty)
    assert f'data-request-id="{request.pk}"' in client.get("/requests/").content.decode()
    detail = client.get(f"/requests/{request.pk}/").content.decode()
    assert "&lt;b&gt;droit&lt;/b&gt;" in detail  # escaped
    client.post(f"/requests/{request.pk}/validate/", {"decision": "accept", "protocol": "Sans injection"})
    request.refresh_from_db()
    assert request.status == S.SCHEDULED

    client.force_login(merm_a)
    board = client.get("/board/").content.decode()
    assert "validé" in board and request.accession_number in board


def test_a_merm_of_another_site_sees_nothing(client, site_a, merm_a, merm_b, item, on_duty):
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    client.force_login(merm_b)
    assert f'data-request-id="{request.pk}"' not in client.get("/board/").content.decode()
    assert client.get(f"/requests/{request.pk}/").status_code == 404
    assert client.post(f"/requests/{request.pk}/cancel/", {"reason": "x"}).status_code == 404
    assert AuditEvent.objects.filter(action="request.denied", user=merm_b).exists()
    request.refresh_from_db()
    assert request.status == S.REQUESTED
    # Nor can they request for site A.
    form = client.get("/requests/new/").content.decode()
    assert site_a.name not in form


def test_the_default_catalogue_is_installed_once(ght_a):
    from worklist.defaults import DEFAULT_CATALOGUE

    assert services.exam_catalogue_install_defaults(ght=ght_a) == len(DEFAULT_CATALOGUE)
    assert services.exam_catalogue_install_defaults(ght=ght_a) == 0
    item = ght_a.exam_catalogue.get(code="IRMAVC")
    assert item.subspecialty.code == "neuro" and item.modality == "MR"


def test_an_identity_mismatch_is_flagged_holds_the_report_and_the_merm_resolves_it(
    client, scheduled, site_a, merm_a, radiologist_a, settings
):
    from reports.delivery import HELD, report_delivery_send
    from reports.models import ReportDelivery
    from reports.tests.signed import signed_report
    from sites.tests.factories import PacsNodeFactory

    exam = ExamFactory(
        site=site_a,
        status="RECEIVING",
        accession_number=scheduled.accession_number,
        patient_name="DUPOND^Jeanne",
        patient_birth_date=scheduled.patient_birth_date,
        patient_id=scheduled.patient_id,
    )
    services.exam_match_request(exam=exam)
    scheduled.refresh_from_db()
    assert scheduled.identity_status == "open"
    assert scheduled.identity_mismatches == [{"field": "family_name", "request": "Dupont", "dicom": "DUPOND"}]
    assert Notification.objects.filter(user=merm_a, text__contains="Vigilance identité").exists()
    client.force_login(merm_a)
    assert 'data-testid="identity-alert"' in client.get("/board/").content.decode()

    # The report is signed, but nothing leaves for the site while the mismatch is open.
    PacsNodeFactory(site=site_a, host="127.0.0.1", port=9)
    report = signed_report(exam=exam, signer=radiologist_a)
    delivery = ReportDelivery.objects.create(report=report, sop_instance_uid="1.2.3.4", next_attempt_at=timezone.now())
    assert report_delivery_send(delivery_id=delivery.pk) == HELD
    delivery.refresh_from_db()
    assert delivery.attempts == 0 and "identité" in delivery.last_error

    with pytest.raises(ApplicationError):
        services.exam_request_identity_resolve(request=scheduled, by=merm_a, action="confirm", note="")
    page = client.post(
        f"/requests/{scheduled.pk}/identity/", {"action": "correct", "note": "Faute de frappe à l'accueil"}, follow=True
    )
    assert "résolue" in page.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.identity_status == "corrected"
    assert scheduled.patient_family_name == "DUPOND"
    assert AuditEvent.objects.filter(action="request.identity_correct", user=merm_a).exists()
    assert 'data-testid="identity-alert"' not in client.get("/board/").content.decode()
    assert not ExamRequest.objects.filter(identity_status="open").exists()


def test_the_same_patient_written_differently_is_not_a_mismatch(scheduled, site_a):
    exam = ExamFactory(
        site=site_a,
        status="RECEIVING",
        accession_number=scheduled.accession_number,
        patient_name="DUPONT^JEANNE",
        patient_birth_date=scheduled.patient_birth_date,
        patient_id=scheduled.patient_id,
        patient_sex="F",
    )
    services.exam_match_request(exam=exam)
    scheduled.refresh_from_db()
    assert scheduled.identity_status == ""


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_referral_is_attached_stored_under_a_random_name_and_served_to_the_request_readers_only(
    client, site_a, merm_a, merm_b, item, on_duty, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    client.force_login(merm_a)
    upload = SimpleUploadedFile("../../DUPONT Jeanne bon.pdf", PDF, content_type="application/pdf")
    client.post(f"/requests/{request.pk}/documents/add/", {"file": upload})
    document = request.documents.get()
    assert document.file.name.startswith("requests/") and "DUPONT" not in document.file.name
    assert document.content_type == "application/pdf"

    client.force_login(on_duty)
    served = client.get(f"/requests/{request.pk}/documents/{document.pk}/")
    assert served.status_code == 200 and b"".join(served.streaming_content) == PDF
    assert served["X-Content-Type-Options"] == "nosniff"
    assert AuditEvent.objects.filter(action="request.document_view", user=on_duty).exists()
    client.force_login(merm_b)
    assert client.get(f"/requests/{request.pk}/documents/{document.pk}/").status_code == 404


def test_only_pdf_jpeg_png_are_accepted_whatever_the_name(client, site_a, merm_a, item, on_duty, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    request = services.exam_request_create(by=merm_a, site=site_a, values=_values(item))
    client.force_login(merm_a)
    fake = SimpleUploadedFile("bon.pdf", b"<html><script>alert(1)</script>", content_type="application/pdf")
    page = client.post(f"/requests/{request.pk}/documents/add/", {"file": fake}, follow=True)
    assert "PDF, JPEG et PNG" in page.content.decode()
    assert not request.documents.exists()
