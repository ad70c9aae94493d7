"""Routing on the database: exam_route, exam_ready, the urgent, escalation and end-of-shift sweeps."""

import datetime

import pytest
from django.core import mail

from core.models import Notification
from sites.models import Credential
from sites.tests.factories import CredentialFactory, RadiologistFactory, RegionFactory, SiteFactory
from worklist.models import EscalationStep, Exam, ExamEvent, SlaPolicy
from worklist.routing import Level
from worklist.services import (
    exam_ready,
    exam_route,
    exams_escalate,
    exams_reroute_end_of_shift,
    exams_route_urgent_receiving,
)
from worklist.tests import rota
from worklist.tests.factories import ExamFactory

UTC = datetime.UTC
# A January night in Brittany: 22:30 → 07:00 UTC is 23:30 → 08:00 in Paris.
NIGHT_START = datetime.datetime(2026, 1, 14, 22, 30, tzinfo=UTC)
NIGHT_END = datetime.datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
AT = datetime.datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
DAY_END = datetime.datetime(2026, 1, 15, 17, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def _valid_since_2025():
    """Factories date credentials from today; these tests route in January 2026."""
    Credential.objects.update(valid_from=datetime.date(2025, 1, 1))


@pytest.fixture
def night(site_a, radiologist_a):
    """radiologist_a on the night line of site A's GHT (covering site A and another site)."""
    other = SiteFactory(ght=site_a.ght, name="CH Autre")
    night_line = rota.line(sites=[site_a, other])
    rota.shift(user=radiologist_a, on=night_line, start=NIGHT_START, end=NIGHT_END)
    _valid_since_2025()
    return night_line


def _radiologist(site, username, ght=None):
    rad = RadiologistFactory(user__ght=ght or site.ght, user__username=username)
    CredentialFactory(radiologist=rad, site=site, valid_from=datetime.date(2025, 1, 1))
    return rad.user


def _ready(site, **kwargs):
    defaults = {"status": "READY", "ready_at": AT, "received_at": AT, "routed_at": None}
    return ExamFactory(site=site, **{**defaults, **kwargs})


def test_it_assigns_a_ready_exam_to_the_reader_on_duty_with_the_reason_and_the_deadline(site_a, radiologist_a, night):
    exam = _ready(site_a)
    assert exam_ready(exam_id=exam.pk, at=AT) is True
    exam.refresh_from_db()
    assert (exam.status, exam.assigned_to, exam.in_pool) == ("ASSIGNED", radiologist_a, False)
    assert str(radiologist_a) in exam.routing_reason and "Garde de nuit" in exam.routing_reason
    assert exam.routing_level == Level.GHT
    assert exam.routed_at == AT
    assert exam.deadline_at == AT + datetime.timedelta(minutes=1440)  # STANDARD default
    event = ExamEvent.objects.get(exam=exam)
    assert (event.kind, event.from_status, event.to_status, event.reason) == (
        "routed",
        "READY",
        "ASSIGNED",
        exam.routing_reason,
    )


def test_exam_ready_routes_only_once(site_a, radiologist_a, night):
    exam = _ready(site_a)
    assert exam_ready(exam_id=exam.pk, at=AT) is True
    assert exam_ready(exam_id=exam.pk, at=AT) is False
    assert ExamEvent.objects.filter(exam=exam).count() == 1


def test_a_ght_sla_policy_overrides_the_default_deadline(site_a, radiologist_a, night):
    SlaPolicy.objects.create(ght=site_a.ght, priority="URGENT", deadline_minutes=45)
    exam = _ready(site_a, priority="URGENT")
    exam_route(exam_id=exam.pk, at=AT)
    exam.refresh_from_db()
    assert exam.deadline_at == AT + datetime.timedelta(minutes=45)


def test_a_matching_rule_with_its_own_deadline_overrides_the_priority(site_a, radiologist_a, night):
    from sites.models import Subspecialty
    from worklist.models import RoutingRule

    SlaPolicy.objects.create(ght=site_a.ght, priority="STANDARD", deadline_minutes=600)
    RoutingRule.objects.create(
        ght=site_a.ght,
        name="AVC",
        subspecialty=Subspecialty.objects.get(code="neuro"),
        body_part_pattern="HEAD",
        deadline_minutes=20,
    )
    head, chest = _ready(site_a, body_part_examined="HEAD"), _ready(site_a, body_part_examined="CHEST")
    exam_route(exam_id=head.pk, at=AT)
    exam_route(exam_id=chest.pk, at=AT)
    head.refresh_from_db()
    chest.refresh_from_db()
    assert head.deadline_at == AT + datetime.timedelta(minutes=20)
    assert chest.deadline_at == AT + datetime.timedelta(minutes=600)


def test_nobody_on_duty_puts_the_exam_in_the_pool_and_alerts_the_ght_admins(
    site_a, radiologist_a, night, ght_admin_a, ght_admin_b, django_capture_on_commit_callbacks
):
    exam = _ready(site_a, ready_at=DAY_END, received_at=DAY_END)
    with django_capture_on_commit_callbacks(execute=True):
        assert exam_ready(exam_id=exam.pk, at=DAY_END) is True
    exam.refresh_from_db()
    assert (exam.status, exam.assigned_to, exam.in_pool) == ("READY", None, True)
    assert "pool" in exam.routing_reason
    assert exam.routed_at == DAY_END
    event = ExamEvent.objects.get(exam=exam)
    assert (event.kind, event.from_status, event.to_status) == ("pooled", "READY", "READY")
    notification = Notification.objects.get()
    assert notification.user == ght_admin_a and notification.link == f"/exams/{exam.pk}/"
    assert exam.patient_name not in notification.text  # it also goes out by e-mail
    assert [m.to for m in mail.outbox] == [[ght_admin_a.email]]


def test_a_draft_rota_routes_nobody(site_a, radiologist_a):
    night_line = rota.line(sites=[site_a])
    rota.shift(user=radiologist_a, on=night_line, start=NIGHT_START, end=NIGHT_END, published=False)
    _valid_since_2025()
    exam = _ready(site_a)
    exam_route(exam_id=exam.pk, at=AT)
    exam.refresh_from_db()
    assert exam.in_pool and exam.assigned_to is None


def test_the_sites_own_line_comes_before_the_ghts_then_the_regions(site_a, radiologist_a):
    region = RegionFactory()
    site_a.ght.region = region
    site_a.ght.save()
    own, ght_reader, regional = (
        _radiologist(site_a, "own"),
        _radiologist(site_a, "ght"),
        _radiologist(site_a, "regional"),
    )
    other = SiteFactory(ght=site_a.ght)
    rota.shift(
        user=regional, on=rota.line(sites=[site_a], region=region), start=NIGHT_START, end=NIGHT_END, ght=site_a.ght
    )
    rota.shift(user=ght_reader, on=rota.line(sites=[site_a, other]), start=NIGHT_START, end=NIGHT_END)
    own_shift = rota.shift(user=own, on=rota.line(sites=[site_a]), start=NIGHT_START, end=NIGHT_END)

    first = _ready(site_a)
    exam_route(exam_id=first.pk, at=AT)
    first.refresh_from_db()
    assert (first.assigned_to, first.routing_level) == (own, Level.SITE)

    own_shift.delete()
    second = _ready(site_a)
    exam_route(exam_id=second.pk, at=AT)
    second.refresh_from_db()
    assert (second.assigned_to, second.routing_level) == (ght_reader, Level.GHT)

    third = _ready(site_a)
    exam_route(exam_id=third.pk, at=AT, min_level=Level.REGION)
    third.refresh_from_db()
    assert (third.assigned_to, third.routing_level) == (regional, Level.REGION)


def test_the_least_loaded_reader_gets_the_exam(site_a, radiologist_a, night):
    second = _radiologist(site_a, "second")
    rota.shift(user=second, on=night, start=NIGHT_START, end=NIGHT_END)
    ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a, modality="MR")
    exam = _ready(site_a)
    exam_route(exam_id=exam.pk, at=AT)
    exam.refresh_from_db()
    assert exam.assigned_to == second


