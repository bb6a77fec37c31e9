"""Flask extensions, created once and bound to the app in create_app()."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import request
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
mail = Mail()


def client_ip() -> str:
    """The client's address; behind a proxy, ProxyFix has already rewritten remote_addr."""
    return get_remote_address() or request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[], strategy="moving-window")


# Models subclass `Model`: at run time Flask-SQLAlchemy's db.Model, to type checkers the declarative Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
