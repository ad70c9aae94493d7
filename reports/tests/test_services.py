"""Report services on PostgreSQL: draft, autosave, sign, freeze, addenda."""

import datetime

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from reports import services
from reports.models import Addendum, Report
from reports.tests.factories import ReportTemplateFactory
from worklist.models import ExamEvent
from worklist.services import NotPermitted, exam_claim
from worklist.tests.factories import ExamFactory

COMPLETE = {
    "indication": "Céphalées brutales.",
    "technique": "Scanner cérébral sans injection.",
    "dose": "PDL total : 800 mGy·cm",
    "findings": "Pas d'hémorragie intracrânienne.",
    "conclusion": "Pas d'anomalie aiguë.",
}


@pytest.fixture
def reading(site_a, radiologist_a):
    exam = ExamFactory(
        site=site_a, status="ASSIGNED", assigned_to=radiologist_a, patient_birth_date=datetime.date(1950, 3, 2)
    )
    return exam_claim(exam=exam, by=radiologist_a)


@pytest.fixture
def draft(reading, radiologist_a):
    return services.report_get_or_create_draft(exam=reading, by=radiologist_a)


def _complete(report, user):
    return services.report_save_draft(report=report, by=user, revision=report.revision, values=COMPLETE)


def test_the_draft_is_created_for_the_holder_with_the_technique_filled_in(draft, reading, radiologist_a):
    assert draft.author == radiologist_a
    assert reading.site.name in draft.technique
    assert AuditEvent.objects.filter(action="report.create", object_id=str(draft.pk)).exists()
    assert services.report_get_or_create_draft(exam=reading, by=radiologist_a).pk == draft.pk


def test_only_the_holder_starts_a_report(site_a, radiologist_a, merm_a):
    exam = ExamFactory(site=site_a, status="READY")
    with pytest.raises(NotPermitted):
        services.report_get_or_create_draft(exam=exam, by=radiologist_a)
    assert not Report.objects.exists()


def test_autosave_bumps_the_revision_and_refuses_a_stale_tab(draft, radiologist_a):
    saved = services.report_save_draft(report=draft, by=radiologist_a, revision=0, values={"findings": "v1"})
    assert saved.revision == 1
    with pytest.raises(services.StaleDraft):
        services.report_save_draft(report=draft, by=radiologist_a, revision=0, values={"findings": "old tab"})
    draft.refresh_from_db()
    assert draft.findings == "v1"


def test_a_template_fills_only_empty_sections(draft, radiologist_a, site_a):
    services.report_save_draft(report=draft, by=radiologist_a, revision=0, values={"conclusion": "Mine."})
    draft.refresh_from_db()
    template = ReportTemplateFactory(ght=site_a.ght)
    report = services.report_apply_template(report=draft, template=template, by=radiologist_a, revision=1)
    assert report.findings == template.findings
    assert report.conclusion == "Mine."
    assert report.template == template


def test_signing_refuses_missing_parts_and_says_which(draft, radiologist_a):
    with pytest.raises(services.SignatureRefused) as caught:
        services.report_sign(report=draft, by=radiologist_a, password="password")
    assert "conclusion" in caught.value.extra["missing"]
    draft.refresh_from_db()
    assert not draft.is_signed


def test_signing_refuses_a_wrong_password(draft, radiologist_a):
    report = _complete(draft, radiologist_a)
    with pytest.raises(services.SignatureRefused):
        services.report_sign(report=report, by=radiologist_a, password="wrong")
    report.refresh_from_db()
    assert not report.is_signed


def test_only_the_holder_signs(draft, radiologist_a, site_a):
    from sites.tests.factories import CredentialFactory, RadiologistFactory

    colleague = RadiologistFactory(user__ght=site_a.ght)
    CredentialFactory(radiologist=colleague, site=site_a)
    report = _complete(draft, radiologist_a)
    with pytest.raises(NotPermitted):
        services.report_sign(report=report, by=colleague.user, password="password")


def test_signing_freezes_records_the_signer_and_moves_the_exam(draft, radiologist_a, reading):
    report = _complete(draft, radiologist_a)
    signed = services.report_sign(report=report, by=radiologist_a, password="password", revision=report.revision)
    assert signed.signed_by == radiologist_a
    assert signed.signer_rpps == radiologist_a.radiologist.rpps
    reading.refresh_from_db()
    assert reading.status == "REPORTED"
    assert ExamEvent.objects.filter(exam=reading, to_status="REPORTED", actor=radiologist_a).exists()
    with pytest.raises(services.ReportFrozen):
        services.report_save_draft(report=signed, by=radiologist_a, revision=signed.revision, values={"findings": "x"})


