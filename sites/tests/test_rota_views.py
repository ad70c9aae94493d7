"""Rota pages: the planner of GHT admins, my shifts, the iCalendar feed; scoped, 404 outside."""

import datetime

import pytest
from django.urls import reverse

from sites.models import RotaMonth, ShiftSwap, Unavailability
from sites.rotas import (
    RotaError,
    calendar_token_create,
    calendar_token_revoke,
    rota_month_generate,
    rota_month_publish,
    shift_assign,
    shift_swap_propose,
)
from sites.tests.factories import CredentialFactory, RadiologistFactory, RotaLineFactory, RotaSlotFactory

T = datetime.time


def _next_month() -> datetime.date:
    return (datetime.date.today().replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


@pytest.fixture
def line_a(site_a):
    line = RotaLineFactory(ght=site_a.ght, name="Soirée scanner A", sites=[site_a])
    RotaSlotFactory(line=line, days="2", start_time=T(18), end_time=T(23, 30))
    return line


@pytest.fixture
def month_a(ght_admin_a, line_a):
    return rota_month_generate(ght=line_a.ght, month=_next_month(), by=ght_admin_a)


@pytest.fixture
def published_a(ght_admin_a, month_a, radiologist_a):
    for shift in month_a.shifts.all():
        shift_assign(shift=shift, radiologist=radiologist_a.radiologist, by=ght_admin_a)
    return rota_month_publish(rota_month=month_a, by=ght_admin_a)


def test_it_lists_only_the_admins_own_months(client, ght_admin_a, ght_admin_b, month_a):
    client.force_login(ght_admin_a)
    response = client.get(reverse("rota_month_list"))
    assert response.status_code == 200
    assert list(response.context["months"]) == [month_a]
    assert "Préparer le mois suivant" in response.content.decode()

    client.force_login(ght_admin_b)
    assert list(client.get(reverse("rota_month_list")).context["months"]) == []
    assert client.get(reverse("rota_month_detail", args=[month_a.pk])).status_code == 404
    assert client.get(reverse("rota_month_export", args=[month_a.pk])).status_code == 404


def test_it_sends_radiologists_to_their_shifts_and_hides_the_planner_from_merms(client, radiologist_a, merm_a):
    client.force_login(radiologist_a)
    assert client.get(reverse("rota_month_list")).url == reverse("rota_mine")
    client.force_login(merm_a)
    assert client.get(reverse("rota_month_list")).status_code == 404
    assert client.get(reverse("rota_mine")).status_code == 404


def test_it_prepares_next_month_once_and_keeps_assignments(client, ght_admin_a, line_a, radiologist_a):
    client.force_login(ght_admin_a)
    payload = {"ght": line_a.ght_id, "month": _next_month().strftime("%Y-%m")}
    response = client.post(reverse("rota_month_generate"), payload)
    rota_month = RotaMonth.objects.get(ght=line_a.ght)
    assert response.url == reverse("rota_month_detail", args=[rota_month.pk])
    shift = rota_month.shifts.first()
    shift_assign(shift=shift, radiologist=radiologist_a.radiologist, by=ght_admin_a)

    client.post(reverse("rota_month_generate"), payload)
    shift.refresh_from_db()
    assert shift.radiologist == radiologist_a.radiologist


def test_it_refuses_to_generate_for_another_ght(client, ght_admin_a, ght_b):
    client.force_login(ght_admin_a)
    response = client.post(reverse("rota_month_generate"), {"ght": ght_b.pk, "month": "2027-01"})
    assert response.status_code == 404
    assert not RotaMonth.objects.exists()


def test_it_shows_the_grid_the_gaps_and_the_history(client, ght_admin_a, month_a):
    client.force_login(ght_admin_a)
    response = client.get(reverse("rota_month_detail", args=[month_a.pk]))
    body = response.content.decode()
    count = month_a.shifts.count()
    assert count >= 4
    assert body.count("à pourvoir") >= count
    assert f"{count} erreurs bloquent la publication." in body
    assert "18:00–23:30" in body
    assert "planning généré depuis les modèles" in body
    assert "<script" not in body.split("</head>")[1]
    assert "style=" not in body


def test_it_offers_only_credentialed_radiologists_in_the_cell_form(
    client, ght_admin_a, month_a, radiologist_a, radiologist_b
):
    shift = month_a.shifts.first()
    client.force_login(ght_admin_a)
    response = client.get(reverse("shift_assign", args=[shift.pk]), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body  # a fragment for htmx
    assert str(radiologist_a.radiologist) in body
    assert str(radiologist_b.radiologist) not in body
    assert "<html" in client.get(reverse("shift_assign", args=[shift.pk])).content.decode()

    response = client.post(reverse("shift_assign", args=[shift.pk]), {"radiologist": radiologist_b.radiologist.pk})
    shift.refresh_from_db()
    assert shift.radiologist is None
    response = client.post(reverse("shift_assign", args=[shift.pk]), {"radiologist": radiologist_a.radiologist.pk})
    assert response.url.endswith(f"#shift-{shift.pk}")
    shift.refresh_from_db()
    assert shift.radiologist == radiologist_a.radiologist


def test_it_hides_another_ghts_shift_from_an_admin(client, ght_admin_b, month_a, radiologist_b):
    shift = month_a.shifts.first()
    client.force_login(ght_admin_b)
    assert client.get(reverse("shift_assign", args=[shift.pk])).status_code == 404
    assert client.post(reverse("shift_assign", args=[shift.pk]), {"radiologist": ""}).status_code == 404


def test_it_refuses_to_publish_with_errors_then_publishes(client, ght_admin_a, month_a, radiologist_a):
    client.force_login(ght_admin_a)
    response = client.post(reverse("rota_month_publish", args=[month_a.pk]), follow=True)
    assert "Publication impossible" in response.content.decode()
    month_a.refresh_from_db()
    assert month_a.state == RotaMonth.State.DRAFT

    for shift in month_a.shifts.all():
        client.post(reverse("shift_assign", args=[shift.pk]), {"radiologist": radiologist_a.radiologist.pk})
    response = client.post(reverse("rota_month_publish", args=[month_a.pk]), follow=True)
    assert "Aucune erreur" in response.content.decode()
    month_a.refresh_from_db()
    assert month_a.state == RotaMonth.State.PUBLISHED
    client.post(reverse("rota_month_unpublish", args=[month_a.pk]))
    month_a.refresh_from_db()
    assert month_a.state == RotaMonth.State.DRAFT


def test_it_exports_the_month_as_csv_in_local_and_utc_time(client, ght_admin_a, published_a, radiologist_a):
    client.force_login(ght_admin_a)
    response = client.get(reverse("rota_month_export", args=[published_a.pk]))
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Ligne;Début (heure locale)")
    assert len(lines) == 1 + published_a.shifts.count()
    assert lines[1].startswith("Soirée scanner A;")
    assert " 18:00;" in lines[1]
    assert radiologist_a.radiologist.rpps in lines[1]


def test_it_shows_a_radiologist_their_published_shifts_only(client, radiologist_a, month_a, ght_admin_a):
    client.force_login(radiologist_a)
    for shift in month_a.shifts.all():
        shift_assign(shift=shift, radiologist=radiologist_a.radiologist, by=ght_admin_a)
    assert list(client.get(reverse("rota_mine")).context["shifts"]) == []  # a draft is not theirs yet
    rota_month_publish(rota_month=month_a, by=ght_admin_a)
    shifts = list(client.get(reverse("rota_mine")).context["shifts"])
    assert shifts and all(s.radiologist.user == radiologist_a for s in shifts)


def test_it_lets_a_radiologist_declare_and_withdraw_an_unavailability(client, radiologist_a, radiologist_b):
    client.force_login(radiologist_a)
    response = client.post(
        reverse("unavailability_declare"), {"start": "2027-02-01T08:00", "end": "2027-02-03T08:00", "reason": "Congés"}
    )
    assert response.status_code == 302
    unavailability = Unavailability.objects.get()
    assert unavailability.radiologist.user == radiologist_a

    client.force_login(radiologist_b)
    assert client.post(reverse("unavailability_delete", args=[unavailability.pk])).status_code == 404
    client.force_login(radiologist_a)
    client.post(reverse("unavailability_delete", args=[unavailability.pk]))
    assert not Unavailability.objects.exists()

    bad = {"start": "2027-02-03T08:00", "end": "2027-02-01T08:00"}
    assert client.post(reverse("unavailability_declare"), bad).status_code == 400


def test_it_lets_two_radiologists_swap_through_the_pages(client, site_a, published_a, radiologist_a, radiologist_b):
    colleague = RadiologistFactory(user__ght=site_a.ght, user__username="rad_c")
    CredentialFactory(radiologist=colleague, site=site_a)
    mine, theirs = published_a.shifts.order_by("start")[:2]
    theirs.radiologist = colleague
    theirs.save()

    client.force_login(radiologist_a)
    page = client.get(reverse("rota_mine"))
    assert theirs in page.context["swap_form"].fields["shift_to"].queryset
    client.post(reverse("shift_swap_propose"), {"shift_from": mine.pk, "shift_to": theirs.pk})
    swap = ShiftSwap.objects.get()

    # Someone outside the swap gets 404; the proposer cannot accept for the colleague.
    client.force_login(radiologist_b)
    assert client.post(reverse("shift_swap_accept", args=[swap.pk])).status_code == 404
    client.force_login(radiologist_a)
    client.post(reverse("shift_swap_accept", args=[swap.pk]))
    swap.refresh_from_db()
    assert swap.state == ShiftSwap.State.PROPOSED

    client.force_login(colleague.user)
    client.post(reverse("shift_swap_accept", args=[swap.pk]))
    mine.refresh_from_db()
    swap.refresh_from_db()
    assert (swap.state, mine.radiologist) == (ShiftSwap.State.ACCEPTED, colleague)


def test_it_serves_the_ical_feed_by_secret_token_only(client, published_a, radiologist_a, radiologist_b):
    token = calendar_token_create(user=radiologist_a).token
    url = reverse("rota_ical", kwargs={"token": token})
    response = client.get(url)  # no login: calendar clients do not log in
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    shift = published_a.shifts.order_by("start").first()
    assert f"UID:shift-{shift.pk}@testserver\r\n" in body
    assert f"DTSTART:{shift.start:%Y%m%dT%H%M%S}Z" in body
    assert body.count("BEGIN:VEVENT") == published_a.shifts.count()
    assert "SUMMARY:Soirée scanner A" in body

    other = calendar_token_create(user=radiologist_b).token
    assert "BEGIN:VEVENT" not in client.get(reverse("rota_ical", kwargs={"token": other})).content.decode()
    assert client.get(reverse("rota_ical", kwargs={"token": "nope"})).status_code == 404
    calendar_token_revoke(user=radiologist_a)
    assert client.get(url).status_code == 404


def test_it_manages_the_calendar_url_from_my_shifts(client, radiologist_a):
    client.force_login(radiologist_a)
    client.post(reverse("calendar_token_create"))
    first = client.get(reverse("rota_mine")).context["calendar_url"]
    client.post(reverse("calendar_token_create"))
    second = client.get(reverse("rota_mine")).context["calendar_url"]
    assert first and second and first != second
    assert client.get(first).status_code == 404
    client.post(reverse("calendar_token_revoke"))
    assert client.get(second).status_code == 404
    assert client.get(reverse("rota_mine")).context["calendar_url"] == ""


def test_it_links_the_planner_from_the_menu(client, ght_admin_a, radiologist_a, merm_a):
    for user, url in ((ght_admin_a, reverse("rota_month_list")), (radiologist_a, reverse("rota_mine"))):
        client.force_login(user)
        assert f'href="{url}">Planning<' in client.get(reverse("exam_list")).content.decode()
    client.force_login(merm_a)
    assert ">Planning<" not in client.get(reverse("exam_list")).content.decode()


def test_it_refuses_a_swap_of_shifts_that_are_not_the_proposers(client, published_a, radiologist_b, site_a):
    mine = published_a.shifts.first()
    colleague = RadiologistFactory(user__ght=site_a.ght)
    CredentialFactory(radiologist=colleague, site=site_a)
    other = published_a.shifts.exclude(pk=mine.pk).first()
    other.radiologist = colleague
    other.save()
    with pytest.raises(RotaError):
        shift_swap_propose(shift_from=mine, shift_to=other, by=colleague)
    client.force_login(radiologist_b)
    response = client.post(reverse("shift_swap_propose"), {"shift_from": mine.pk, "shift_to": other.pk})
    assert response.status_code == 400
    assert not ShiftSwap.objects.exists()
