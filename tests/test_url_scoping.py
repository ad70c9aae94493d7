"""Tenant isolation, generated from the URL conf: a new endpoint cannot escape it.

Every route (API or page, outside admin/ and i18n/) that takes an object id
must have a case in OBJECT_KWARGS naming an object of GHT B. Each user of
GHT A then tries every HTTP method on it: the answer is 404 (or 403/405 when
the role or the method is refused), never a success, never the object's data,
and the object is unchanged afterwards.

Every API route without an id that answers GET with 200 must have a case in
LIST_SCOPE, and GHT A's users never get a GHT B object in it.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from dicom_gateway import statuses
from dicom_gateway.services import instance_receive
from dicom_gateway.tests.dicom_factories import encode, make_ct_image
from sites.models import Subspecialty
from sites.tests.factories import (
    ModalityFactory,
    RotaMonthFactory,
    ShiftFactory,
    ShiftSwapFactory,
    UnavailabilityFactory,
)
from worklist.models import Exam

SKIPPED_PREFIXES = ("admin/", "i18n/")

# Routes with an object id that need no GHT B case. Keep it short and say why.
ALLOWLIST: dict[str, str] = {
    "rota_ical": "no login: the secret token is the key (sites/tests/test_rota_views.py checks unknown/revoked = 404)",
}

# Routes without an id that answer 200 but carry no tenant data.
LIST_ALLOWLIST: dict[str, str] = {
    "api:health": "no auth, no data: component statuses only",
    "api:subspecialty-list": "reference data, the same for every GHT",
    "schema": "the OpenAPI description of the API, no data",
    "api-docs": "the Swagger UI page, no data",
}

Cast = SimpleNamespace
ObjectCase = Callable[[Cast], tuple[models.Model, dict[str, Any]]]


def dicom_b(c: Cast, *levels: str) -> tuple[models.Model, dict[str, Any]]:
    """Exam B and the UIDs of a real instance stored in it (DICOMweb routes take UIDs, not ids)."""
    if not hasattr(c, "dicom_b"):
        ds = make_ct_image(
            StudyInstanceUID=c.exam_b.study_instance_uid,
            PatientName="BRAVOSECRET^Patient",
            PatientID="PIDBRAVO",
            AccessionNumber="ACCBRAVO",
        )
        assert instance_receive(data=encode(ds), modality=c.modality_b).status == statuses.SUCCESS
        c.dicom_b = {"study": ds.StudyInstanceUID, "series": ds.SeriesInstanceUID, "instance": ds.SOPInstanceUID}
    uids = {"study": c.dicom_b["study"]} | {level: c.dicom_b[level] for level in levels if level in c.dicom_b}
    return c.exam_b, uids | ({"frames": "1"} if "frames" in levels else {})


def viewer_image_b(c: Cast) -> tuple[models.Model, dict[str, Any]]:
    """A viewer image URL signed for GHT B's radiologist, in their own session, for an instance of exam B.

    GHT A's users send their own session cookie, which the signature does not match (403).
    """
    from importlib import import_module

    from django.conf import settings

    from dicom_gateway.viewer_images import series_token_issue

    exam, uids = dicom_b(c, "series", "instance")
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session["_auth_user_id"] = str(c.radiologist_b.user.pk)
    session.create()
    series = exam.series.get(series_instance_uid=uids["series"])
    token = series_token_issue(user_id=c.radiologist_b.user.pk, series_id=series.pk, session_key=session.session_key)
    return exam, {"token": token, "uid": uids["instance"]}


def _plus(case: tuple[models.Model, dict[str, Any]], **kwargs: Any) -> tuple[models.Model, dict[str, Any]]:
    return case[0], case[1] | kwargs


def report_b(c: Cast) -> tuple[models.Model, dict[str, Any]]:
    """Exam B's report, signed (the report routes answer 404 for a draft, even to the platform admin)."""
    from reports.tests.signed import signed_report

    if not hasattr(c, "report_b"):
        c.report_b = signed_report(exam=c.exam_b, signer=c.radiologist_b.user)
    return c.report_b, {"exam_id": c.exam_b.pk}