def test_an_urgent_exam_is_routed_at_its_first_instance(site_a, radiologist_a, night):
    urgent = ExamFactory(site=site_a, status="RECEIVING", priority="URGENT", received_at=AT, ready_at=None)
    standard = ExamFactory(site=site_a, status="RECEIVING", priority="STANDARD", received_at=AT)
    assert exams_route_urgent_receiving(now=AT) == [urgent.pk]
    assert exams_route_urgent_receiving(now=AT) == []
    urgent.refresh_from_db()
    standard.refresh_from_db()
    assert (urgent.status, urgent.assigned_to) == ("ASSIGNED", radiologist_a)
    assert urgent.deadline_at == AT + datetime.timedelta(minutes=60)
    assert Notification.objects.filter(user=radiologist_a).exists()
    assert (standard.status, standard.routed_at) == ("RECEIVING", None)


def test_an_urgent_exam_with_nobody_on_duty_waits_in_the_pool_and_is_not_routed_again(site_a, ght_admin_a):
    urgent = ExamFactory(site=site_a, status="RECEIVING", priority="VITAL", received_at=AT)
    assert exams_route_urgent_receiving(now=AT) == [urgent.pk]
    urgent.refresh_from_db()
    assert (urgent.status, urgent.in_pool) == ("RECEIVING", True)
    # Once complete, exam_ready finds it already routed.
    Exam.objects.filter(pk=urgent.pk).update(status="READY")
    assert exam_ready(exam_id=urgent.pk, at=AT) is False


