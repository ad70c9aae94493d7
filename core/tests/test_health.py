"""GET /api/v1/health/ on the real PostgreSQL and Redis, and the OpenAPI schema and docs page."""

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

HEALTH_URL = "/api/v1/health/"

# The schema and docs live at /api/schema/ and /api/docs/ (teleradio/schema_urls.py).
# Until teleradio/urls.py includes that module at "api/", the tests of this file
# serve it through this URL conf: the project's, with the include added first.
urlpatterns = [
    path("api/", include("teleradio.schema_urls")),
    path("", include("teleradio.urls")),
]


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.mark.django_db
def test_it_answers_200_when_everything_works(client):
    response = client.get(HEALTH_URL)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_it_answers_503_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get(HEALTH_URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["storage"] == "ok"
    assert body["checks"]["broker"].startswith("error: ")
    # A class name at most: no address, no port, no traceback.
    assert "127.0.0.1" not in response.content.decode()
    assert len(body["checks"]["broker"]) < 60


@pytest.mark.django_db
def test_it_answers_503_when_the_storage_is_not_writable(client, settings, tmp_path):
    # Tests run as root, so permission bits do not stop writes: put the store under a file.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.STORAGE_ROOT = blocker / "storage"
    response = client.get(HEALTH_URL)
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["storage"].startswith("error: ")
    assert (body["checks"]["database"], body["checks"]["broker"]) == ("ok", "ok")
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_it_creates_a_missing_storage_root_and_leaves_no_file(client, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "new" / "storage"
    assert client.get(HEALTH_URL).status_code == 200
    assert list((tmp_path / "new" / "storage").iterdir()) == []


@pytest.mark.django_db
def test_it_answers_503_when_the_database_fails(client, monkeypatch):
    from core import apis

    def broken() -> None:
        raise ConnectionError("password authentication failed for user postgres")

    monkeypatch.setitem(apis.HEALTH_CHECKS, "database", broken)
    response = client.get(HEALTH_URL)
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error: ConnectionError"
    assert "password" not in response.content.decode()


@pytest.mark.django_db
def test_it_needs_no_login_and_ignores_bad_credentials(client):
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(HEALTH_URL).status_code == 200


# --- Schema and docs ----------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_it_serves_the_openapi_schema_to_a_logged_in_user(client, merm_a):
    client.force_login(merm_a)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Téléradio API"
    assert {"/api/v1/exams/", "/api/v1/exams/{exam_id}/", "/api/v1/sites/create/", "/api/v1/health/"} <= set(
        schema["paths"]
    )


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_it_refuses_the_schema_to_anonymous_users(client):
    assert client.get("/api/schema/").status_code == 403


@pytest.mark.urls(__name__)
def test_it_serves_the_docs_page_from_our_own_static_files(client, merm_a):
    client.force_login(merm_a)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    # No inline script (strict CSP): the init script is a separate same-origin request.
    assert "<script>" not in html
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
