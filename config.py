"""Configuration read from the environment. No secret lives in this file.

`make run` writes instance/secret.env (SECRET_KEY, PKI_PASSPHRASE) on first start;
production sets the same variables in the service's environment.
"""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("UKEOI_INSTANCE", BASE_DIR / "instance"))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def normalize_database_url(url: str) -> str:
    """postgresql:// means psycopg 3 (the driver we ship), not SQLAlchemy's psycopg2 default."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _database_url(name: str, default: str) -> str:
    return normalize_database_url(os.environ.get(name) or default)


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    INSTANCE_DIR = INSTANCE_DIR
    SQLALCHEMY_DATABASE_URI = _database_url("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'ukeoi.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    STORAGE_URL = os.environ.get("STORAGE_URL", f"file://{INSTANCE_DIR / 'store'}")
    PKI_DIR = os.environ.get("PKI_DIR", str(INSTANCE_DIR / "pki"))
    PKI_PASSPHRASE = os.environ.get("PKI_PASSPHRASE")
    TSA_URLS = _env_list("TSA_URLS")
    # PEM file with the root certificates of the TSAs in TSA_URLS: sealing validates their timestamps.
    TSA_TRUST_ROOTS = os.environ.get("TSA_TRUST_ROOTS", "")
    # Links in mail point here; by default the address `make run` serves on (gunicorn binds PORT).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"
    # Where certificates say the CRLs and the OCSP responder are (default: PUBLIC_BASE_URL). Baked into every
    # certificate issued, so it must stay reachable for the certificates' whole life.
    PKI_BASE_URL = os.environ.get("PKI_BASE_URL", "")
    # Evidence (R-CASE-4): the public verification page and the internal TSA over HTTP, per client IP;
    # archives are re-timestamped this many days before their last timestamp certificate expires.
    VERIFY_RATE_LIMIT = os.environ.get("VERIFY_RATE_LIMIT", "20 per hour")
    TSA_RATE_LIMIT = os.environ.get("TSA_RATE_LIMIT", "600 per minute")
    RETIMESTAMP_WINDOW_DAYS = _env_int("RETIMESTAMP_WINDOW_DAYS", 365)

    # Mail: SMTP when MAIL_SERVER is set, otherwise a file backend staff can read.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 587)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "1") == "1"
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Ukeoi <no-reply@ukeoi.invalid>")
    MAIL_FILE_PATH = os.environ.get("MAIL_FILE_PATH", str(INSTANCE_DIR / "mail"))

    # Accounts (R-ACC-1, R-ACC-2)
    PASSWORD_MAX_AGE_DAYS = _env_int("PASSWORD_MAX_AGE_DAYS", 180)
    PASSWORD_WARN_DAYS = _env_int("PASSWORD_WARN_DAYS", 14)
    PASSWORD_GRACE_DAYS = _env_int("PASSWORD_GRACE_DAYS", 30)
    PASSWORD_RESET_MINUTES = _env_int("PASSWORD_RESET_MINUTES", 30)
    # The set-password link of a new contact person (or after a lifted suspension), from its delivery.
    PASSWORD_SETUP_HOURS = _env_int("PASSWORD_SETUP_HOURS", 72)
    SESSION_IDLE_MINUTES = _env_int("SESSION_IDLE_MINUTES", 30)
    SESSION_ABSOLUTE_HOURS = _env_int("SESSION_ABSOLUTE_HOURS", 12)
    # Wrong passwords (services/login_throttle.py): one ID from one address; one address over all IDs;
    # one ID over all addresses, past which only addresses with no wrong password for it are heard.
    LOGIN_LIMIT_PER_ACCOUNT_AND_IP = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT_AND_IP", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "100 per 15 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "50 per 15 minutes")
    PASSWORD_RESET_LIMIT_PER_ACCOUNT = os.environ.get("PASSWORD_RESET_LIMIT_PER_ACCOUNT", "3 per hour")
    PASSWORD_RESET_LIMIT_PER_IP = os.environ.get("PASSWORD_RESET_LIMIT_PER_IP", "10 per hour")

    # Uploads: a request may carry a document plus form fields.
    UPLOAD_MAX_BYTES = _env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
    MAX_CONTENT_LENGTH = UPLOAD_MAX_BYTES + 1024 * 1024

    # Jobs and retention
    RQ_QUEUES = ["signing", "default", "maintenance"]
    JOB_RETRY_INTERVALS = [5, 30, 120, 600]
    OUTBOX_STALE_SECONDS = _env_int("OUTBOX_STALE_SECONDS", 120)
    # A worker writes its heartbeat into Redis this often, idle or busy; /healthz reports the workers
    # down after two missed beats and 5 s.
    WORKER_HEARTBEAT_SECONDS = _env_int("WORKER_HEARTBEAT_SECONDS", 10)
    # A monitor sending `Authorization: Bearer <HEALTHZ_TOKEN>` gets /healthz's details; unset: staff only.
    HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "")
    PURGE_BATCH_SIZE = _env_int("PURGE_BATCH_SIZE", 500)
    # A store object no document references is removed only when not written or touched for this long:
    # an upload may be in flight (its bytes are stored, or the same stored bytes touched, before its row
    # commits).
    PURGE_ORPHAN_MIN_AGE_SECONDS = _env_int("PURGE_ORPHAN_MIN_AGE_SECONDS", 3600)
    # 継続保管 (第11条の2): fee per case and year, yen without tax.
    CONTINUED_STORAGE_FEE_PER_YEAR = _env_int("CONTINUED_STORAGE_FEE_PER_YEAR", 1000)

    # Trusted proxy hops in front of the web process (X-Forwarded-For/-Proto); 0 = browsers connect directly.
    # gunicorn.conf.py reads the same variable to choose its workers.
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure and the __Host- name prefix follow PUBLIC_BASE_URL's scheme (create_app: _cookie_security).
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the session's own timeouts bound the token's life
    RATELIMIT_STORAGE_URI = REDIS_URL
    RATELIMIT_HEADERS_ENABLED = True
    DEMO = os.environ.get("UKEOI_DEMO", "0") == "1"


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105  (tests only)
    PKI_PASSPHRASE = "test-pki-passphrase"  # noqa: S105  (tests only)
    SQLALCHEMY_DATABASE_URI = _database_url("TEST_DATABASE_URL", "sqlite://")
    REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    RATELIMIT_STORAGE_URI = REDIS_URL
    MAIL_SERVER = None
    PUBLIC_BASE_URL = "http://localhost"