# --- escalation ---------------------------------------------------------------


@pytest.fixture
def assigned(site_a, radiologist_a, night):
    exam = _ready(site_a, priority="URGENT")  # 60 min: steps at 30, 45 and 60 min
    exam_route(exam_id=exam.pk, at=AT)
    exam.refresh_from_db()
    assert exam.assigned_to == radiologist_a
    return exam


def _minutes(n):
    return AT + datetime.timedelta(minutes=n)


def test_an_unclaimed_exam_is_escalated_step_by_step(site_a, radiologist_a, night, assigned, ght_admin_a):
    second = _radiologist(site_a, "second")
    rota.shift(user=second, on=night, start=NIGHT_START, end=NIGHT_END)
    # (the second reader came on duty after the routing: it chose radiologist_a)

    assert exams_escalate(now=_minutes(29)) == []
    assert exams_escalate(now=_minutes(30)) == [assigned.pk]
    assigned.refresh_from_db()
    assert (assigned.escalation_step, assigned.assigned_to) == (1, radiologist_a)
    assert Notification.objects.filter(user=radiologist_a, link=f"/exams/{assigned.pk}/").exists()
    assert exams_escalate(now=_minutes(31)) == []  # step 2 is not due yet

    assert exams_escalate(now=_minutes(45)) == [assigned.pk]
    assigned.refresh_from_db()
    assert (assigned.escalation_step, assigned.assigned_to, assigned.status) == (2, second, "ASSIGNED")

    assert exams_escalate(now=_minutes(60)) == [assigned.pk]
    assigned.refresh_from_db()
    assert (assigned.escalation_step, assigned.assigned_to, assigned.status, assigned.in_pool) == (
        3,
        None,
        "READY",
        True,
    )
    assert Notification.objects.filter(user=ght_admin_a).exists()
    assert exams_escalate(now=_minutes(120)) == []
    kinds = list(ExamEvent.objects.filter(exam=assigned).values_list("kind", flat=True))
    assert kinds == ["routed", "escalated", "escalated", "escalated"]


def test_a_claimed_exam_is_not_escalated(assigned):
    Exam.objects.filter(pk=assigned.pk).update(status="IN_READING")
    assert exams_escalate(now=_minutes(59)) == []


def test_a_step_2_with_nobody_else_on_duty_pools_the_exam(assigned, ght_admin_a):
    exams_escalate(now=_minutes(30))
    exams_escalate(now=_minutes(45))
    assigned.refresh_from_db()
    assert (assigned.status, assigned.in_pool, assigned.escalation_step) == ("READY", True, 2)
    assert Notification.objects.filter(user=ght_admin_a).exists()


def test_the_chain_moves_an_unclaimed_exam_to_the_region_after_its_delay(site_a, radiologist_a, night, assigned):
    region = RegionFactory()
    site_a.ght.region = region
    site_a.ght.save()
    regional = _radiologist(site_a, "regional")
    rota.shift(
        user=regional, on=rota.line(sites=[site_a], region=region), start=NIGHT_START, end=NIGHT_END, ght=site_a.ght
    )
    EscalationStep.objects.create(ght=site_a.ght, order=1, level=Level.SITE)
    EscalationStep.objects.create(ght=site_a.ght, order=2, level=Level.GHT)
    EscalationStep.objects.create(ght=site_a.ght, order=3, level=Level.REGION, delay_minutes=20)

    assert exams_escalate(now=_minutes(19)) == []
    assert exams_escalate(now=_minutes(20)) == [assigned.pk]
    assigned.refresh_from_db()
    assert (assigned.assigned_to, assigned.routing_level) == (regional, Level.REGION)
    event = ExamEvent.objects.filter(exam=assigned).last()
    assert event.kind == "escalated" and "plateforme régionale" in event.reason


