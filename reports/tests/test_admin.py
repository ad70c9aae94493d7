"""The reports admin: GHT-scoped, signed documents read-only, failed deliveries resent by the GHT's admins."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from core.models import AuditEvent
from reports.models import Addendum, Report, ReportDelivery, ReportTemplate, RisEndpoint
from reports.tests.factories import ReportTemplateFactory
from reports.tests.signed import signed_addendum, signed_report
from worklist.tests.factories import ExamFactory


def _report(site, signer) -> Report:
    return signed_report(exam=ExamFactory(site=site, status="REPORTED"), signer=signer)


def _delivery(site, signer, status: str = "failed") -> ReportDelivery:
    return ReportDelivery.objects.create(
        report=_report(site, signer),
        status=status,
        sop_instance_uid=f"2.25.{timezone.now().timestamp():.0f}{ReportDelivery.objects.count()}",
        attempts=12,
        last_error="Connexion impossible",
    )


# One object of the given site's GHT per registered reports model (signer: a radiologist of that GHT).
OBJECTS: dict[type[models.Model], Callable[[Any, Any], models.Model]] = {
    ReportTemplate: lambda site, rad: ReportTemplateFactory(ght=site.ght),
    RisEndpoint: lambda site, rad: RisEndpoint.objects.create(site=site, host="ris.example", port=2575),
    Report: lambda site, rad: _report(site, rad),
    Addendum: lambda site, rad: signed_addendum(report=_report(site, rad), signer=rad),
    ReportDelivery: lambda site, rad: _delivery(site, rad),
}
READ_ONLY = (Report, Addendum, ReportDelivery)

reports_models = pytest.mark.parametrize("model", list(OBJECTS), ids=lambda m: m.__name__)
read_only_models = pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_it_covers_every_registered_reports_admin():
    registered = {model for model in admin.site._registry if model._meta.app_label == "reports"}
    assert registered == set(OBJECTS)


@reports_models
def test_it_shows_a_ght_admin_only_their_sites_rows(client, site_a, radiologist_a, ght_admin_a, ght_admin_b, model):
    obj = OBJECTS[model](site_a, radiologist_a)

    client.force_login(ght_admin_b)
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert obj.pk not in {row.pk for row in response.context["cl"].result_list}
    response = client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")

    client.force_login(ght_admin_a)
    response = client.get(admin_url(model, "changelist"))
    assert obj.pk in {row.pk for row in response.context["cl"].result_list}
    assert client.get(admin_url(model, "change", obj.pk)).status_code == 200


@read_only_models
def test_it_lets_nobody_add_change_or_delete_signed_documents(client, site_a, radiologist_a, platform_admin, model):
    obj = OBJECTS[model](site_a, radiologist_a)
    client.force_login(platform_admin)

    assert client.get(admin_url(model, "change", obj.pk)).status_code == 200
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_it_audits_the_viewing_of_a_report(client, site_a, radiologist_a, ght_admin_a):
    report = _report(site_a, radiologist_a)
    client.force_login(ght_admin_a)
    response = client.get(admin_url(Report, "change", report.pk))

    assert escape(report.conclusion) in response.content.decode()
    event = AuditEvent.objects.get(action="report.view")
    assert (event.user, event.object_id, event.detail) == (ght_admin_a, str(report.pk), {"via": "admin"})


def test_a_ght_admin_sees_failures_and_resends_them(
    client, site_a, site_b, radiologist_a, radiologist_b, ght_admin_a, django_capture_on_commit_callbacks
):
    mine = _delivery(site_a, radiologist_a)
    theirs = _delivery(site_b, radiologist_b)
    client.force_login(ght_admin_a)
    page = client.get(admin_url(ReportDelivery, "changelist"), {"status__exact": "failed"})
    assert [row.pk for row in page.context["cl"].result_list] == [mine.pk]
    assert "Renvoyer" in page.content.decode()

    # A forged POST naming another GHT's delivery resends only what the admin may see.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            admin_url(ReportDelivery, "changelist"),
            {"action": "resend", "_selected_action": [mine.pk, theirs.pk]},
            follow=True,
        )

    assert response.status_code == 200
    mine.refresh_from_db()
    theirs.refresh_from_db()
    # No PACS configured for site A: the queued send fails again, but as a fresh first attempt.
    assert (mine.status, mine.attempts) == ("pending", 1)
    assert mine.next_attempt_at > timezone.now()
    assert (theirs.status, theirs.attempts) == ("failed", 12)
    assert AuditEvent.objects.filter(action="report.delivery_resend", object_id=str(mine.pk)).count() == 1
    assert not AuditEvent.objects.filter(action="report.delivery_resend", object_id=str(theirs.pk)).exists()


def test_a_delivered_delivery_is_not_resent(client, site_a, radiologist_a, ght_admin_a):
    delivered = _delivery(site_a, radiologist_a, status="delivered")
    client.force_login(ght_admin_a)
    client.post(admin_url(ReportDelivery, "changelist"), {"action": "resend", "_selected_action": [delivered.pk]})
    delivered.refresh_from_db()
    assert delivered.status == "delivered"
