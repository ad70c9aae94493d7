"""API building blocks shared by the apps, and the health check.

- ``StaffApi`` / ``AdminApi`` / ``PlatformAdminApi``: APIView bases that set
  the role check (core.permissions) and the schema naming below. Which objects
  a user may touch is still decided by the scoped selectors in each view.
- ``paginated_response``: paginate a queryset in a plain APIView.
- ``HealthApi``: GET /api/v1/health/ for load balancers and supervisors.
"""

import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema, inline_serializer
from kombu import Connection
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import IsAdminRole, IsPlatformAdmin, IsStaffMember


class TeleradioAutoSchema(AutoSchema):
    """Name nested serializers after their view (``SiteCreateApi.InputSerializer`` → ``SiteCreateInput``).

    Every API nests an ``InputSerializer``/``OutputSerializer`` (house style);
    without this they would all become the one OpenAPI component ``Input``.
    """

    def get_serializer_name(self, serializer: serializers.Serializer, direction: Any) -> str:
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 2)[-2:]
            return outer.removesuffix("Api") + inner
        return super().get_serializer_name(serializer, direction)


class StaffApi(APIView):
    """Base of the APIs open to every role; objects are scoped by selectors."""

    permission_classes = [IsStaffMember]
    schema = TeleradioAutoSchema()


class AdminApi(StaffApi):
    """Base of the organisation writes (GHT admin, platform admin)."""

    permission_classes = [IsAdminRole]


class PlatformAdminApi(StaffApi):
    """Base of the writes reserved to the platform administrator."""

    permission_classes = [IsPlatformAdmin]


def paginated_response(
    *, queryset: QuerySet, serializer_class: type[serializers.Serializer], request: Request, view: APIView
) -> tuple[Response, list[Any]]:
    """Paginate ``queryset`` with the project's pagination and serialise the page.

    Returns the response and the objects of the page (for the audit log).
    """
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    objects = list(page) if page is not None else list(queryset)
    response = paginator.get_paginated_response(serializer_class(objects, many=True).data)
    return response, objects


# --- Health check ---------------------------------------------------------------------------

BROKER_TIMEOUT_SECONDS = 2.0


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


def _check_storage() -> None:
    # The gateway must be able to write before it acknowledges a C-STORE:
    # checking that the folder exists is not enough, write and delete a file.
    root = Path(settings.STORAGE_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix=".health-", delete=True) as handle:
        handle.write(b"ok")
        handle.flush()


HEALTH_CHECKS = {
    "database": _check_database,
    "broker": _check_broker,
    "storage": _check_storage,
}


def health_status() -> dict[str, Any]:
    """Run every check; each answers "ok" or the class name of its error (no details leak)."""
    checks: dict[str, str] = {}
    for name, check in HEALTH_CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure makes the service unhealthy
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = "ok"
    overall = "ok" if all(v == "ok" for v in checks.values()) else "error"
    return {"status": overall, "checks": checks}


class HealthApi(APIView):
    """No authentication, no data: is the database, the broker and the image store usable?"""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = TeleradioAutoSchema()

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["ok", "error"])
        checks = inline_serializer(
            name="HealthChecks",
            fields={
                "database": serializers.CharField(),
                "broker": serializers.CharField(),
                "storage": serializers.CharField(),
            },
        )

    @extend_schema(auth=[], responses={200: OutputSerializer, 503: OutputSerializer})
    def get(self, request: Request) -> Response:
        body = health_status()
        code = status.HTTP_200_OK if body["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status=code, headers={"Cache-Control": "no-store"})
