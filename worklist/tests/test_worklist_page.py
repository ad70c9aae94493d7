"""The radiologist's worklist: claim buttons, counters, deadline colours, saved filters, conditional polling."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import AuditEvent
from worklist.models import Exam
from worklist.tests.factories import ExamFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_it_offers_lire_on_my_assigned_exams_and_reprendre_on_those_i_read(client, site_a, radiologist_a):
    ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    ExamFactory(site=site_a, status="IN_READING", assigned_to=radiologist_a)
    client.force_login(radiologist_a)
    body = client.get("/worklist/").content.decode()
    assert body.count(">Lire<") == 1 and body.count(">Reprendre<") == 1
    assert 'src="/static/js/worklist.js"' in body and 'hx-trigger="every 5s"' in body


def test_the_claim_button_opens_the_exam_or_says_who_was_first(client, site_a, radiologist_a, ght_admin_a):
    exam = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    client.force_login(radiologist_a)
    response = client.post(f"/exams/{exam.pk}/claim/")
    assert response.status_code == 302 and response["Location"] == f"/exams/{exam.pk}/"
    assert Exam.objects.get(pk=exam.pk).status == "IN_READING"
    assert AuditEvent.objects.filter(action="exam.claim", user=radiologist_a).exists()

    from sites.tests.factories import CredentialFactory, RadiologistFactory

    rad = RadiologistFactory(user__ght=site_a.ght, user__username="colleague")
    CredentialFactory(radiologist=rad, site=site_a)
    client.force_login(rad.user)
    response = client.post(f"/exams/{exam.pk}/claim/", {"next": "/worklist/"}, follow=True)
    assert f"Déjà pris par {radiologist_a}" in response.content.decode()


def test_the_counters_and_the_deadline_colours(client, site_a, radiologist_a):
    now = timezone.now()
    ago = now - datetime.timedelta(minutes=50)
    ExamFactory(
        site=site_a,
        status="ASSIGNED",
        assigned_to=radiologist_a,
        ready_at=ago,
        deadline_at=now + datetime.timedelta(minutes=5),
    )
    ExamFactory(
        site=site_a, status="READY", in_pool=True, ready_at=ago, deadline_at=now - datetime.timedelta(minutes=1)
    )
    ExamFactory(site=site_a, status="READY", in_pool=True, ready_at=ago, deadline_at=now + datetime.timedelta(hours=9))
    done = ExamFactory(site=site_a, status="IN_READING", assigned_to=radiologist_a)
    from worklist.services import exam_transition

    exam_transition(exam=done, to="REPORTED", by=radiologist_a)
    client.force_login(radiologist_a)
    body = client.get("/worklist/").content.decode()
    assert body.count('class="deadline deadline-soon"') == 1
    assert body.count('class="deadline deadline-overdue"') == 1
    assert body.count('class="deadline deadline-ok"') == 1
    assert "style=" not in body.split('id="worklist-live"')[1]
    counters = client.get("/worklist/", **HTMX).content.decode()
    assert "<strong>1</strong> lus pendant la garde" in counters
    assert "<strong>3</strong> en attente" in counters
    assert "<strong>1</strong> en retard" in counters


def test_the_filters_are_saved_for_the_reader(client, site_a, radiologist_a):
    ExamFactory(site=site_a, status="READY", in_pool=True, modality="MR", patient_name="IRM^UN")
    ExamFactory(site=site_a, status="READY", in_pool=True, modality="CT", patient_name="SCANNER^DEUX")
    client.force_login(radiologist_a)
    body = client.get("/worklist/", {"modality": "MR", "scope": "pool", "apply": "1"}).content.decode()
    assert "IRM UN" in body and "SCANNER DEUX" not in body
    again = client.get("/worklist/").content.decode()  # the next visit keeps them
    assert "IRM UN" in again and "SCANNER DEUX" not in again
    assert 'data-testid="mine"' not in again
    assert "SCANNER DEUX" in client.get("/worklist/", {"reset": "1"}).content.decode()


def test_a_poll_with_the_etag_answers_304_until_an_exam_changes(client, site_a, radiologist_a):
    exam = ExamFactory(site=site_a, status="READY", in_pool=True)
    client.force_login(radiologist_a)
    first = client.get("/worklist/", **HTMX)
    assert first.status_code == 200 and first["ETag"]
    assert "HX-Request" in first["Vary"] and "no-store" in first["Cache-Control"]
    audits = AuditEvent.objects.count()
    second = client.get("/worklist/", HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert (second.status_code, second.content) == (304, b"")
    assert AuditEvent.objects.count() == audits  # no patient data sent, nothing to audit

    new = ExamFactory(site=site_a, status="READY", in_pool=True, patient_name="NOUVEAU^URGENT")
    third = client.get("/worklist/", HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert third.status_code == 200 and "NOUVEAU URGENT" in third.content.decode()
    assert third["ETag"] != first["ETag"]

    Exam.objects.filter(pk=exam.pk).update(status="ASSIGNED", assigned_to=radiologist_a, updated_at=timezone.now())
    fourth = client.get("/worklist/", HTTP_IF_NONE_MATCH=third["ETag"], **HTMX)
    assert fourth.status_code == 200 and f'data-exam-id="{new.pk}"' in fourth.content.decode()
    assert fourth.content.decode().count(">Lire<") == 2


def test_the_number_of_queries_does_not_grow_with_the_exams(client, site_a, radiologist_a, django_assert_num_queries):
    ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a)
    client.force_login(radiologist_a)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/worklist/", **HTMX).status_code == 200
    for i in range(19):
        ExamFactory(
            site=site_a,
            status="READY" if i % 2 else "ASSIGNED",
            in_pool=bool(i % 2),
            assigned_to=None if i % 2 else radiologist_a,
        )
    with django_assert_num_queries(len(one.captured_queries)):
        body = client.get("/worklist/", **HTMX).content.decode()
    assert body.count("data-exam-id=") == 20


def _fill_scope(site, reader, n: int) -> None:
    """``n`` exams in the reader's worklist, of every kind it shows (mine, pool, urgent receiving, new series)."""
    now = timezone.now()
    for i in range(n):
        kind = i % 4
        ExamFactory(
            site=site,
            status=["ASSIGNED", "READY", "RECEIVING", "IN_READING"][kind],
            priority="URGENT" if kind == 2 else "STANDARD",
            in_pool=kind == 1,
            assigned_to=reader if kind in (0, 3) else None,
            deadline_at=now + datetime.timedelta(minutes=30 - i),
            new_series_at=now if i % 5 == 0 else None,
            routing_reason="De garde",
        )


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_the_page_and_the_fragment_cost_the_same_queries_for_5_and_50_exams(client, site_a, radiologist_a, htmx):
    """Issue #6: a constant number of queries whatever the size of the worklist (no N+1)."""
    from sites.tests.factories import CredentialFactory, SiteFactory

    other_site = SiteFactory(ght=site_a.ght)
    CredentialFactory(radiologist=radiologist_a.radiologist, site=other_site)
    headers = HTMX if htmx else {}
    client.force_login(radiologist_a)
    _fill_scope(site_a, radiologist_a, 5)
    client.get("/worklist/", **headers)  # warm-up: session, content types
    with CaptureQueriesContext(connection) as five:
        body = client.get("/worklist/", **headers).content.decode()
    assert body.count("data-exam-id=") == 5
    _fill_scope(site_a, radiologist_a, 25)
    _fill_scope(other_site, radiologist_a, 20)
    with CaptureQueriesContext(connection) as fifty:
        body = client.get("/worklist/", **headers).content.decode()
    assert body.count("data-exam-id=") == 50
    assert len(fifty.captured_queries) == len(five.captured_queries), [q["sql"] for q in fifty.captured_queries]


