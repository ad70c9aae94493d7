"""The standard cast of every test (style §8.2).

Two GHTs, A and B. In GHT A: site A, a radiologist credentialed for it, a MERM
attached to it and a GHT admin. In GHT B: site B, a radiologist of site B who
has no access to site A, and a GHT admin of B. Every endpoint test checks that
GHT B's people get 404 on GHT A's objects.
"""

import os

import pytest
from hypothesis import settings as hypothesis_settings

# Hypothesis' per-example deadline is a timing assertion: on two shared cores a slow
# example fails a correct test. The suite never asserts on time.
hypothesis_settings.register_profile("teleradio", deadline=None)
hypothesis_settings.load_profile("teleradio")

# Playwright's sync API runs an event loop in the test thread; the ORM calls
# made by test code and fixtures alongside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session", autouse=True)
def _cache_emptied():
    """The test cache (Redis) outlives the test database, whose row ids start again each session."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def ght_a(db):
    from sites.tests.factories import GhtFactory

    return GhtFactory(name="GHT A", short_name="GHTA")


@pytest.fixture
def ght_b(db):
    from sites.tests.factories import GhtFactory

    return GhtFactory(name="GHT B", short_name="GHTB")


@pytest.fixture
def site_a(ght_a):
    from sites.tests.factories import SiteFactory

    return SiteFactory(ght=ght_a, name="CH Site A")


@pytest.fixture
def site_b(ght_b):
    from sites.tests.factories import SiteFactory

    return SiteFactory(ght=ght_b, name="CH Site B")


@pytest.fixture
def radiologist_a(site_a):
    """User of a radiologist credentialed for site A."""
    from sites.tests.factories import CredentialFactory, RadiologistFactory

    rad = RadiologistFactory(user__ght=site_a.ght, user__username="rad_a")
    CredentialFactory(radiologist=rad, site=site_a)
    return rad.user


@pytest.fixture
def radiologist_b(site_b):
    """User of a radiologist credentialed for site B only."""
    from sites.tests.factories import CredentialFactory, RadiologistFactory

    rad = RadiologistFactory(user__ght=site_b.ght, user__username="rad_b")
    CredentialFactory(radiologist=rad, site=site_b)
    return rad.user


@pytest.fixture
def merm_a(site_a):
    from sites.tests.factories import TechnologistFactory

    return TechnologistFactory(user__ght=site_a.ght, user__username="merm_a", sites=[site_a]).user


@pytest.fixture
def merm_b(site_b):
    from sites.tests.factories import TechnologistFactory

    return TechnologistFactory(user__ght=site_b.ght, user__username="merm_b", sites=[site_b]).user


@pytest.fixture
def ght_admin_a(ght_a):
    from sites.tests.factories import GhtAdminFactory

    return GhtAdminFactory(ght=ght_a, username="admin_a")


@pytest.fixture
def ght_admin_b(ght_b):
    from sites.tests.factories import GhtAdminFactory

    return GhtAdminFactory(ght=ght_b, username="admin_b")


@pytest.fixture
def platform_admin(db):
    from sites.tests.factories import PlatformAdminFactory

    return PlatformAdminFactory(username="platform")


@pytest.fixture
def exam_a(site_a):
    from worklist.tests.factories import ExamFactory

    return ExamFactory(site=site_a)


@pytest.fixture
def exam_b(site_b):
    from worklist.tests.factories import ExamFactory

    return ExamFactory(site=site_b)