def critical_alert_b(c: Cast) -> tuple[models.Model, dict[str, Any]]:
    """A critical finding of exam B, not yet acknowledged."""
    from reports.models import CriticalAlert, Report
    from reports.tests.signed import signed_report

    if not hasattr(c, "report_b"):
        c.report_b = Report.objects.filter(exam=c.exam_b).first() or signed_report(
            exam=c.exam_b, signer=c.radiologist_b.user
        )
    alert, _ = CriticalAlert.objects.get_or_create(report=c.report_b)
    return alert, {"alert_id": alert.pk}


def opinion_b(c: Cast) -> tuple[models.Model, dict[str, Any]]:
    """An open opinion request on exam B, addressed to GHT B's radiologist."""
    from reports.models import OpinionRequest

    if not hasattr(c, "opinion_b"):
        c.opinion_b = OpinionRequest.objects.create(
            exam=c.exam_b,
            requested_by=c.radiologist_b.user,
            expert=c.radiologist_b.user,
            question="BRAVOSECRET question",
            deadline_at=c.exam_b.received_at,
        )
    return c.opinion_b, {"opinion_id": c.opinion_b.pk}


def request_b(c: Cast) -> tuple[models.Model, dict[str, Any]]:
    """An exam request of site B."""
    from worklist.tests.factories import ExamRequestFactory

    if not hasattr(c, "request_b"):
        c.request_b = ExamRequestFactory(
            site=c.site_b, created_by=c.radiologist_b.user, patient_family_name="BRAVOSECRET"
        )
    return c.request_b, {"request_id": c.request_b.pk}


def request_document_b(c: Cast) -> models.Model:
    """A referral attached to site B's request."""
    from django.core.files.base import ContentFile

    from worklist.models import RequestDocument

    request, _ = request_b(c)
    document = RequestDocument(
        request=request, original_name="b.pdf", content_type="application/pdf", size=9, uploaded_by=request.created_by
    )
    document.file.save("upload", ContentFile(b"%PDF-1.4 BRAVOSECRET"), save=True)
    return document


