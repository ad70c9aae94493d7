"""Téléexpertise: opinion requests routed like exams, answered, cited, escalated; scoped."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Notification
from reports import services
from reports.models import OpinionRequest
from sites.models import Subspecialty
from sites.tests.factories import CredentialFactory, RadiologistFactory
from worklist.models import ExamEvent
from worklist.services import NotPermitted, exam_claim
from worklist.tests import rota
from worklist.tests.factories import ExamFactory


@pytest.fixture
def neuro():
    return Subspecialty.objects.get(code="neuro")


def _neuro_radiologist(site, neuro, name):
    rad = RadiologistFactory(user__ght=site.ght, user__last_name=name)
    rad.subspecialties.add(neuro)
    CredentialFactory(radiologist=rad, site=site)
    return rad.user


@pytest.fixture
def neuro_on_duty(site_a, neuro):
    """A neuro expert on duty now on the GHT's neuro line covering site A."""
    expert = _neuro_radiologist(site_a, neuro, "NEURO")
    now = timezone.now()
    line = rota.line(sites=[site_a], name="Ligne neuro-AVC", subspecialty="neuro")
    rota.shift(user=expert, on=line, start=now - datetime.timedelta(hours=1), end=now + datetime.timedelta(hours=8))
    return expert


@pytest.fixture
def reading(site_a, radiologist_a):
    exam = ExamFactory(
        site=site_a, status="ASSIGNED", assigned_to=radiologist_a, patient_birth_date=datetime.date(1950, 3, 2)
    )
    return exam_claim(exam=exam, by=radiologist_a)


def test_a_subspecialty_request_goes_to_the_expert_on_duty(reading, radiologist_a, neuro_on_duty, neuro):
    opinion = services.opinion_request_create(
        exam=reading, by=radiologist_a, question="Thrombectomie ?", subspecialty=neuro
    )
    assert opinion.expert == neuro_on_duty
    assert "Ligne neuro-AVC" in opinion.routing_reason
    assert opinion.deadline_at > timezone.now()
    assert Notification.objects.filter(user=neuro_on_duty, link=reverse("opinion_detail", args=[opinion.pk])).exists()
    assert ExamEvent.objects.filter(exam=reading, reason__startswith="Avis demandé").exists()


def test_nobody_on_duty_leaves_it_to_every_credentialed_expert(reading, radiologist_a, site_a, neuro):
    off_duty = _neuro_radiologist(site_a, neuro, "OFFDUTY")
    opinion = services.opinion_request_create(exam=reading, by=radiologist_a, question="Avis ?", subspecialty=neuro)
    assert opinion.expert is None
    assert Notification.objects.filter(user=off_duty).exists()
    from reports.selectors import opinion_list_for_expert

    assert list(opinion_list_for_expert(user=off_duty)) == [opinion]
    # The first to answer takes it.
    services.opinion_answer(opinion=opinion, by=off_duty, answer="Pas d'indication.")
    opinion.refresh_from_db()
    assert opinion.expert == off_duty


def test_a_named_colleague_must_read_for_the_site(reading, radiologist_a, radiologist_b):
    with pytest.raises(services.ApplicationError):
        services.opinion_request_create(exam=reading, by=radiologist_a, question="?", expert=radiologist_b)
    assert not OpinionRequest.objects.exists()


def test_the_requester_is_never_their_own_expert(reading, radiologist_a, neuro):
    radiologist_a.radiologist.subspecialties.add(neuro)
    now = timezone.now()
    line = rota.line(sites=[reading.site], name="Ligne neuro-AVC", subspecialty="neuro")
    rota.shift(
        user=radiologist_a, on=line, start=now - datetime.timedelta(hours=1), end=now + datetime.timedelta(hours=1)
    )
    opinion = services.opinion_request_create(exam=reading, by=radiologist_a, question="?", subspecialty=neuro)
    assert opinion.expert_id != radiologist_a.pk


def test_only_the_expert_answers_and_only_once(reading, radiologist_a, neuro_on_duty, neuro, site_a):
    opinion = services.opinion_request_create(exam=reading, by=radiologist_a, question="?", subspecialty=neuro)
    other = _neuro_radiologist(site_a, neuro, "OTHER")
    with pytest.raises(NotPermitted):
        services.opinion_answer(opinion=opinion, by=other, answer="Moi aussi.")
    services.opinion_answer(opinion=opinion, by=neuro_on_duty, answer="Occlusion M1 : thrombectomie.")
    with pytest.raises(services.ConflictError):
        services.opinion_answer(opinion=opinion, by=neuro_on_duty, answer="Encore.")
    assert Notification.objects.filter(user=radiologist_a, text__contains="a répondu").exists()