def test_signing_a_text_changed_since_it_was_shown_is_refused(draft, radiologist_a):
    report = _complete(draft, radiologist_a)
    with pytest.raises(services.StaleDraft):
        services.report_sign(report=report, by=radiologist_a, password="password", revision=report.revision - 1)


@pytest.mark.parametrize("write", ["update", "queryset_update", "delete"])
def test_the_database_refuses_any_change_to_a_signed_report(draft, radiologist_a, write):
    report = services.report_sign(report=_complete(draft, radiologist_a), by=radiologist_a, password="password")
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        if write == "update":
            report.conclusion = "Falsified."
            report.save()
        elif write == "queryset_update":
            Report.objects.filter(pk=report.pk).update(conclusion="Falsified.")
        else:
            Report.objects.filter(pk=report.pk).delete()
    report.refresh_from_db()
    assert report.conclusion == COMPLETE["conclusion"]


def test_addenda_are_signed_kept_and_frozen(draft, radiologist_a):
    report = services.report_sign(report=_complete(draft, radiologist_a), by=radiologist_a, password="password")
    first = services.addendum_sign(report=report, by=radiologist_a, password="password", text="Complément 1.")
    services.addendum_sign(report=report, by=radiologist_a, password="password", text="Complément 2.")
    assert [a.text for a in report.addenda.all()] == ["Complément 1.", "Complément 2."]
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        Addendum.objects.filter(pk=first.pk).update(text="Changed.")
    with pytest.raises(services.SignatureRefused):
        services.addendum_sign(report=report, by=radiologist_a, password="bad", text="x")


def test_no_addendum_before_signing(draft, radiologist_a):
    with pytest.raises(services.ApplicationError):
        services.addendum_sign(report=draft, by=radiologist_a, password="password", text="x")


def test_autosave_is_a_single_update(draft, radiologist_a):
    with CaptureQueriesContext(connection) as queries:
        services.report_save_draft(report=draft, by=radiologist_a, revision=0, values={"findings": "x"})
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1


def test_default_templates_are_installed_once_per_ght(ght_a):
    from reports.defaults import DEFAULT_TEMPLATES

    assert services.report_templates_install_defaults(ght=ght_a) == len(DEFAULT_TEMPLATES)
    assert services.report_templates_install_defaults(ght=ght_a) == 0
    names = set(ght_a.report_templates.values_list("name", flat=True))
    assert "Angioscanner thoracique – EP" in names


def test_the_draft_starts_with_the_requests_clinical_question(site_a, radiologist_a, merm_a):
    from worklist.tests.factories import ExamRequestFactory

    exam = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    ExamRequestFactory(
        site=site_a,
        created_by=merm_a,
        exam=exam,
        status="done",
        clinical_question="Céphalées en coup de tonnerre.",
        indication="Recherche d'hémorragie méningée.",
    )
    exam = exam_claim(exam=exam, by=radiologist_a)
    draft = services.report_get_or_create_draft(exam=exam, by=radiologist_a)
    assert draft.indication == "Céphalées en coup de tonnerre.\nRecherche d'hémorragie méningée."


def test_the_dose_is_read_from_a_sample_of_a_long_series(settings, tmp_path, site_a):
    from pydicom.uid import generate_uid

    from dicom_gateway import statuses
    from dicom_gateway.services import instance_receive
    from dicom_gateway.tests.dicom_factories import encode, make_ct_image
    from sites.tests.factories import ModalityFactory
    from worklist.models import Exam

    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a)
    study, series = generate_uid(), generate_uid()
    # A modulated acquisition: CTDIvol highest at the last image.
    for number in range(1, 41):
        ds = make_ct_image(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number)
        ds.CTDIvol = 10.0 + number / 10
        assert instance_receive(data=encode(ds), modality=modality).status == statuses.SUCCESS
    exam = Exam.objects.get(study_instance_uid=study)
    summary = services.exam_dose(exam=exam)
    assert summary.source == "images"
    assert summary.ctdivol_max_mgy == 14.0
    assert "CTDIvol maximal : 14,0 mGy" in services.dose_text(summary)