def test_the_external_provider_step_is_recorded_with_its_contact(site_a, ght_admin_a):
    EscalationStep.objects.create(ght=site_a.ght, order=1, level=Level.SITE)
    EscalationStep.objects.create(
        ght=site_a.ght,
        order=2,
        level=Level.EXTERNAL,
        external_ae_title="TELEIMG",
        external_host="pacs.example.org",
        external_port=104,
        contact="Régulation 01 02 03 04 05",
    )
    exam = _ready(site_a)
    exam_route(exam_id=exam.pk, at=AT)
    exam.refresh_from_db()
    assert (exam.in_pool, exam.routing_level) == (True, Level.EXTERNAL)
    event = ExamEvent.objects.get(exam=exam)
    assert event.kind == "escalated"
    assert "Régulation 01 02 03 04 05" in event.reason and "TELEIMG@pacs.example.org:104" in event.reason
    assert "hors périmètre" in event.reason
    assert "Régulation" in Notification.objects.get(user=ght_admin_a).text


# --- end of shift -------------------------------------------------------------


def test_at_the_end_of_the_shift_an_unstarted_exam_goes_to_the_incoming_reader(site_a, radiologist_a, night):
    day_reader = _radiologist(site_a, "day")
    rota.shift(user=day_reader, on=night, start=NIGHT_END, end=DAY_END)
    waiting = _ready(site_a)
    reading = _ready(site_a)
    exam_route(exam_id=waiting.pk, at=AT)
    exam_route(exam_id=reading.pk, at=AT)
    Exam.objects.filter(pk=reading.pk).update(status="IN_READING")

    assert exams_reroute_end_of_shift(now=NIGHT_END - datetime.timedelta(seconds=1)) == []
    assert exams_reroute_end_of_shift(now=NIGHT_END) == [waiting.pk]
    waiting.refresh_from_db()
    reading.refresh_from_db()
    assert waiting.assigned_to == day_reader
    assert reading.assigned_to == radiologist_a
    event = ExamEvent.objects.filter(exam=waiting).last()
    assert event.kind == "reassigned" and event.reason.startswith(f"Fin de garde de {radiologist_a}")
    assert exams_reroute_end_of_shift(now=NIGHT_END) == []


def test_at_the_end_of_the_shift_with_nobody_incoming_the_exam_goes_to_the_pool(site_a, radiologist_a, night):
    exam = _ready(site_a)
    exam_route(exam_id=exam.pk, at=AT)
    assert exams_reroute_end_of_shift(now=NIGHT_END) == [exam.pk]
    exam.refresh_from_db()
    assert (exam.status, exam.in_pool, exam.assigned_to) == ("READY", True, None)


def test_a_manual_assignment_is_not_moved_at_the_end_of_a_shift(site_a, radiologist_a):
    _valid_since_2025()
    ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a, routing_level=None)
    assert exams_reroute_end_of_shift(now=AT) == []


def test_a_rota_in_cayenne_time_routes_at_the_right_instant(radiologist_a):
    cayenne = SiteFactory(name="CH Cayenne", timezone="America/Cayenne")
    reader = _radiologist(cayenne, "cayenne_reader")
    # 20:00 → 08:00 in Cayenne (UTC−3, no DST) is 23:00 → 11:00 UTC.
    local_start = datetime.datetime(2026, 1, 14, 20, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-3)))
    rota.shift(
        user=reader,
        on=rota.line(sites=[cayenne]),
        start=local_start,
        end=local_start + datetime.timedelta(hours=12),
    )
    inside = ExamFactory(site=cayenne, status="READY")
    outside = ExamFactory(site=cayenne, status="READY")
    exam_route(exam_id=inside.pk, at=datetime.datetime(2026, 1, 15, 10, 59, tzinfo=UTC))  # 07:59 local
    exam_route(exam_id=outside.pk, at=datetime.datetime(2026, 1, 15, 11, 0, tzinfo=UTC))  # 08:00 local
    inside.refresh_from_db()
    outside.refresh_from_db()
    assert inside.assigned_to == reader
    assert outside.in_pool


def test_the_beat_schedule_runs_the_routing_sweeps():
    from teleradio.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"worklist.exams_escalate", "worklist.exams_reroute_end_of_shift", "worklist.exams_mark_stable"} <= tasks


def test_the_one_second_sweep_routes_urgent_exams(site_a, ght_admin_a):
    from worklist.tasks import exams_mark_stable_task

    urgent = ExamFactory(site=site_a, status="RECEIVING", priority="URGENT", last_instance_at=None)
    exams_mark_stable_task.delay()
    urgent.refresh_from_db()
    assert urgent.routed_at is not None and urgent.in_pool