def test_the_urgent_alert_switch_is_saved_for_the_reader(client, site_a, radiologist_a):
    client.force_login(radiologist_a)
    switch = 'data-testid="urgent-alert"'
    page = client.get("/worklist/").content.decode()
    assert "Alerte sonore pour les urgences" in page and f"{switch} checked" not in page
    on = client.post("/worklist/", {"urgent_alert": ["0", "1"]}, HTTP_X_REQUESTED_WITH="fetch")
    assert on.status_code == 204
    assert f"{switch} checked" in client.get("/worklist/").content.decode()
    off = client.post("/worklist/", {"urgent_alert": "0"})  # the form without JavaScript
    assert off.status_code == 302 and off["Location"] == "/worklist/"
    assert f"{switch} checked" not in client.get("/worklist/").content.decode()


def test_the_live_rows_carry_their_priority_for_the_alert(client, site_a, radiologist_a):
    vital = ExamFactory(site=site_a, status="RECEIVING", priority="VITAL")
    urgent = ExamFactory(site=site_a, status="READY", in_pool=True, priority="URGENT")
    standard = ExamFactory(site=site_a, status="ASSIGNED", assigned_to=radiologist_a, priority="STANDARD")
    client.force_login(radiologist_a)
    body = client.get("/worklist/", **HTMX).content.decode()
    for exam in (vital, urgent, standard):
        assert f'data-exam-id="{exam.pk}" data-priority="{exam.priority}"' in body