def test_the_editor_preview_reads_the_dose_once_per_state_of_the_images(settings, tmp_path, site_a, radiologist_a):
    from pydicom.uid import generate_uid

    from dicom_gateway import statuses
    from dicom_gateway.services import instance_receive
    from dicom_gateway.tests.dicom_factories import encode, make_ct_image
    from sites.tests.factories import ModalityFactory
    from worklist.models import Exam, Instance

    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a)
    study, series = generate_uid(), generate_uid()

    def receive(number: int, ctdivol: float) -> Exam:
        ds = make_ct_image(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number)
        ds.CTDIvol = ctdivol
        assert instance_receive(data=encode(ds), modality=modality).status == statuses.SUCCESS
        return Exam.objects.get(study_instance_uid=study)

    def preview(exam: Exam) -> tuple[str, int]:
        """The preview's dose, and how many queries read the exam's instances."""
        with CaptureQueriesContext(connection) as queries:
            dose = services.report_draft_preview(exam=exam, by=radiologist_a).dose
        table = Instance._meta.db_table
        return dose, sum(table in q["sql"] for q in queries.captured_queries)

    receive(1, 11.0)
    exam = receive(2, 12.0)
    first, reads = preview(exam)
    assert "CTDIvol maximal : 12,0 mGy" in first
    assert reads >= 1
    assert preview(exam) == (first, 0)  # the same images: nothing read again

    exam = receive(3, 13.5)  # a late image changes the dose: read again
    third, reads = preview(exam)
    assert "CTDIvol maximal : 13,5 mGy" in third
    assert reads >= 1


def test_the_editor_preview_still_shows_the_dose_when_the_cache_is_down(settings, tmp_path, site_a, radiologist_a):
    from dicom_gateway.services import instance_receive
    from dicom_gateway.tests.dicom_factories import encode, make_ct_image
    from sites.tests.factories import ModalityFactory
    from worklist.models import Exam

    settings.STORAGE_ROOT = tmp_path / "store"
    ds = make_ct_image()
    ds.CTDIvol = 12.0
    assert instance_receive(data=encode(ds), modality=ModalityFactory(site=site_a)).status == 0
    exam = Exam.objects.get(study_instance_uid=ds.StudyInstanceUID)
    # A real Redis client against a port where nothing listens: connection refused.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    preview = services.report_draft_preview(exam=exam, by=radiologist_a)
    assert "CTDIvol maximal : 12,0 mGy" in preview.dose


def test_a_cached_dose_never_follows_a_row_id_to_another_study(settings, tmp_path, site_a, radiologist_a):
    """After a database restore, a new exam may get an old one's id while the cache kept its keys."""
    from pydicom.uid import generate_uid

    from dicom_gateway.services import instance_receive
    from dicom_gateway.tests.dicom_factories import encode, make_ct_image
    from sites.tests.factories import ModalityFactory
    from worklist.models import Exam

    settings.STORAGE_ROOT = tmp_path / "store"
    modality = ModalityFactory(site=site_a)

    def receive(study: str, ctdivol: float) -> None:
        ds = make_ct_image(StudyInstanceUID=study, SeriesInstanceUID=generate_uid(), InstanceNumber=1)
        ds.CTDIvol = ctdivol
        instance_receive(data=encode(ds), modality=modality)

    first_study = generate_uid()
    receive(first_study, 12.0)
    first = Exam.objects.get(study_instance_uid=first_study)
    assert "12,0 mGy" in services.report_draft_preview(exam=first, by=radiologist_a).dose
    row_id, counters = first.pk, {"number_of_instances": 1, "received_bytes": first.received_bytes}
    first.delete()

    second_study = generate_uid()
    ExamFactory(pk=row_id, site=site_a, study_instance_uid=second_study, status="RECEIVING")
    receive(second_study, 20.0)
    Exam.objects.filter(pk=row_id).update(**counters)  # the same id and counters as the first exam
    second = Exam.objects.get(pk=row_id)
    assert "20,0 mGy" in services.report_draft_preview(exam=second, by=radiologist_a).dose


def test_a_draft_whose_creation_cannot_be_audited_is_not_created(monkeypatch, site_a, radiologist_a):
    """Creating the draft and auditing it are one transaction: no report row without its audit event."""
    from reports.services import reports as report_services

    exam = exam_claim(exam=ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a), by=radiologist_a)

    def audit_down(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(report_services, "audit_log", audit_down)
    with pytest.raises(RuntimeError):
        services.report_get_or_create_draft(exam=exam, by=radiologist_a)
    assert not Report.objects.filter(exam=exam).exists()
