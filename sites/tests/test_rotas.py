"""Rota services: generation, assignment, publication, swaps, unavailability, tokens."""

import datetime

import pytest

from core.exceptions import ConflictError
from sites.models import CalendarToken, RotaLine, RotaMonth, Shift, ShiftSwap, Subspecialty
from sites.rotas import (
    RotaError,
    calendar_token_create,
    calendar_token_revoke,
    rota_line_create_defaults,
    rota_month_generate,
    rota_month_next,
    rota_month_publish,
    rota_month_unpublish,
    shift_assign,
    shift_swap_accept,
    shift_swap_propose,
    shift_swap_refuse,
    unavailability_declare,
    unavailability_delete,
)
from sites.selectors import radiologist_list_eligible_for_line, rota_month_grid, rota_month_report
from sites.tests.factories import (
    CredentialFactory,
    RadiologistFactory,
    RotaLineFactory,
    RotaSlotFactory,
    SiteFactory,
)

UTC = datetime.UTC
T = datetime.time


def _next_month() -> datetime.date:
    return (datetime.date.today().replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


@pytest.fixture
def monday_line(site_a):
    """A line of GHT A covering site A with one Monday-evening slot."""
    line = RotaLineFactory(ght=site_a.ght, name="Soirée scanner", sites=[site_a])
    RotaSlotFactory(line=line, days="0", start_time=T(18), end_time=T(23, 30))
    return line


def _colleague(site, **kwargs):
    rad = RadiologistFactory(user__ght=site.ght, **kwargs)
    CredentialFactory(radiologist=rad, site=site)
    return rad


def _publishable(ght_admin, ght, *radiologists) -> RotaMonth:
    """Next month's draft with every shift filled, round robin."""
    rota_month = rota_month_generate(ght=ght, month=_next_month(), by=ght_admin)
    for i, shift in enumerate(rota_month.shifts.order_by("start")):
        shift_assign(shift=shift, radiologist=radiologists[i % len(radiologists)], by=ght_admin)
    return rota_month


def test_it_creates_a_line_with_the_french_defaults(site_a):
    pds = rota_line_create_defaults(ght=site_a.ght, name="PDS", sites=[site_a], kind=RotaLine.Kind.ON_CALL)
    vac = rota_line_create_defaults(ght=site_a.ght, name="Vac", sites=[site_a], kind=RotaLine.Kind.SCHEDULED)
    assert [(s.start_time, s.end_time) for s in pds.slots.order_by("start_time")] == [
        (T(8), T(18)),
        (T(18), T(23, 30)),
        (T(23, 30), T(8)),
    ]
    assert pds.slots.get(start_time=T(8)).days == "5,6"
    assert vac.slots.count() == 2
    assert list(pds.sites.all()) == [site_a]


def test_it_generates_a_month_in_utc_with_the_night_shortened_by_the_spring_change(ght_admin_a, site_a):
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a])
    RotaSlotFactory(line=line, name="Nuit", days="0,1,2,3,4,5,6", start_time=T(23, 30), end_time=T(8))

    rota_month = rota_month_generate(ght=site_a.ght, month=datetime.date(2026, 3, 17), by=ght_admin_a)

    assert rota_month.month == datetime.date(2026, 3, 1)
    assert rota_month.state == RotaMonth.State.DRAFT
    shifts = list(rota_month.shifts.order_by("start"))
    assert len(shifts) == 31
    assert shifts[0].start == datetime.datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 1 March 23:30 in Paris
    spring = next(s for s in shifts if s.start.date() == datetime.date(2026, 3, 28))
    assert spring.end - spring.start == datetime.timedelta(hours=7, minutes=30)
    event = rota_month.events.get()
    assert (event.action, event.actor, event.detail["shifts"]) == ("generated", ght_admin_a, 31)


