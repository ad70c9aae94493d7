"""The site board's live part: a conditional poll answers 304 until something it shows changes."""

import pytest
from django.urls import reverse

from worklist.tests.factories import ExamFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def exam(site_a):
    return ExamFactory(site=site_a, status="RECEIVING", number_of_instances=3)


def test_the_poll_is_a_fragment_with_an_etag_then_304(client, merm_a, exam):
    client.force_login(merm_a)
    page = client.get(reverse("site_board"))
    assert b'id="board-live"' in page.content
    poll = client.get(reverse("site_board"), **HTMX)
    assert poll.status_code == 200
    assert b"<html" not in poll.content and f'data-exam-id="{exam.pk}"'.encode() in poll.content
    again = client.get(reverse("site_board"), HTTP_IF_NONE_MATCH=poll["ETag"], **HTMX)
    assert again.status_code == 304
    assert again.content == b""


def test_a_new_image_or_status_changes_the_etag(client, merm_a, exam):
    client.force_login(merm_a)
    etag = client.get(reverse("site_board"), **HTMX)["ETag"]
    # What the gateway does: an UPDATE that does not touch updated_at.
    type(exam).objects.filter(pk=exam.pk).update(number_of_instances=4)
    changed = client.get(reverse("site_board"), HTTP_IF_NONE_MATCH=etag, **HTMX)
    assert changed.status_code == 200
    type(exam).objects.filter(pk=exam.pk).update(status="READY")
    assert client.get(reverse("site_board"), HTTP_IF_NONE_MATCH=changed["ETag"], **HTMX).status_code == 200


def test_another_site_exam_does_not_change_my_board(client, merm_a, exam, site_b):
    client.force_login(merm_a)
    etag = client.get(reverse("site_board"), **HTMX)["ETag"]
    ExamFactory(site=site_b, status="RECEIVING")
    assert client.get(reverse("site_board"), HTTP_IF_NONE_MATCH=etag, **HTMX).status_code == 304
