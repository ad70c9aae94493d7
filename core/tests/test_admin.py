"""The audit log admin: read-only, for platform administrators only."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from core.services import audit_log

CHANGELIST = reverse("admin:core_auditevent_changelist")


@pytest.fixture
def events(radiologist_a, merm_a, exam_a):
    return [
        audit_log(action="exam.view", user=radiologist_a, obj=exam_a),
        audit_log(action="exam.list", user=merm_a),
    ]


def _listed(response) -> set[int]:
    assert response.status_code == 200
    return {event.pk for event in response.context["cl"].result_list}


def test_it_shows_the_audit_log_to_the_platform_admin(client, events, platform_admin):
    client.force_login(platform_admin)
    assert _listed(client.get(CHANGELIST)) == {e.pk for e in events}


def test_it_searches_the_audit_log_by_username_and_object(client, events, platform_admin, exam_a):
    client.force_login(platform_admin)
    assert _listed(client.get(CHANGELIST, {"q": "merm_a"})) == {events[1].pk}
    assert _listed(client.get(CHANGELIST, {"q": str(exam_a.pk)})) == {events[0].pk}


def test_it_filters_the_audit_log_by_action(client, events, platform_admin):
    client.force_login(platform_admin)
    assert _listed(client.get(CHANGELIST, {"action": "exam.list"})) == {events[1].pk}


def test_it_keeps_the_audit_log_from_ght_admins(client, events, ght_admin_a):
    client.force_login(ght_admin_a)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:core_auditevent_change", args=[events[0].pk])).status_code == 403


def test_it_lets_nobody_add_change_or_delete_an_audit_event(client, events, platform_admin):
    event = events[0]
    change = reverse("admin:core_auditevent_change", args=[event.pk])
    client.force_login(platform_admin)

    assert client.get(change).status_code == 200
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    assert client.post(change, {"action": "rien"}).status_code == 403
    delete = reverse("admin:core_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "exam.view"
    assert AuditEvent.objects.count() == len(events)