def test_it_treats_holidays_of_any_of_the_lines_sites_as_sundays(ght_admin_a, site_a):
    metz = SiteFactory(ght=site_a.ght, holiday_subdivision="57")
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a, metz])
    RotaSlotFactory(line=line, name="Dimanche", days="6", start_time=T(8), end_time=T(18))
    rota_month = rota_month_generate(ght=site_a.ght, month=datetime.date(2026, 12, 1), by=ght_admin_a)
    local_days = {s.start.date().day for s in rota_month.shifts.all()}
    # Sundays 6, 13, 20, 27; Christmas (Friday) and St Stephen's day (Saturday, Moselle only).
    assert local_days == {6, 13, 20, 25, 26, 27}


def test_it_replaces_a_draft_and_refuses_to_regenerate_a_published_month(
    ght_admin_a, site_a, monday_line, radiologist_a
):
    first = rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)
    count = first.shifts.count()
    again = rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)
    assert again.pk == first.pk
    assert again.shifts.count() == count

    _publishable(ght_admin_a, site_a.ght, radiologist_a.radiologist)
    rota_month_publish(rota_month=first, by=ght_admin_a)
    with pytest.raises(RotaError):
        rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)


def test_it_fills_shifts_with_the_slots_default_radiologist(ght_admin_a, site_a, radiologist_a):
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a])
    RotaSlotFactory(line=line, default_radiologist=radiologist_a.radiologist)
    rota_month = rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)
    assert set(rota_month.shifts.values_list("radiologist", flat=True)) == {radiologist_a.radiologist.pk}


def test_it_only_assigns_a_radiologist_credentialed_for_every_site_of_the_line(
    ght_admin_a, site_a, radiologist_a, radiologist_b
):
    other_site = SiteFactory(ght=site_a.ght)
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a, other_site])
    RotaSlotFactory(line=line)
    shift = rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a).shifts.first()

    with pytest.raises(RotaError, match="habilité"):
        shift_assign(shift=shift, radiologist=radiologist_a.radiologist, by=ght_admin_a)
    with pytest.raises(RotaError):
        shift_assign(shift=shift, radiologist=radiologist_b.radiologist, by=ght_admin_a)

    CredentialFactory(radiologist=radiologist_a.radiologist, site=other_site)
    shift_assign(shift=shift, radiologist=radiologist_a.radiologist, by=ght_admin_a)
    shift.refresh_from_db()
    assert shift.radiologist == radiologist_a.radiologist
    event = shift.rota_month.events.get(action="assigned")
    assert (event.actor, event.detail["shift"], event.detail["previous"]) == (ght_admin_a, shift.pk, None)


def test_it_offers_only_radiologists_with_the_lines_subspecialty(site_a, radiologist_a):
    neuro = Subspecialty.objects.get(code="neuro")
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a], subspecialty=neuro)
    day = datetime.date.today()
    assert list(radiologist_list_eligible_for_line(line=line, day=day)) == []
    radiologist_a.radiologist.subspecialties.add(neuro)
    assert list(radiologist_list_eligible_for_line(line=line, day=day)) == [radiologist_a.radiologist]


def test_it_refuses_to_publish_a_month_with_errors_and_lists_them(ght_admin_a, site_a, monday_line):
    rota_month = rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)
    with pytest.raises(RotaError) as refused:
        rota_month_publish(rota_month=rota_month, by=ght_admin_a)
    errors = refused.value.extra["errors"]
    assert errors and all("à pourvoir" in e for e in errors)
    rota_month.refresh_from_db()
    assert rota_month.state == RotaMonth.State.DRAFT


def test_it_publishes_and_unpublishes_with_history(ght_admin_a, site_a, monday_line, radiologist_a):
    rota_month = _publishable(ght_admin_a, site_a.ght, radiologist_a.radiologist)
    rota_month_publish(rota_month=rota_month, by=ght_admin_a)
    rota_month.refresh_from_db()
    assert (rota_month.state, rota_month.published_by) == (RotaMonth.State.PUBLISHED, ght_admin_a)
    with pytest.raises(ConflictError):
        rota_month_publish(rota_month=rota_month, by=ght_admin_a)

    rota_month_unpublish(rota_month=rota_month, by=ght_admin_a)
    rota_month.refresh_from_db()
    assert (rota_month.state, rota_month.published_at) == (RotaMonth.State.DRAFT, None)
    actions = list(rota_month.events.values_list("action", flat=True))
    assert actions[0] == "generated" and actions[-2:] == ["published", "unpublished"]
    with pytest.raises(ConflictError):
        rota_month_unpublish(rota_month=rota_month, by=ght_admin_a)


