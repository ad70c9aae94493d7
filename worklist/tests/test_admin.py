"""The exams admin: read-only, scoped to the GHT's sites, and audited."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse

from core.models import AuditEvent
from sites.models import Subspecialty
from worklist.models import EscalationStep, Exam, ExamEvent, Instance, RoutingRule, Series, SlaPolicy
from worklist.tests.factories import ExamFactory, InstanceFactory, SeriesFactory

# One object of the given site's GHT per registered worklist model.
OBJECTS: dict[type[models.Model], Callable[[Any], models.Model]] = {
    Exam: lambda site: ExamFactory(site=site),
    Series: lambda site: SeriesFactory(exam__site=site),
    Instance: lambda site: InstanceFactory(series__exam__site=site),
    ExamEvent: lambda site: ExamEvent.objects.create(
        exam=ExamFactory(site=site), from_status="RECEIVING", to_status="READY"
    ),
    RoutingRule: lambda site: RoutingRule.objects.create(
        ght=site.ght, name="Neuro", subspecialty=Subspecialty.objects.get(code="neuro"), body_part_pattern="HEAD"
    ),
    SlaPolicy: lambda site: SlaPolicy.objects.create(ght=site.ght, priority="URGENT", deadline_minutes=45),
    EscalationStep: lambda site: EscalationStep.objects.create(ght=site.ght, order=1, level=0),
}
# The routing configuration: each GHT admin writes their own GHT's rows.
CONFIG_MODELS = (RoutingRule, SlaPolicy, EscalationStep)

worklist_models = pytest.mark.parametrize("model", list(OBJECTS), ids=lambda m: m.__name__)
read_only_models = pytest.mark.parametrize(
    "model", [m for m in OBJECTS if m not in CONFIG_MODELS], ids=lambda m: m.__name__
)
config_models = pytest.mark.parametrize("model", CONFIG_MODELS, ids=lambda m: m.__name__)


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_it_covers_every_registered_worklist_admin():
    registered = {model for model in admin.site._registry if model._meta.app_label == "worklist"}
    assert registered == set(OBJECTS)


@worklist_models
def test_it_shows_a_ght_admin_only_their_sites_rows(client, site_a, ght_admin_a, ght_admin_b, model):
    obj = OBJECTS[model](site_a)

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
def test_it_lets_nobody_add_change_or_delete(client, site_a, platform_admin, model):
    obj = OBJECTS[model](site_a)
    client.force_login(platform_admin)

    assert client.get(admin_url(model, "change", obj.pk)).status_code == 200
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_it_does_not_change_an_exams_status_from_the_admin(client, exam_a, platform_admin):
    client.force_login(platform_admin)
    response = client.post(admin_url(Exam, "change", exam_a.pk), {"status": "CANCELLED"})

    assert response.status_code == 403
    exam_a.refresh_from_db()
    assert exam_a.status == "READY"


def test_it_audits_the_viewing_of_an_exams_page(client, exam_a, ght_admin_a):
    client.force_login(ght_admin_a)
    response = client.get(admin_url(Exam, "change", exam_a.pk), REMOTE_ADDR="10.0.0.7")

    assert response.status_code == 200
    assert exam_a.patient_name in response.content.decode()
    event = AuditEvent.objects.get()
    assert (event.action, event.user, event.object_type, event.object_id) == (
        "exam.view",
        ght_admin_a,
        "worklist.exam",
        str(exam_a.pk),
    )
    assert event.detail == {"via": "admin"}
    assert event.ip_address == "10.0.0.7"


def test_it_audits_nothing_when_the_exam_is_out_of_reach(client, exam_a, ght_admin_b):
    client.force_login(ght_admin_b)
    client.get(admin_url(Exam, "change", exam_a.pk))

    assert not AuditEvent.objects.exists()


def test_it_keeps_patient_names_out_of_the_exam_list(client, exam_a, ght_admin_a):
    client.force_login(ght_admin_a)
    response = client.get(admin_url(Exam, "changelist"))

    assert exam_a.accession_number in response.content.decode()
    assert exam_a.patient_name not in response.content.decode()
    assert not AuditEvent.objects.exists()


@config_models
def test_a_ght_admin_configures_routing_for_their_ght_only(client, site_a, ght_admin_a, ght_admin_b, model):
    obj = OBJECTS[model](site_a)
    client.force_login(ght_admin_a)
    assert client.get(admin_url(model, "add")).status_code == 200
    response = client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    ght_choices = {choice.pk for choice in response.context["adminform"].form.fields["ght"].queryset}
    assert ght_choices == {site_a.ght_id}

    client.force_login(ght_admin_b)
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 302
    assert model.objects.filter(pk=obj.pk).exists()
    client.force_login(ght_admin_a)
    client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
    assert not model.objects.filter(pk=obj.pk).exists()
