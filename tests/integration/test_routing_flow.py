"""Routing end to end: dcmtk storescu → the real gateway → stability sweep → routing → worklist.

Time: the decision instants are passed explicitly (``now``/``at``) where the
services take them; freezegun is used only around the stability sweep, whose
eager exam_ready task reads the clock, and only after storescu has finished
(freezegun patches the clock of every thread, the gateway's included).
Instants are a few days ahead of the real clock so that the instance's real
arrival time is before the sweep's cut-off.
"""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from core.models import Notification
from sites.tests.factories import CredentialFactory, GhtAdminFactory, ModalityFactory, RadiologistFactory, SiteFactory
from tests.integration.conftest import TEST_FILES, run_dcmtk
from worklist.models import Exam, ExamEvent
from worklist.services import exams_mark_stable, exams_reroute_end_of_shift
from worklist.tests import rota

pytestmark = pytest.mark.integration

UTC = datetime.UTC


def _send(gateway, calling_ae: str, name: str) -> Exam:
    result = run_dcmtk(
        "storescu", "-aet", calling_ae, "-aec", "TELERADIO", "127.0.0.1", str(gateway.port), str(TEST_FILES / name)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Exam.objects.get(study_instance_uid__isnull=False, source_modality__ae_title=calling_ae)


def _stable_and_routed(at: datetime.datetime) -> None:
    with freeze_time(at):
        exams_mark_stable(now=at, quiet_seconds=0)


def _reader(site, username):
    rad = RadiologistFactory(user__ght=site.ght, user__username=username, user__last_name=username.capitalize())
    CredentialFactory(radiologist=rad, site=site)
    return rad.user


@pytest.fixture
def night():
    """Tonight + 3 days, 22:30 → 07:00 UTC, and the day after until 17:00."""
    day = timezone.now().date() + datetime.timedelta(days=3)
    start = datetime.datetime.combine(day, datetime.time(22, 30), tzinfo=UTC)
    return start, start + datetime.timedelta(hours=8, minutes=30), start + datetime.timedelta(hours=18, minutes=30)


def test_a_study_goes_to_the_night_reader_then_the_day_reader_then_the_pool(gateway, ct_modality, night):
    site = ct_modality.site
    admin = GhtAdminFactory(ght=site.ght, username="admin_landerneau", email="admin@landerneau.example")
    night_reader, day_reader = _reader(site, "nuit"), _reader(site, "jour")
    line = rota.line(sites=[site], name="Garde de nuit Landerneau")
    start, end, day_end = night
    rota.shift(user=night_reader, on=line, start=start, end=end)
    rota.shift(user=day_reader, on=line, start=end, end=day_end)

    exam = _send(gateway, "CT_LANDERNEAU", "CT_small.dcm")
    assert exam.status == "RECEIVING"
    _stable_and_routed(start + datetime.timedelta(hours=3, minutes=30))  # 03:00 in Brest (winter)

    exam.refresh_from_db()
    assert (exam.status, exam.assigned_to) == ("ASSIGNED", night_reader)
    assert "Garde de nuit Landerneau" in exam.routing_reason and str(night_reader) in exam.routing_reason
    assert ExamEvent.objects.filter(exam=exam, kind="routed", reason=exam.routing_reason).exists()
    browser = Client()
    browser.force_login(night_reader)
    worklist = browser.get("/worklist/").content.decode()
    mine = worklist[worklist.index('data-testid="mine"') : worklist.index('data-testid="pool"')]
    assert f"/exams/{exam.pk}/" in mine
    assert "Garde de nuit Landerneau" in mine  # the reason, on hover

    # The night ends: the exam, not started, goes to the day reader.
    assert exams_reroute_end_of_shift(now=end) == [exam.pk]
    exam.refresh_from_db()
    assert exam.assigned_to == day_reader
    assert ExamEvent.objects.filter(exam=exam, kind="reassigned", reason__startswith="Fin de garde de").exists()

    # After the day shift nobody is on duty: the next study lands in the pool and the admin is told.
    mail.outbox.clear()
    second = ModalityFactory(site=site, ae_title="MR_LANDERNEAU")
    pooled = _send(gateway, second.ae_title, "MR_small.dcm")
    _stable_and_routed(day_end + datetime.timedelta(hours=1))
    pooled.refresh_from_db()
    assert (pooled.status, pooled.in_pool, pooled.assigned_to) == ("READY", True, None)
    note = Notification.objects.get(user=admin)
    assert note.link == f"/exams/{pooled.pk}/"
    assert [m.to for m in mail.outbox] == [["admin@landerneau.example"]]
    assert pooled.patient_name not in mail.outbox[0].body


def test_a_rota_of_a_site_in_cayenne_is_resolved_in_its_local_time(gateway, night):
    cayenne_tz = zoneinfo.ZoneInfo("America/Cayenne")
    site = SiteFactory(name="CH Cayenne", timezone="America/Cayenne")
    site.ght.timezone = "America/Cayenne"
    site.ght.save()
    ModalityFactory(site=site, ae_title="CT_CAYENNE")
    reader = _reader(site, "guyane")
    # 20:00 → 08:00 the next morning, Cayenne time (UTC−3): 23:00 → 11:00 UTC.
    day = night[0].date()
    start = datetime.datetime.combine(day, datetime.time(20, 0), tzinfo=cayenne_tz)
    rota.shift(
        user=reader,
        on=rota.line(sites=[site], name="Garde Cayenne"),
        start=start,
        end=start + datetime.timedelta(hours=12),
    )

    exam = _send(gateway, "CT_CAYENNE", "CT_small.dcm")
    local_0730 = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(7, 30), tzinfo=cayenne_tz)
    assert local_0730.astimezone(UTC).hour == 10
    _stable_and_routed(local_0730)
    exam.refresh_from_db()
    assert exam.assigned_to == reader

    browser = Client()
    browser.force_login(reader)
    page = browser.get(f"/exams/{exam.pk}/").content.decode()
    deadline_local = exam.deadline_at.astimezone(cayenne_tz)
    assert f"{deadline_local:%d/%m/%Y %H:%M}" in page  # shown in the site's zone

    # 08:00 in Cayenne is the end of the shift, not 08:00 in Paris nor UTC.
    assert exams_reroute_end_of_shift(now=start + datetime.timedelta(hours=11, minutes=59)) == []
    assert exams_reroute_end_of_shift(now=start + datetime.timedelta(hours=12)) == [exam.pk]
    exam.refresh_from_db()
    assert exam.in_pool