# url name -> (object of GHT B, reverse() kwargs). A name that is not (yet) in the
# URL conf is ignored, so pages announced by other issues can be listed here early.
OBJECT_KWARGS: dict[str, ObjectCase] = {
    # API
    "api:ght-detail": lambda c: (c.ght_b, {"ght_id": c.ght_b.pk}),
    "api:ght-update": lambda c: (c.ght_b, {"ght_id": c.ght_b.pk}),
    "api:ght-delete": lambda c: (c.ght_b, {"ght_id": c.ght_b.pk}),
    "api:site-detail": lambda c: (c.site_b, {"site_id": c.site_b.pk}),
    "api:site-update": lambda c: (c.site_b, {"site_id": c.site_b.pk}),
    "api:site-delete": lambda c: (c.site_b, {"site_id": c.site_b.pk}),
    "api:modality-detail": lambda c: (c.modality_b, {"modality_id": c.modality_b.pk}),
    "api:modality-update": lambda c: (c.modality_b, {"modality_id": c.modality_b.pk}),
    "api:modality-delete": lambda c: (c.modality_b, {"modality_id": c.modality_b.pk}),
    "api:radiologist-detail": lambda c: (c.radiologist_b, {"radiologist_id": c.radiologist_b.pk}),
    "api:radiologist-update": lambda c: (c.radiologist_b, {"radiologist_id": c.radiologist_b.pk}),
    "api:exam-detail": lambda c: (c.exam_b, {"exam_id": c.exam_b.pk}),
    "api:exam-take": lambda c: (c.exam_b, {"exam_id": c.exam_b.pk}),
    "api:exam-return-to-pool": lambda c: (c.exam_b, {"exam_id": c.exam_b.pk}),
    "api:exam-reassign": lambda c: (c.exam_b, {"exam_id": c.exam_b.pk}),
    "api:exam-claim": lambda c: (c.exam_b, {"exam_id": c.exam_b.pk}),
    "api:exam-release": lambda c: (c.exam_b, {"exam_id": c.exam_b.pk}),
    "api:exam-report-pdf": report_b,
    "api:exam-report-fhir": report_b,
    # DICOMweb (QIDO-RS, WADO-RS)
    "dicomweb:study": lambda c: dicom_b(c),
    "dicomweb:study-metadata": lambda c: dicom_b(c),
    "dicomweb:study-series": lambda c: dicom_b(c),
    "dicomweb:study-instances": lambda c: dicom_b(c),
    "dicomweb:series-retrieve": lambda c: dicom_b(c, "series"),
    "dicomweb:series-metadata": lambda c: dicom_b(c, "series"),
    "dicomweb:series-instances": lambda c: dicom_b(c, "series"),
    "dicomweb:instance": lambda c: dicom_b(c, "series", "instance"),
    "dicomweb:instance-metadata": lambda c: dicom_b(c, "series", "instance"),
    "dicomweb:instance-frames": lambda c: dicom_b(c, "series", "instance", "frames"),
    "dicomweb:instance-bulkdata": lambda c: _plus(dicom_b(c, "series", "instance"), tag="7FE00010"),
    "dicomweb:instance-rendered": lambda c: dicom_b(c, "series", "instance"),
    "dicomweb:frame-rendered": lambda c: _plus(dicom_b(c, "series", "instance"), frame=1),
    # The built-in viewer's signed image URLs
    "viewer_image": viewer_image_b,
    # Rota pages (sites)
    "rota_month_detail": lambda c: ((m := RotaMonthFactory(ght=c.ght_b)), {"month_id": m.pk}),
    "rota_month_publish": lambda c: ((m := RotaMonthFactory(ght=c.ght_b)), {"month_id": m.pk}),
    "rota_month_unpublish": lambda c: ((m := RotaMonthFactory(ght=c.ght_b, state="published")), {"month_id": m.pk}),
    "rota_month_export": lambda c: ((m := RotaMonthFactory(ght=c.ght_b)), {"month_id": m.pk}),
    "shift_assign": lambda c: (
        (s := ShiftFactory(rota_month__ght=c.ght_b, radiologist=c.radiologist_b)),
        {"shift_id": s.pk},
    ),
    "unavailability_delete": lambda c: (
        (u := UnavailabilityFactory(radiologist=c.radiologist_b)),
        {"unavailability_id": u.pk},
    ),
    "shift_swap_accept": lambda c: (
        (w := ShiftSwapFactory(shift_from__rota_month__ght=c.ght_b, requested_by=c.radiologist_b)),
        {"swap_id": w.pk},
    ),
    "shift_swap_refuse": lambda c: (
        (w := ShiftSwapFactory(shift_from__rota_month__ght=c.ght_b, requested_by=c.radiologist_b)),
        {"swap_id": w.pk},
    ),
    # Pages
    "report_page": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "report_panel": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "report_autosave": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "report_apply_template": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "report_sign": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "report_addendum": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "critical_alert_acknowledge": critical_alert_b,
    "opinion_request_create": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "opinion_detail": opinion_b,
    "opinion_answer": opinion_b,
    "opinion_cite": opinion_b,
    "request_detail": request_b,
    "request_validate": request_b,
    "request_complete": request_b,
    "request_cancel": request_b,
    "request_document_add": request_b,
    "request_document": lambda c: (
        (d := request_document_b(c)),
        {"request_id": d.request_id, "document_id": d.pk},
    ),
    "exam_message_post": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_cancel": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_images_incomplete": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "request_identity_resolve": request_b,
    "exam_detail": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_take": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_return_to_pool": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_reassign": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_claim": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_release": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_images": lambda c: (c.exam_b, {"pk": c.exam_b.pk}),
    "exam_series_thumbnail": lambda c: (
        c.exam_b,
        {"pk": c.exam_b.pk, "series_id": dicom_b(c) and c.exam_b.series.get().pk},
    ),
}

