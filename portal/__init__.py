"""Ukeoi (請負): electronic construction contracts with PAdES signatures and ten-year storage."""
from __future__ import annotations

import importlib
import os
import pkgutil
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config
from portal.extensions import csrf, db, htmx, limiter, login_manager, mail


def create_app(config: type | dict | None = None, *, commands: bool = True) -> Flask:
    """Build the app. `config` is a Config subclass or a dict of overrides (tests). Jobs pass
    commands=False: they run no CLI, and leaving out Flask-Migrate (Alembic) keeps every forked
    work-horse about 10 MB smaller."""
    app = Flask(__name__, instance_path=str(Config.INSTANCE_DIR))
    if config is None:  # an explicit config (tests) brings its own secrets, never the install's
        _load_instance_secrets(Path(app.instance_path))
    app.config.from_object(Config)
    for name in ("SECRET_KEY", "PKI_PASSPHRASE"):  # read after secret.env is loaded
        app.config[name] = app.config.get(name) or os.environ.get(name)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: run `flask portal init` or set it in the environment")
    _cookie_security(app)
    if app.config.get("PROXY_COUNT"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_COUNT"]), x_proto=1)  # type: ignore[method-assign]

    _init_extensions(app)
    from portal import web

    web.init_url_converters(app)
    _register_blueprints(app)
    web.init_app(app)
    if commands:
        from portal import cli

        cli.init_app(app)
    return app


def _cookie_security(app: Flask) -> None:
    """Served over https (PUBLIC_BASE_URL), the session and remember cookies are Secure and named
    with the __Host- prefix: browsers then refuse them unless Secure, Path=/ and without Domain, so
    neither plain http nor a sibling subdomain can plant or overwrite them. Over http (`make run` on
    127.0.0.1) a Secure cookie would never be sent back, so both stay off there."""
    https = urlsplit(app.config["PUBLIC_BASE_URL"]).scheme == "https"
    app.config.update(SESSION_COOKIE_SECURE=https, REMEMBER_COOKIE_SECURE=https)
    if https:
        app.config.update(
            SESSION_COOKIE_NAME="__Host-session",
            SESSION_COOKIE_PATH="/",
            SESSION_COOKIE_DOMAIN=None,
            REMEMBER_COOKIE_NAME="__Host-remember_token",
            REMEMBER_COOKIE_PATH="/",
            REMEMBER_COOKIE_DOMAIN=None,
        )


def _load_instance_secrets(instance: Path) -> None:
    """A single-machine install keeps its generated secrets in instance/secret.env (mode 0600).

    Several machines must share SECRET_KEY and PKI_PASSPHRASE through the environment instead.
    """
    path = instance / "secret.env"
    if not path.exists() and not os.environ.get("SECRET_KEY"):
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"SECRET_KEY={secrets.token_urlsafe(48)}\nPKI_PASSPHRASE={secrets.token_urlsafe(48)}\n")
    load_dotenv(path, override=False)


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    limiter.init_app(app)
    _init_mail(app)

    import portal.models  # noqa: F401  (register every table with the metadata)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the web, worker and cron processes share the embedded database; FKs as on PostgreSQL."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _init_mail(app: Flask) -> None:
    # Flask-Mailman reads MAIL_BACKEND ("smtp" | "file" | …), MAIL_FILE_PATH and MAIL_TIMEOUT; without
    # a timeout a silent SMTP server would hold a mail job forever. services/notify.py re-reads these
    # at send time, so a changed MAIL_FILE_PATH (tests) is honoured.
    app.config.setdefault("MAIL_TIMEOUT", 30)
    if app.config.get("MAIL_SERVER"):
        app.config["MAIL_BACKEND"] = "smtp"
    else:
        app.config["MAIL_BACKEND"] = "file"
        Path(app.config["MAIL_FILE_PATH"]).mkdir(parents=True, exist_ok=True)
    mail.init_app(app)


# (blueprint package, URL prefix). Importing its routes.py and any *_routes.py attaches the views
# to the package's bp; a large area splits its views that way (admin/accounts_routes.py, …).
BLUEPRINTS = [
    ("public", None),
    ("auth", None),
    ("home", None),
    ("account", "/account"),
    ("cases", "/cases"),
    ("admin", "/admin"),
]


def _register_blueprints(app: Flask) -> None:
    for name, prefix in BLUEPRINTS:
        package = importlib.import_module(f"portal.blueprints.{name}")
        for module in pkgutil.iter_modules(package.__path__):
            if module.name == "routes" or module.name.endswith("_routes"):
                importlib.import_module(f"{package.__name__}.{module.name}")
        app.register_blueprint(package.bp, url_prefix=prefix)
