"""What every browser test does the same way: log in, keep screenshots."""

from pathlib import Path

from playwright.sync_api import Page

# Screenshots and rendered files a human looks at after a run (not committed).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


# The password sites.tests.factories gives every test user.
FACTORY_PASSWORD = "password"  # noqa: S105 - test users only


def login(page: Page, live_server, username: str, password: str = FACTORY_PASSWORD) -> None:
    """Log in through the login page, as a user does."""
    page.goto(f"{live_server.url}/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