def test_the_answer_is_cited_in_the_draft(reading, radiologist_a, neuro_on_duty, neuro):
    report = services.report_get_or_create_draft(exam=reading, by=radiologist_a)
    report = services.report_save_draft(report=report, by=radiologist_a, revision=0, values={"findings": "Occlusion."})
    opinion = services.opinion_request_create(exam=reading, by=radiologist_a, question="?", subspecialty=neuro)
    services.opinion_answer(opinion=opinion, by=neuro_on_duty, answer="Thrombectomie indiquée.")
    report = services.opinion_cite_in_report(opinion=opinion, by=radiologist_a, revision=report.revision)
    assert report.findings.startswith("Occlusion.\n\nAvis de ")
    assert report.findings.endswith(": Thrombectomie indiquée.")


def test_overdue_requests_are_rerouted_once_and_the_requester_told(
    reading, radiologist_a, neuro_on_duty, neuro, site_a, ght_admin_a
):
    opinion = services.opinion_request_create(exam=reading, by=radiologist_a, question="?", subspecialty=neuro)
    second = _neuro_radiologist(site_a, neuro, "SECOND")
    now = timezone.now()
    line = rota.line(sites=[site_a], name="Ligne neuro 2", subspecialty="neuro")
    rota.shift(user=second, on=line, start=now - datetime.timedelta(hours=1), end=now + datetime.timedelta(hours=8))
    late = opinion.deadline_at + datetime.timedelta(minutes=1)
    assert services.opinions_escalate(now=late) == [opinion.pk]
    assert services.opinions_escalate(now=late + datetime.timedelta(hours=1)) == []
    opinion.refresh_from_db()
    assert opinion.expert == second
    assert Notification.objects.filter(user=radiologist_a, text__contains="sans réponse").exists()
    assert Notification.objects.filter(user=ght_admin_a, text__contains="sans réponse").exists()
    assert Notification.objects.filter(user=second).exists()


def test_pages_request_answer_and_cite(client, reading, radiologist_a, neuro_on_duty, neuro):
    client.force_login(radiologist_a)
    client.get(reverse("report_page", args=[reading.pk]))
    page = client.post(
        reverse("opinion_request_create", args=[reading.pk]),
        {"question": "Thrombectomie ?", "subspecialty": neuro.pk},
        follow=True,
    )
    assert "Demande d&#x27;avis envoyée." in page.content.decode()
    opinion = OpinionRequest.objects.get()
    client.force_login(neuro_on_duty)
    inbox = client.get(reverse("opinion_list"))
    assert reverse("opinion_detail", args=[opinion.pk]) in inbox.content.decode()
    detail = client.get(reverse("opinion_detail", args=[opinion.pk]))
    assert "Thrombectomie ?" in detail.content.decode()
    client.post(reverse("opinion_answer", args=[opinion.pk]), {"answer": "Oui, occlusion M1."})
    client.force_login(radiologist_a)
    report_page = client.get(reverse("report_page", args=[reading.pk]))
    assert 'data-testid="opinion-answer"' in report_page.content.decode()
    client.post(reverse("opinion_cite", args=[opinion.pk]), {"revision": 0})
    assert "Oui, occlusion M1." in reading.report.__class__.objects.get(exam=reading).findings


def test_both_or_neither_target_is_refused_by_the_form(client, reading, radiologist_a, neuro, site_a):
    colleague = _neuro_radiologist(site_a, neuro, "COLLEGUE")
    client.force_login(radiologist_a)
    url = reverse("opinion_request_create", args=[reading.pk])
    client.post(url, {"question": "?", "subspecialty": neuro.pk, "expert": colleague.pk})
    client.post(url, {"question": "?"})
    assert not OpinionRequest.objects.exists()


def test_another_ght_cannot_see_or_answer(client, reading, radiologist_a, radiologist_b, neuro_on_duty, neuro):
    opinion = services.opinion_request_create(exam=reading, by=radiologist_a, question="?", subspecialty=neuro)
    client.force_login(radiologist_b)
    assert client.get(reverse("opinion_detail", args=[opinion.pk])).status_code == 404
    assert client.post(reverse("opinion_answer", args=[opinion.pk]), {"answer": "x"}).status_code == 404
    assert opinion.pk not in [o.pk for o in client.get(reverse("opinion_list")).context["opinions"]]
    assert AuditEvent.objects.filter(action="opinion.denied", user=radiologist_b).exists()
    opinion.refresh_from_db()
    assert opinion.status == "open"
