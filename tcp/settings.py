"""Parity's one settings module. Everything that differs between machines comes from the
environment (see .env.example); a malformed value stops the process at start-up."""

import datetime as dt
from pathlib import Path

from celery.schedules import crontab
from django.utils.csp import CSP
from environs import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
env.read_env(BASE_DIR / ".env", recurse=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind TLS in production: turn on with HTTPS=true (docker-compose.yml does).
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
# A session ends after this long without a request, and this long after sign-in whatever
# happens (tcp.middleware.SessionLimitsMiddleware).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=SESSION_COOKIE_AGE)

# Content Security Policy: the site's own scripts and styles only (no inline code but what
# carries the request's nonce), images from here or embedded, no framing. Charts, which
# are SVG documents of their own, get theirs in tcp.middleware.SvgPolicyMiddleware.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django.forms",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "bootstrap",
    "axes",
    "tcp",
    "engagements",
    "discovery",
    "certification",
    "hiring",
    "scorecard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tcp.middleware.SessionLimitsMiddleware",
    "tcp.middleware.PageCacheMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "tcp.middleware.SvgPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees the outcome of a sign-in: answers a locked-out one with 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tcp.urls"
WSGI_APPLICATION = "tcp.wsgi.application"

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
                "tcp.context_processors.navigation",
                "django.template.context_processors.csp",
            ],
            "builtins": ["django.templatetags.static"],
        },
    }
]

FORM_RENDERER = "tcp.forms.FormRenderer"

DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        conn_max_age=env.int("DB_CONN_MAX_AGE", default=600),
        conn_health_checks=True,
    )
}
# Pages run short queries. PostgreSQL's JIT compiler starts on any query the planner guesses
# costly, and then spends more time compiling than the query takes (400 ms of compiling
# seen on a 50 ms milestone list of the large organisation), so it stays off.
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["options"] = f"{_db_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "tcp.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "parity",
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "tcp.User"
# Django's model backend, loading the navigation's figures with the person.
# django-axes first: a sign-in for an account under attack is refused before any password
# is checked, so guessing on cannot succeed either.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "tcp.backends.ModelBackend"]
# Login abuse: after this many failed sign-ins for one username within the cool-off
# window (from one address or many), further attempts are refused until the window passes.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=100)
AXES_COOLOFF_TIME = dt.timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=60 * 60))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
# Axes warns when the address is not a lockout parameter. It is left out on purpose: one
# attacker rotates addresses, and behind the proxy many people share one.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# The manifest (hashed names, long cache) needs collectstatic, which the production image
# runs; elsewhere WhiteNoise serves files straight from their source folders.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="parity@localhost")

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A job whose worker dies is delivered again, so it must be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A job taken by a worker that then dies (kill -9, a lost machine) goes back on the queue
# once this many seconds pass without its acknowledgement; Redis's default is an hour.
# It must outlast the longest job (the nightly recompute takes about a minute on 100,000
# engagements). No job here is scheduled for later, which this would also delay.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="parity")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "notifications-prune": {
        "task": "tcp.tasks.notifications_prune",
        "schedule": 24 * 60 * 60,
    },
    # Early in the morning, so reminders are waiting when people start work.
    "certification-daily": {
        "task": "certification.tasks.certification_daily",
        "schedule": crontab(hour=6, minute=30),
    },
    # Scorecard: every period at night (catches deletions and settings changes), and the
    # periods moved by recent changes every minute.
    "scorecard-nightly": {
        "task": "scorecard.tasks.scorecard_nightly",
        "schedule": crontab(hour=2, minute=15),
    },
    # Document renders the broker lost or a dead worker left half done.
    "documents-sweep": {
        "task": "engagements.tasks.documents_sweep_task",
        "schedule": 60,
    },
    "scorecard-refresh": {
        "task": "scorecard.tasks.scorecard_refresh",
        "schedule": 60,
    },
}

# A render holds its document this long; past it, the sweep hands the document to another
# worker. Renders take seconds; the margin covers a busy machine.
DOCUMENT_LEASE_SECONDS = env.int("DOCUMENT_LEASE_SECONDS", default=300)
# A queued render nobody has taken for this long is queued again (the broker lost it).
DOCUMENT_SWEEP_AFTER_SECONDS = env.int("DOCUMENT_SWEEP_AFTER_SECONDS", default=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint reports every step of a render at INFO.
    "loggers": {
        "weasyprint.progress": {"level": "WARNING"},
        # Axes logs every failed sign-in at INFO; its lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}

PARITY_PAGE_SIZE = 50

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tcp.api_auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tcp.parsers.TextJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["tcp.api_auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env.str("API_RATE_LIMIT", default="1200/minute")},
    "DEFAULT_SCHEMA_CLASS": "tcp.api_schema.ParityAutoSchema",
    "EXCEPTION_HANDLER": "tcp.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Always UTC with microseconds (tcp.api.in_utc), so moments compare as text.
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parity API",
    "DESCRIPTION": "Keep a CRM or ERP in step with Parity: upsert by external id, bulk, "
    "incremental pull with updated_since, ETag/If-Match and Idempotency-Key.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SECURITY": [{"tokenAuth": []}],
    "APPEND_COMPONENTS": {"securitySchemes": {"tokenAuth": {"type": "http", "scheme": "bearer"}}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tcp.api_schema.strict_request_bodies",
    ],
    "ENUM_NAME_OVERRIDES": {"DocumentKindEnum": "engagements.models.DocumentKind"},
}
