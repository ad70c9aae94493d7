"""The built-in viewer's images: a signed URL per series, then one cheap request per image (issue #6).

The reading page (and ``GET exams/<id>/images/`` for a prior) is rendered for a
user whose scope has just been checked (``exam_or_denied``). It gives the viewer,
for each series, a capability URL ``/viewer/images/<token>/`` + SOP Instance UID.
The token signs ``"<user id>.<series id>"`` with django.core.signing, salted with
the user's session key, and is valid ``MAX_AGE`` seconds. Handing the URLs out is
audited once per series ("viewer.series_opened", with the number of images).

``viewer_image`` is a plain Django view: no DRF, and neither the session nor the
user is loaded. It checks the signature against the session cookie of the request
(another user's token, a forged or an expired one: 403, audited
"viewer.denied"), then ONE query finds the storage key by (series id from the
token, SOP Instance UID) while checking that the session is still open and the
user still active (logout and deactivation revoke at once), and streams the
file. A UID of another series, of any site, is a 404, audited too. UIDs are only
compared in SQL; the file is opened through the row's storage key.

Why: the WADO-URI view costs 4.4–5.8 ms of CPU and 4 queries per image
in-process (DRF, session, user, scoped lookup, an audit row) against 1.8–2.5 ms
and one query here; under gunicorn with Chromium on the same cores, that was
most of a 300-image CT's 7.8 s (docs/benchmarks.md, "Viewer (issue #6)"). What is given up: a
credential withdrawn while a token lives is not re-checked for those
``MAX_AGE`` seconds (the token covers only the series that was in scope when
the page was drawn). WADO-URI and DICOMweb stay scoped and audited per request
for external viewers.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import signing
from django.db.models import Exists
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from core.services import audit_log
from dicom_gateway.dicomweb_selectors import instance_list_for_exam
from dicom_gateway.storage import get_storage
from sites.models import User
from worklist.models import Exam, Instance

# Long enough for a 300-image series on a slow hospital link; the viewer asks for
# fresh URLs (GET exams/<id>/images/) before loading a series with older ones.
MAX_AGE = 15 * 60
_SALT = "dicom_gateway.viewer_images"
DICOM = "application/dicom"


def _signer(session_key: str) -> signing.TimestampSigner:
    # The session key is part of the HMAC key: a token is worthless without the
    # cookie of the session it was given to, and is never shown the key itself.
    return signing.TimestampSigner(salt=f"{_SALT}:{session_key}")


def series_token_issue(*, user_id: int, series_id: int, session_key: str) -> str:
    """A token for the images of one series, for one user's session (``MAX_AGE`` seconds)."""
    return _signer(session_key).sign(f"{user_id}.{series_id}")


def series_token_check(*, token: str, session_key: str) -> tuple[int, int]:
    """(user id, series id) of a token made by series_token_issue for this session key.

    Raises:
        signing.SignatureExpired: older than MAX_AGE.
        signing.BadSignature: forged, altered, or given to another session.
    """
    if not session_key:
        raise signing.BadSignature("no session")
    value = _signer(session_key).unsign(token, max_age=MAX_AGE)
    user_id, series_id = value.split(".")
    return int(user_id), int(series_id)


def instance_storage_key_for_token(*, user_id: int, series_id: int, sop_instance_uid: str, session_key: str) -> str:
    """The storage key of one instance of the series, if the session is open and the user active; else None.

    One query: the instance row, and EXISTS on the session and the user.
    """
    open_session = Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now())
    active_user = User.objects.filter(pk=user_id, is_active=True)
    keys = (
        Instance.objects.filter(series_id=series_id, sop_instance_uid=sop_instance_uid)
        .filter(Exists(open_session), Exists(active_user))
        .order_by()
        .values_list("storage_key", flat=True)[:1]
    )
    return next(iter(keys), None)


def _images_base(token: str) -> str:
    # The route's own URL with a stand-in UID, less the UID: the viewer appends each image's.
    return reverse("viewer_image", kwargs={"token": token, "uid": "0"}).removesuffix("0")


def viewer_manifest_for_exam(*, request: HttpRequest, exam: Exam, page: str) -> dict:
    """The exam's series for the viewer, each with its images' SOP Instance UIDs in order and their URL.

    ``images`` + a SOP Instance UID is an image's URL: UIDs are digits and dots,
    so nothing needs quoting, and the page stays small for a 300-image series.
    ``exam`` must already be scoped to ``request.user``. Audited once per series
    ("viewer.series_opened"); ``page`` says where ("exam_detail", "viewer", "prior").
    """
    session_key = request.session.session_key or ""
    series = {
        s.pk: {
            "id": s.pk,
            "number": s.series_number,
            "description": s.series_description,
            "modality": s.modality,
            "uid": s.series_instance_uid,
            "thumbnail": reverse("exam_series_thumbnail", kwargs={"pk": exam.pk, "series_id": s.pk}),
            # + "<SOP Instance UID>/metadata": the tag panel's WADO-RS metadata of one image.
            "instances_url": reverse(
                "dicomweb:series-retrieve", kwargs={"study": exam.study_instance_uid, "series": s.series_instance_uid}
            )
            + "/instances/",
            "images": _images_base(
                series_token_issue(user_id=request.user.pk, series_id=s.pk, session_key=session_key)
            ),
            "instances": [],
        }
        for s in exam.series.order_by("series_number", "id")
    }
    # Plain rows, not model instances: a 300-image series is one cheap query.
    for series_id, sop_instance_uid in instance_list_for_exam(exam=exam).values_list("series_id", "sop_instance_uid"):
        series[series_id]["instances"].append(sop_instance_uid)
    listed = [s for s in series.values() if s["instances"]]
    for s in listed:
        audit_log(
            action="viewer.series_opened",
            request=request,
            obj=exam,
            detail={"page": page, "series_id": s["id"], "series": s["uid"], "instances": len(s["instances"])},
        )
    return {
        "exam": exam.pk,
        "study_instance_uid": exam.study_instance_uid,
        # Seconds the image URLs stay valid.
        "expires_in": MAX_AGE,
        "series": listed,
    }


def _denied(request: HttpRequest, uid: str, reason: str) -> None:
    # request.user costs the session and user queries: only paid on this path.
    audit_log(action="viewer.denied", request=request, detail={"reason": reason, "instance": uid})


@require_safe
def viewer_image(request: HttpRequest, token: str, uid: str) -> HttpResponse:
    """One stored instance as ``application/dicom``, for the holder of a series token and its session."""
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    try:
        user_id, series_id = series_token_check(token=token, session_key=session_key)
    except signing.SignatureExpired:
        _denied(request, uid, "expired")
        return HttpResponseForbidden()
    except (signing.BadSignature, ValueError):
        _denied(request, uid, "invalid")
        return HttpResponseForbidden()
    key = instance_storage_key_for_token(
        user_id=user_id, series_id=series_id, sop_instance_uid=uid, session_key=session_key
    )
    if key is None:
        _denied(request, uid, "not_found")
        raise Http404
    response = FileResponse(get_storage().open(key), content_type=DICOM)
    del response["Content-Disposition"]  # would name the storage key
    # Patient data: never kept in a shared or on-disk browser cache.
    response["Cache-Control"] = "private, no-store"
    return response
