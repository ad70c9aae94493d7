"""Critical findings: raised at signing, acknowledged by a named person at the site, escalated until then."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Notification
from reports import services
from reports.models import Addendum, CriticalAlert
from worklist.models import ExamEvent
from worklist.services import NotPermitted, exam_claim
from worklist.tests.factories import ExamFactory

SECTIONS = {
    "indication": "Céphalées brutales.",
    "technique": "Scanner cérébral sans injection.",
    "dose": "PDL total : 800 mGy·cm",
    "findings": "Hématome sous-dural aigu droit de 12 mm.",
    "conclusion": "Hématome sous-dural aigu avec effet de masse.",
    "critical_finding": True,
}
HOOK_CALLS: list[int] = []


def record_hook(*, alert_id: int) -> None:
    HOOK_CALLS.append(alert_id)


@pytest.fixture
def signed(site_a, radiologist_a, merm_a, settings, django_capture_on_commit_callbacks):
    settings.CRITICAL_FINDING_HOOK = "reports.tests.test_critical.record_hook"
    merm_a.email = "merm@example.org"
    merm_a.save()
    exam = ExamFactory(
        site=site_a, status="ASSIGNED", assigned_to=radiologist_a, patient_birth_date=datetime.date(1950, 3, 2)
    )
    exam_claim(exam=exam, by=radiologist_a)
    report = services.report_get_or_create_draft(exam=exam, by=radiologist_a)
    report = services.report_save_draft(report=report, by=radiologist_a, revision=0, values=SECTIONS)
    HOOK_CALLS.clear()
    with django_capture_on_commit_callbacks(execute=True):
        return services.report_sign(report=report, by=radiologist_a, password="password")


def test_signing_a_critical_report_alerts_the_site(signed, merm_a):
    alert = CriticalAlert.objects.get(report=signed)
    assert alert.acknowledged_at is None
    assert Notification.objects.filter(user=merm_a, text__contains="Résultat critique").exists()
    assert [m.to for m in mail.outbox] == [["merm@example.org"]]
    assert "DUPONT" not in mail.outbox[0].body  # no patient data by e-mail
    assert [alert.pk] == HOOK_CALLS
    assert ExamEvent.objects.filter(exam=signed.exam, reason__contains="signalé au site").exists()


def test_the_board_shows_the_banner_and_the_merm_acknowledges(client, signed, merm_a):
    client.force_login(merm_a)
    board = client.get(reverse("site_board"))
    assert 'data-testid="critical-alert"' in board.content.decode()
    alert = CriticalAlert.objects.get(report=signed)
    page = client.post(
        reverse("critical_alert_acknowledge", args=[alert.pk]),
        {"informed_person": "Dr MARTIN, urgentiste"},
        follow=True,
    )
    assert 'data-testid="critical-alert"' not in page.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == merm_a
    assert alert.informed_person == "Dr MARTIN, urgentiste"
    addendum = Addendum.objects.get(report=signed, kind=Addendum.Kind.CRITICAL_ACK)
    local = timezone.localtime(alert.acknowledged_at, datetime.timezone(datetime.timedelta(0)))
    assert addendum.text.startswith("Résultat communiqué à Dr MARTIN, urgentiste le ")
    assert local.strftime("%Y") in addendum.text
    assert AuditEvent.objects.filter(action="critical.acknowledge", user=merm_a).exists()


def test_acknowledged_once_only(signed, merm_a):
    alert = CriticalAlert.objects.get(report=signed)
    services.critical_alert_acknowledge(alert=alert, by=merm_a, informed_person="Dr MARTIN")
    with pytest.raises(services.ConflictError):
        services.critical_alert_acknowledge(alert=alert, by=merm_a, informed_person="Dr AUTRE")
    assert Addendum.objects.filter(report=signed, kind=Addendum.Kind.CRITICAL_ACK).count() == 1


def test_a_name_is_required(signed, merm_a):
    alert = CriticalAlert.objects.get(report=signed)
    with pytest.raises(services.ApplicationError):
        services.critical_alert_acknowledge(alert=alert, by=merm_a, informed_person="  ")
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_only_a_merm_of_the_site_acknowledges(signed, radiologist_a, merm_b, client):
    alert = CriticalAlert.objects.get(report=signed)
    with pytest.raises(NotPermitted):
        services.critical_alert_acknowledge(alert=alert, by=radiologist_a, informed_person="Moi")
    client.force_login(merm_b)
    assert 'data-testid="critical-alert"' not in client.get(reverse("site_board")).content.decode()
    answer = client.post(reverse("critical_alert_acknowledge", args=[alert.pk]), {"informed_person": "X"})
    assert answer.status_code == 404
    assert AuditEvent.objects.filter(action="critical.denied", user=merm_b).exists()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_unacknowledged_alerts_escalate_to_the_signer_each_period(signed, radiologist_a, settings):
    settings.CRITICAL_FINDING_ACK_MINUTES = 15
    alert = CriticalAlert.objects.get(report=signed)
    start = alert.created_at
    assert services.critical_alerts_escalate(now=start + datetime.timedelta(minutes=14)) == []
    assert services.critical_alerts_escalate(now=start + datetime.timedelta(minutes=16)) == [alert.pk]
    # Not again within the same period.
    assert services.critical_alerts_escalate(now=start + datetime.timedelta(minutes=20)) == []
    assert services.critical_alerts_escalate(now=start + datetime.timedelta(minutes=32)) == [alert.pk]
    alert.refresh_from_db()
    assert alert.escalations == 2
    reminder = Notification.objects.filter(user=radiologist_a, text__contains="appelez").first()
    assert signed.exam.site.duty_phone in reminder.text or "non renseigné" in reminder.text
    assert ExamEvent.objects.filter(exam=signed.exam, kind="escalated").count() == 2


def test_an_acknowledged_alert_no_longer_escalates(signed, merm_a):
    alert = CriticalAlert.objects.get(report=signed)
    services.critical_alert_acknowledge(alert=alert, by=merm_a, informed_person="Dr MARTIN")
    assert services.critical_alerts_escalate(now=timezone.now() + datetime.timedelta(hours=2)) == []


def test_a_report_without_critical_flag_raises_nothing(site_a, radiologist_a):
    exam = ExamFactory(
        site=site_a, status="ASSIGNED", assigned_to=radiologist_a, patient_birth_date=datetime.date(1950, 3, 2)
    )
    exam_claim(exam=exam, by=radiologist_a)
    report = services.report_get_or_create_draft(exam=exam, by=radiologist_a)
    values = {**SECTIONS, "critical_finding": False}
    report = services.report_save_draft(report=report, by=radiologist_a, revision=0, values=values)
    services.report_sign(report=report, by=radiologist_a, password="password")
    assert not CriticalAlert.objects.exists()