def test_it_refuses_an_assignment_that_breaks_a_published_month(ght_admin_a, site_a, radiologist_a):
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a])
    RotaSlotFactory(line=line, name="Nuit", days="0", start_time=T(23, 30), end_time=T(8))
    RotaSlotFactory(line=line, name="Matin", days="1", start_time=T(8), end_time=T(13))
    colleague = _colleague(site_a)
    rota_month = rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)
    for shift in rota_month.shifts.all():
        is_night = shift.slot.name == "Nuit"
        shift_assign(shift=shift, radiologist=radiologist_a.radiologist if is_night else colleague, by=ght_admin_a)
    rota_month_publish(rota_month=rota_month, by=ght_admin_a)

    night = rota_month.shifts.filter(slot__name="Nuit").order_by("start").first()
    morning = rota_month.shifts.get(slot__name="Matin", start=night.end)
    with pytest.raises(RotaError) as refused:
        shift_assign(shift=morning, radiologist=radiologist_a.radiologist, by=ght_admin_a)
    assert "11 h" in refused.value.extra["errors"][0]
    morning.refresh_from_db()
    assert morning.radiologist == colleague


def test_it_reports_the_rest_rule_with_the_configured_hours(settings, ght_admin_a, site_a, radiologist_a):
    line = RotaLineFactory(ght=site_a.ght, sites=[site_a])
    RotaSlotFactory(line=line, name="Nuit", days="0", start_time=T(23, 30), end_time=T(8))
    RotaSlotFactory(line=line, name="Soir", days="1", start_time=T(18), end_time=T(23, 30))
    rota_month = _publishable(ght_admin_a, site_a.ght, radiologist_a.radiologist)
    assert {i.code for i in rota_month_report(rota_month=rota_month).errors} == {"rest"}
    settings.ROTA_REST_HOURS = 9
    assert rota_month_report(rota_month=rota_month).ok


@pytest.fixture
def published_pair(ght_admin_a, site_a, monday_line, radiologist_a):
    """A published month with two Monday evenings: the first Monday to A, the next to a colleague."""
    colleague = _colleague(site_a)
    rota_month = _publishable(ght_admin_a, site_a.ght, radiologist_a.radiologist, colleague)
    rota_month = rota_month_publish(rota_month=rota_month, by=ght_admin_a)
    mine, theirs = rota_month.shifts.order_by("start")[:2]
    return mine, theirs, radiologist_a.radiologist, colleague


def test_it_swaps_two_shifts_when_both_accept(published_pair):
    mine, theirs, me, colleague = published_pair
    swap = shift_swap_propose(shift_from=mine, shift_to=theirs, by=me)
    assert swap.state == ShiftSwap.State.PROPOSED

    with pytest.raises(RotaError):
        shift_swap_accept(swap=swap, by=me)  # the proposer has already accepted
    shift_swap_accept(swap=swap, by=colleague)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    swap.refresh_from_db()
    assert (mine.radiologist, theirs.radiologist, swap.state) == (colleague, me, ShiftSwap.State.ACCEPTED)
    assert mine.rota_month.events.filter(action="swapped").exists()
    with pytest.raises(ConflictError):
        shift_swap_accept(swap=swap, by=colleague)


def test_it_refuses_a_swap_that_would_break_the_rota_and_changes_nothing(published_pair):
    mine, theirs, me, colleague = published_pair
    swap = shift_swap_propose(shift_from=mine, shift_to=theirs, by=me)
    unavailability_declare(radiologist=colleague, start=mine.start, end=mine.end, reason="Congrès")

    with pytest.raises(RotaError) as refused:
        shift_swap_accept(swap=swap, by=colleague)
    assert "indisponible" in refused.value.extra["errors"][0]
    mine.refresh_from_db()
    swap.refresh_from_db()
    assert (mine.radiologist, swap.state) == (me, ShiftSwap.State.PROPOSED)


