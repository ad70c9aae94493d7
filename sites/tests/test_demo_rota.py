"""The demo's rotas: lines with the French defaults, and published months that pass validation."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from sites.demo import ROTA_LINES
from sites.models import RotaLine, RotaMonth, RotaMonthEvent, Shift
from sites.selectors import rota_month_report

pytestmark = pytest.mark.django_db


def _seed() -> None:
    call_command("seed_demo", "--force", stdout=io.StringIO())


def test_it_publishes_this_month_and_the_next_for_every_ght_with_lines():
    _seed()
    assert RotaLine.objects.count() == len(ROTA_LINES)
    months = RotaMonth.objects.all()
    assert months.count() == 4  # two GHTs with lines, two months each
    for rota_month in months:
        assert rota_month.state == RotaMonth.State.PUBLISHED, rota_month_report(rota_month=rota_month).errors[:3]
        assert not rota_month.shifts.filter(radiologist__isnull=True).exists()
        assert rota_month_report(rota_month=rota_month).ok


def test_someone_is_on_duty_in_each_ght_from_now_to_the_end_of_next_month():
    # On-call lines (evenings, nights, weekends, holidays) and scheduled
    # sessions (weekday days) together cover the clock, so routing always
    # finds a reader in the demo, whenever it is run.
    _seed()
    for ght_id in RotaMonth.objects.values_list("ght", flat=True).distinct():
        published = Shift.objects.filter(rota_month__ght=ght_id, rota_month__state=RotaMonth.State.PUBLISHED)
        reached, last = timezone.now(), published.latest("end").end
        assert last - reached > datetime.timedelta(days=28)
        for start, end in published.filter(end__gt=reached).order_by("start").values_list("start", "end"):
            assert start <= reached, f"GHT {ght_id}: nobody on duty from {reached} to {start}"
            reached = max(reached, end)


def test_it_changes_nothing_on_a_second_run():
    _seed()
    before = (Shift.objects.count(), RotaMonthEvent.objects.count(), list(Shift.objects.values_list("radiologist")))
    _seed()
    after = (Shift.objects.count(), RotaMonthEvent.objects.count(), list(Shift.objects.values_list("radiologist")))
    assert before == after


def test_the_regional_stroke_line_is_held_by_neuroradiologists():
    _seed()
    line = RotaLine.objects.get(name="Neuro AVC régional")
    assert line.region is not None and line.subspecialty.code == "neuro"
    holders = {s.radiologist for s in line.shifts.select_related("radiologist")}
    assert len(holders) >= 2
    assert all(r.subspecialties.filter(code="neuro").exists() for r in holders)
