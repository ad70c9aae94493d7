import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fixture", "target"),
    [
        ("radiologist_a", "/worklist/"),
        ("merm_a", "/board/"),
        ("ght_admin_a", "/admin/"),
        ("platform_admin", "/admin/"),
    ],
)
def test_it_sends_each_role_to_its_place(client, request, fixture, target):
    client.force_login(request.getfixturevalue(fixture))
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == target


@pytest.mark.django_db
def test_it_asks_anonymous_users_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_the_login_page_is_in_french(client):
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Connexion" in body
    assert "Mot de passe" in body
    assert '<html lang="fr">' in body


@pytest.mark.django_db
def test_the_login_page_also_speaks_english(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en">' in response.content.decode()


@pytest.mark.django_db
def test_it_logs_in_and_lands_on_the_worklist(client, radiologist_a):
    response = client.post("/login/", {"username": "rad_a", "password": "password"}, follow=True)
    assert response.redirect_chain[-1][0] == "/worklist/"
    assert "Liste de travail" in response.content.decode()


@pytest.mark.django_db
def test_it_refuses_a_wrong_password_with_a_french_message(client, radiologist_a):
    response = client.post("/login/", {"username": "rad_a", "password": "nope"})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect." in response.content.decode()


@pytest.mark.django_db
def test_it_logs_out_with_a_post(client, merm_a):
    client.force_login(merm_a)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/board/").status_code == 302


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client, merm_a):
    client.force_login(merm_a)
    csp = client.get("/board/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def _posted():
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.test import RequestFactory

    request = RequestFactory().post("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_act_turns_a_refusal_into_an_error_message():
    from django.contrib import messages

    from core.exceptions import ConflictError
    from core.views import act

    def refused():
        raise ConflictError("Déjà pris par Dr Martin.")

    request = _posted()
    assert act(request, refused, "Examen pris.") is False
    assert [(m.level, m.message) for m in messages.get_messages(request)] == [
        (messages.ERROR, "Déjà pris par Dr Martin.")
    ]


def test_act_reports_success_once_the_action_ran():
    from django.contrib import messages

    from core.views import act

    done = []
    request = _posted()
    assert act(request, lambda: done.append(1), "Examen pris.") is True
    assert done == [1]
    assert [(m.level, m.message) for m in messages.get_messages(request)] == [(messages.SUCCESS, "Examen pris.")]


def test_act_lists_the_details_of_a_refusal_after_its_message():
    from django.contrib import messages

    from core.exceptions import ApplicationError
    from core.views import act

    def refused():
        raise ApplicationError("Le planning a des erreurs.", extra={"errors": ["Garde du 3 sans radiologue."]})

    request = _posted()
    assert act(request, refused, "Planning publié.") is False
    assert [m.message for m in messages.get_messages(request)] == [
        "Le planning a des erreurs.",
        "Garde du 3 sans radiologue.",
    ]