def test_it_lets_the_colleague_refuse_and_the_proposer_withdraw(published_pair):
    mine, theirs, me, colleague = published_pair
    refused = shift_swap_refuse(swap=shift_swap_propose(shift_from=mine, shift_to=theirs, by=me), by=colleague)
    withdrawn = shift_swap_refuse(swap=shift_swap_propose(shift_from=mine, shift_to=theirs, by=me), by=me)
    assert (refused.state, withdrawn.state) == (ShiftSwap.State.REFUSED, ShiftSwap.State.CANCELLED)
    mine.refresh_from_db()
    assert mine.radiologist == me


def test_it_refuses_to_propose_someone_elses_or_an_unpublished_shift(published_pair, ght_admin_a):
    mine, theirs, me, colleague = published_pair
    with pytest.raises(RotaError):
        shift_swap_propose(shift_from=theirs, shift_to=mine, by=me)
    rota_month_unpublish(rota_month=mine.rota_month, by=ght_admin_a)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    with pytest.raises(RotaError):
        shift_swap_propose(shift_from=mine, shift_to=theirs, by=me)


def test_it_writes_an_unavailability_to_the_history_of_the_months_concerned(published_pair):
    mine, _theirs, me, _colleague = published_pair
    unavailability = unavailability_declare(
        radiologist=me, start=mine.start - datetime.timedelta(hours=1), end=mine.end, reason="Congés"
    )
    rota_month = mine.rota_month
    assert rota_month.events.filter(action="unavailability_declared").count() == 1
    assert [i.code for i in rota_month_report(rota_month=rota_month).errors] == ["unavailable"]
    with pytest.raises(RotaError):
        unavailability_declare(radiologist=me, start=mine.end, end=mine.start)

    unavailability_delete(unavailability=unavailability, by=me.user)
    assert rota_month_report(rota_month=rota_month).ok


def test_it_creates_regenerates_and_revokes_a_calendar_token(radiologist_a):
    first = calendar_token_create(user=radiologist_a)
    second = calendar_token_create(user=radiologist_a)
    assert first.token != second.token and len(second.token) >= 40
    assert list(CalendarToken.objects.values_list("token", flat=True)) == [second.token]
    calendar_token_revoke(user=radiologist_a)
    assert not CalendarToken.objects.exists()


def test_it_computes_next_month():
    assert rota_month_next(ght=None, today=datetime.date(2026, 12, 31)) == datetime.date(2027, 1, 1)


def test_it_reads_a_month_report_and_grid_in_a_constant_number_of_queries(
    django_assert_max_num_queries, ght_admin_a, site_a, radiologist_a
):
    small = RotaLineFactory(ght=site_a.ght, sites=[site_a])
    RotaSlotFactory(line=small)
    rota_month = RotaMonth.objects.select_related("ght").get(
        pk=_publishable(ght_admin_a, site_a.ght, radiologist_a.radiologist).pk
    )
    with django_assert_max_num_queries(12) as small_queries:
        rota_month_report(rota_month=rota_month)
        rota_month_grid(rota_month=rota_month)

    for _ in range(3):
        rota_line_create_defaults(ght=site_a.ght, name="PDS", sites=[site_a, SiteFactory(ght=site_a.ght)])
    rota_month_generate(ght=site_a.ght, month=_next_month(), by=ght_admin_a)
    rota_month = RotaMonth.objects.select_related("ght").get(pk=rota_month.pk)
    Shift.objects.filter(rota_month=rota_month).update(radiologist=radiologist_a.radiologist)
    assert rota_month.shifts.count() > 200
    with django_assert_max_num_queries(len(small_queries)):
        rota_month_report(rota_month=rota_month)
        rota_month_grid(rota_month=rota_month)