ListCase = Callable[[Cast], tuple[set[int], set[int]]]

# url name -> (ids of GHT B that must not appear, ids of GHT A that must appear).
LIST_SCOPE: dict[str, ListCase] = {
    "api:ght-list": lambda c: ({c.ght_b.pk}, {c.ght_a.pk}),
    "api:site-list": lambda c: ({c.site_b.pk}, {c.site_a.pk}),
    "api:modality-list": lambda c: ({c.modality_b.pk}, {c.modality_a.pk}),
    "api:radiologist-list": lambda c: ({c.radiologist_b.pk}, {c.radiologist_a.pk}),
    "api:exam-list": lambda c: ({c.exam_b.pk}, {c.exam_a.pk}),
}

METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = {403, 404, 405}


@dataclass(frozen=True)
class Route:
    name: str  # with namespaces, as reverse() wants it
    route: str  # human-readable path, for messages
    has_kwargs: bool

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def _walk(patterns: list, prefix: str = "", namespace: str = "", has_kwargs: bool = False) -> Iterator[Route]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        takes_kwargs = has_kwargs or bool(entry.pattern.regex.groupindex)
        if route.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, ns, takes_kwargs)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route(name=name, route=route, has_kwargs=takes_kwargs)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def object_routes() -> list[Route]:
    return [r for r in all_routes() if r.has_kwargs and r.name not in ALLOWLIST]


def api_collection_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_api and not r.has_kwargs and r.name]


def page_collection_routes() -> list[Route]:
    return [r for r in all_routes() if not r.is_api and not r.has_kwargs and r.name]


@pytest.fixture
def cast(
    ght_a, ght_b, site_a, site_b, radiologist_a, radiologist_b, merm_a, ght_admin_a, platform_admin, exam_a, exam_b
):
    """The standard cast, plus a modality per site and unmistakable GHT B patient data."""
    Exam.objects.filter(pk=exam_b.pk).update(
        patient_name="BRAVOSECRET^Patient", patient_id="PIDBRAVO", accession_number="ACCBRAVO"
    )
    exam_b.refresh_from_db()
    radiologist_b.radiologist.subspecialties.set([Subspecialty.objects.get(code="neuro")])
    return Cast(
        ght_a=ght_a,
        ght_b=ght_b,
        site_a=site_a,
        site_b=site_b,
        exam_a=exam_a,
        exam_b=exam_b,
        modality_a=ModalityFactory(site=site_a),
        modality_b=ModalityFactory(site=site_b, ae_title="BRAVO_AE"),
        radiologist_a=radiologist_a.radiologist,
        radiologist_b=radiologist_b.radiologist,
        users_a={"radiologist_a": radiologist_a, "merm_a": merm_a, "ght_admin_a": ght_admin_a},
        platform_admin=platform_admin,
    )


