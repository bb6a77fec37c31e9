"""All models, imported here so that Alembic and the app see every table."""
from portal.models.application import Application
from portal.models.audit import AuditEvent
from portal.models.case import Case, Delivery, Document, Party
from portal.models.company import (
    Certificate,
    ChangeRequest,
    Company,
    Contract,
    ContractTerm,
    LoginSession,
    PasswordReset,
    User,
)
from portal.models.notice import SentNotice, TermsVersion
from portal.models.outbox import OutboxItem
from portal.models.retention import ContinuedStorage, PurgeRecord, PurgeRun

__all__ = [
    "Application",
    "AuditEvent",
    "Case",
    "Certificate",
    "ChangeRequest",
    "Company",
    "ContinuedStorage",
    "Contract",
    "ContractTerm",
    "Delivery",
    "Document",
    "LoginSession",
    "OutboxItem",
    "Party",
    "PasswordReset",
    "PurgeRecord",
    "PurgeRun",
    "SentNotice",
    "TermsVersion",
    "User",
]