def test_the_rows_escape_what_the_modality_and_the_site_sent(client, site_a, radiologist_a):
    """The rows are built in Python (worklist/templatetags/exam_rows.py): every value is escaped there."""
    exam = ExamFactory(
        site=site_a,
        status="READY",
        in_pool=True,
        patient_name="<script>alert(1)</script>^O'Brien",
        study_description='<img src=x onerror="alert(2)">',
        routing_reason='De garde "nuit" <b>',
        modality="<i>",
    )
    client.force_login(radiologist_a)
    for headers in ({}, HTMX):
        body = client.get("/worklist/", **headers).content.decode()
        row = body.split(f'data-exam-id="{exam.pk}"')[1].split("</tr>")[0]
        assert "<script>" not in row and "<img" not in row and "<b>" not in row and "<i>" not in row
        assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#x27;Brien" in row
        assert 'title="De garde &quot;nuit&quot; &lt;b&gt;"' in row
        assert f'<a href="/exams/{exam.pk}/">&lt;img src=x onerror=&quot;alert(2)&quot;&gt;</a>' in row


def test_the_rows_follow_the_reader_s_language(client, site_a, radiologist_a):
    now = timezone.now()
    ExamFactory(
        site=site_a, status="ASSIGNED", assigned_to=radiologist_a, deadline_at=now + datetime.timedelta(hours=2)
    )
    ExamFactory(site=site_a, status="RECEIVING", priority="VITAL", number_of_instances=3, study_description="")
    client.force_login(radiologist_a)
    french = client.get("/worklist/", **HTMX).content.decode()
    english = client.get("/worklist/", HTTP_ACCEPT_LANGUAGE="en", **HTMX).content.decode()
    assert ">urgence vitale<" in french and ">life-threatening emergency<" in english
    assert "3 images reçues" in french and "3 images received" in english
    assert "(sans description)" in french and "(no description)" in english
    assert ">Lire<" in french and ">Read<" in english and ">Take<" in english
    assert "reste 1 h 59" in french or "reste 2 h 00" in french
    local = timezone.localtime(now, zoneinfo.ZoneInfo(site_a.timezone))
    assert local.strftime("%d/%m/%Y") in french and local.strftime("%Y-%m-%d") in english


def test_an_empty_list_says_so(client, site_a, radiologist_a):
    client.force_login(radiologist_a)
    body = client.get("/worklist/", **HTMX).content.decode()
    assert "Aucun examen ne vous est attribué." in body
    assert "Aucun examen en attente pour vos établissements." in body
    assert "data-exam-id=" not in body