def leak_markers(cast: Cast) -> list[str]:
    """Strings that only GHT B's data contains."""
    return [
        "BRAVOSECRET",
        "PIDBRAVO",
        "ACCBRAVO",
        cast.exam_b.study_instance_uid,
        cast.site_b.finess,
        cast.site_b.name,
        cast.ght_b.name,
        "BRAVO_AE",
        cast.radiologist_b.rpps,
    ]


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's row and many-to-many links, read back from the database."""
    model = type(obj)
    row = model.objects.filter(pk=obj.pk).values().first()
    if row is None:
        return {"deleted": True}
    for field in model._meta.many_to_many:
        row[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return row


def attack_payload(cast: Cast) -> dict[str, Any]:
    """What a write would try: rename, empty, disable, and move the object into GHT A."""
    return {
        "name": "Piraté",
        "short_name": "",
        "mobile_phone": "",
        "subspecialties": [],
        "active": False,
        "enabled": False,
        "status": "CANCELLED",
        "ght": cast.ght_a.pk,
        "site": cast.site_a.pk,
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_it_has_a_scoping_case_for_every_route_with_an_object_id():
    missing = [r for r in object_routes() if r.name not in OBJECT_KWARGS]
    assert not missing, "\n".join(
        f"new endpoint {r.name or '(unnamed)'} at /{r.route} has no scoping case; add it to OBJECT_KWARGS "
        "in tests/test_url_scoping.py (or name the route)"
        for r in missing
    )


def test_it_finds_the_api_object_routes():
    # Guards the walker itself: if it stopped descending into includes, every
    # test below would pass on nothing.
    names = {r.name for r in object_routes()}
    assert {"api:exam-detail", "api:site-update", "api:radiologist-detail"} <= names


def test_it_answers_404_to_ght_a_users_on_every_ght_b_object(cast):
    routes = [r for r in object_routes() if r.name in OBJECT_KWARGS]
    assert routes
    markers = leak_markers(cast)
    admin = client_for(cast.platform_admin)
    for route in routes:
        obj, kwargs = OBJECT_KWARGS[route.name](cast)
        url = reverse(route.name, kwargs=kwargs)
        before = snapshot(obj)
        for username, user in cast.users_a.items():
            client = client_for(user)
            for method in METHODS:
                response = getattr(client, method)(url, data=attack_payload(cast), format="json")
                where = f"{method.upper()} {url} ({route.name}) as {username}"
                assert response.status_code in REFUSED, f"{where} answered {response.status_code}"
                body = response.content.decode(errors="replace")
                leaked = [m for m in markers if m in body]
                assert not leaked, f"{where} leaked {leaked}"
                assert snapshot(obj) == before, f"{where} changed the object"
        # Control: the case names a real object, so the 404s above are not a typo in the kwargs.
        assert admin.get(url).status_code != 404, f"{route.name}: the platform admin gets 404 on {url}"


def test_it_never_lists_ght_b_objects_to_ght_a_users(cast):
    markers = leak_markers(cast)
    checked = set()
    for route in api_collection_routes():
        url = reverse(route.name)
        for username, user in cast.users_a.items():
            response = client_for(user).get(url)
            where = f"GET {url} ({route.name}) as {username}"
            body = response.content.decode(errors="replace")
            leaked = [m for m in markers if m in body]
            assert not leaked, f"{where} leaked {leaked}"
            if response.status_code != 200 or route.name in LIST_ALLOWLIST:
                continue
            assert route.name in LIST_SCOPE, (
                f"new list endpoint {route.name} at /{route.route} has no scoping case; add it to LIST_SCOPE "
                "in tests/test_url_scoping.py"
            )
            forbidden, expected = LIST_SCOPE[route.name](cast)
            data = response.json()
            assert data["next"] is None, f"{where}: the cast should fit on one page"
            ids = {item["id"] for item in data["results"]}
            assert not ids & forbidden, f"{where} listed GHT B objects {ids & forbidden}"
            assert expected <= ids, f"{where} misses GHT A objects {expected - ids}"
            checked.add(route.name)
    assert checked == set(LIST_SCOPE), f"list endpoints not checked: {set(LIST_SCOPE) - checked}"


def test_it_shows_no_ght_b_data_on_pages_to_ght_a_users(cast):
    markers = leak_markers(cast)
    for route in page_collection_routes():
        url = reverse(route.name)
        for username, user in cast.users_a.items():
            response = client_for(user).get(url)
            body = response.content.decode(errors="replace")
            leaked = [m for m in markers if m in body]
            assert not leaked, f"GET {url} ({route.name}) as {username} leaked {leaked}"
