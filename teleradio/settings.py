"""Settings for Téléradio, read from the environment (twelve-factor).

Every variable is listed with its default in README.md and .env.example.
The zero-install default (no variable set) is SQLite and kombu's filesystem
transport under ``var/``; production sets DATABASE_URL and CELERY_BROKER_URL.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    # The OS environment wins over .env (read_env does not overwrite).
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)


def envsecret(name: str) -> str | None:
    """Read a secret from NAME or from the file named by NAME_FILE (Docker secrets)."""
    file_name = env.str(f"{name}_FILE", default="")
    if file_name:
        return Path(file_name).read_text().strip()
    return env.str(name, default="") or None


SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random "
            "string, or set DEBUG=True for a development machine."
        )
    # Development only: a fixed key is acceptable because DEBUG is on.
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "corsheaders",
    "core",
    "sites",
    "worklist",
    "reports",
    "dicom_gateway",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer: a preflight (OPTIONS) gets its CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "teleradio.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "teleradio.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'teleradio.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is only the zero-install default: several processes (web, gateway,
    # worker) share the file, so wait for locks instead of failing at once.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            # IMMEDIATE: a transaction takes the write lock when it starts, so two
            # writers queue instead of one failing at once with "database is locked"
            # when it upgrades its read lock; WAL lets pages read while the gateway writes.
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "sites.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation: the users are French; English works through i18n.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="fr")
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["teleradio.formats"]  # SHORT_DATE(TIME)_FORMAT: d/m/Y in French, ISO in English
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True  # stored in UTC; shown in each site's zone

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# The DICOM image store (see dicom_gateway.storage); paths inside are hashes.
STORAGE_ROOT = Path(env.str("STORAGE_ROOT", default=str(VAR_DIR / "storage")))

# An exam is READY when no instance arrived for this long (Orthanc uses 60 s).
EXAM_QUIET_SECONDS = env.float("EXAM_QUIET_SECONDS", default=30.0)
# How often beat looks for exams that became stable: every half second, an exam is READY at
# most ~0.5 s after its quiet period (issue #4: p95 < 1 s), for a few indexed queries.
EXAM_STABLE_SWEEP_SECONDS = env.float("EXAM_STABLE_SWEEP_SECONDS", default=0.5)
# Rota validation: minimum rest (hours) after a night shift before the next shift.
ROTA_REST_HOURS = env.int("ROTA_REST_HOURS", default=11)
# Délai garanti (SLA) by priority, in minutes, when the GHT set no SlaPolicy.
ROUTING_SLA_MINUTES = {"VITAL": 30, "URGENT": 60, "STANDARD": 1440, "SCHEDULED": 2880}
# Protocol validation of an exam request, in minutes by urgency (then re-routed once, the site told).
REQUEST_VALIDATION_MINUTES = {"VITAL": 5, "URGENT": 10, "STANDARD": 240, "SCHEDULED": 1440}
# An assigned exam nobody claimed is escalated from this fraction of its deadline on.
ROUTING_ESCALATE_FRACTION = env.float("ROUTING_ESCALATE_FRACTION", default=0.5)
# How often beat runs the escalation and end-of-shift sweeps.
ROUTING_SWEEP_SECONDS = env.float("ROUTING_SWEEP_SECONDS", default=60.0)
# An exam being read with no activity of its reader for this long goes back to their list.
READING_INACTIVITY_MINUTES = env.int("READING_INACTIVITY_MINUTES", default=30)
# "Open in an external viewer" link of the reading page; {study_instance_uid} is replaced. Empty: no link.
OHIF_VIEWER_URL_TEMPLATE = env.str("OHIF_VIEWER_URL_TEMPLATE", default="")

# Signing a report asks for the signer's password again ("password"), or not ("none": only
# where a second factor already guards every session).
REPORT_SIGN_REAUTH = env.str("REPORT_SIGN_REAUTH", default="password")
if REPORT_SIGN_REAUTH not in ("password", "none"):
    raise ImproperlyConfigured('REPORT_SIGN_REAUTH must be "password" or "none"')
# A critical finding not acknowledged by the site for this long: the signer is told to phone
# (and again every period). CRITICAL_FINDING_HOOK: dotted path of a function(alert_id=…) called
# when one is raised, e.g. an SMS gateway of the duty desk; empty: in-app and e-mail only.
CRITICAL_FINDING_ACK_MINUTES = env.int("CRITICAL_FINDING_ACK_MINUTES", default=15)
CRITICAL_FINDING_HOOK = env.str("CRITICAL_FINDING_HOOK", default="")
# Délai garanti of an opinion request (téléexpertise), in minutes: standard exams, urgent/vital ones.
OPINION_SLA_MINUTES = env.int("OPINION_SLA_MINUTES", default=120)
OPINION_SLA_URGENT_MINUTES = env.int("OPINION_SLA_URGENT_MINUTES", default=30)

# Delivery of signed reports to the site's PACS/RIS: a failed send is retried after
# RETRY_SECONDS, doubling up to RETRY_MAX_SECONDS; after MAX_ATTEMPTS it is marked failed
# and the GHT's administrators are told (they resend it from the admin).
REPORT_DELIVERY_RETRY_SECONDS = env.float("REPORT_DELIVERY_RETRY_SECONDS", default=30.0)
REPORT_DELIVERY_RETRY_MAX_SECONDS = env.float("REPORT_DELIVERY_RETRY_MAX_SECONDS", default=3600.0)
REPORT_DELIVERY_MAX_ATTEMPTS = env.int("REPORT_DELIVERY_MAX_ATTEMPTS", default=12)
# How often beat looks for deliveries whose next attempt is due.
REPORT_DELIVERY_SWEEP_SECONDS = env.float("REPORT_DELIVERY_SWEEP_SECONDS", default=60.0)
# Connection and acknowledgement timeout of an HL7 message to a site's RIS (MLLP).
REPORT_HL7_TIMEOUT_SECONDS = env.float("REPORT_HL7_TIMEOUT_SECONDS", default=30.0)

DICOM_AE_TITLE = env.str("DICOM_AE_TITLE", default="TELERADIO")
DICOM_PORT = env.int("DICOM_PORT", default=11112)
# Which peers may send is data (sites.Modality); these are the listener's limits.
DICOM_CHECK_PEER_IP = env.bool("DICOM_CHECK_PEER_IP", default=False)
DICOM_MAX_ASSOCIATIONS = env.int("DICOM_MAX_ASSOCIATIONS", default=16)
DICOM_MAX_PDU = env.int("DICOM_MAX_PDU", default=262144)  # bytes; larger PDUs, fewer messages
# One instance is held in memory until it is stored: larger ones are refused (0 = no limit).
DICOM_MAX_INSTANCE_BYTES = env.int("DICOM_MAX_INSTANCE_BYTES", default=2 << 30)
DICOM_ACSE_TIMEOUT = env.float("DICOM_ACSE_TIMEOUT", default=30.0)
DICOM_DIMSE_TIMEOUT = env.float("DICOM_DIMSE_TIMEOUT", default=60.0)
DICOM_NETWORK_TIMEOUT = env.float("DICOM_NETWORK_TIMEOUT", default=120.0)  # idle association
DICOM_SHUTDOWN_GRACE_SECONDS = env.float("DICOM_SHUTDOWN_GRACE_SECONDS", default=30.0)
# Listener processes sharing DICOM_PORT (SO_REUSEPORT); about one core each (the GIL).
# 0: one per core (at most 8) with PostgreSQL, one with SQLite (dicom_gateway.ae.gateway_processes).
DICOM_GATEWAY_PROCESSES = env.int("DICOM_GATEWAY_PROCESSES", default=0)
# Prometheus metrics of the gateway process (0 disables).
GATEWAY_METRICS_PORT = env.int("GATEWAY_METRICS_PORT", default=9110)
GATEWAY_METRICS_BIND = env.str("GATEWAY_METRICS_BIND", default="127.0.0.1")
DICOM_BIND_ADDRESS = env.str("DICOM_BIND_ADDRESS", default="0.0.0.0")  # noqa: S104 - a DICOM listener

# DICOMweb read by a viewer on another origin (an external OHIF): CORS headers on
# /dicomweb/ only, for these origins only (scheme://host[:port]); empty sends none.
DICOMWEB_CORS_ALLOWED_ORIGINS = env.list("DICOMWEB_CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = DICOMWEB_CORS_ALLOWED_ORIGINS
CORS_URLS_REGEX = r"^/dicomweb/"
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_EXPOSE_HEADERS = ["Warning"]  # QIDO-RS: "there are additional results"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Celery: Redis in production; kombu's filesystem transport by default so that
# the run command needs no server. The database stays the source of truth.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = str(VAR_DIR / "broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _broker_dir,
        "data_folder_out": _broker_dir,
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exception_handlers.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Téléradio API",
    "DESCRIPTION": "API of the Téléradio regional teleradiology platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and ReDoc from the sidecar package: served locally, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="teleradio@localhost")

# Production hardening; every value can be relaxed from the environment
# (for instance behind a TLS-terminating proxy).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# A radiologist's session ends after a night of inactivity.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)

SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "pynetdicom": {"level": "WARNING"},
    },
}
