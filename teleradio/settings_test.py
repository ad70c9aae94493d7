"""Test settings: real PostgreSQL and Redis of the machine, fast hashing, temp storage."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 30)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/teleradio")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CACHE_URL", "rediscache://127.0.0.1:6379/14")
# Test requests are plain HTTP.
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("SESSION_COOKIE_SECURE", "False")
os.environ.setdefault("CSRF_COOKIE_SECURE", "False")

from teleradio.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
_tmp = Path(tempfile.mkdtemp(prefix="teleradio-test-"))
MEDIA_ROOT = _tmp / "media"
STORAGE_ROOT = _tmp / "storage"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STATIC_ROOT = _tmp / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
