"""R-STORE-1 / 第19条1項(1): re-hash every stored original and alert on any mismatch.

The database holds each document's SHA-256; an object whose bytes no longer hash to its name, or a
referenced object that is missing, is tampering or corruption. The alert is an audit event plus a
mail to every staff administrator, so it cannot go unnoticed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from portal.extensions import db
from portal.models import Document, User
from portal.services import audit, notify
from portal.services.storage import get_store


@dataclass
class IntegrityReport:
    checked: int = 0
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.missing


def rehash_store(batch_size: int = 1000) -> IntegrityReport:
    """Stream every referenced object through SHA-256 (memory stays flat), then alert if needed."""
    store = get_store()
    report = IntegrityReport()
    last = ""
    while True:
        digests = db.session.scalars(
            select(Document.sha256).where(Document.sha256 > last).group_by(Document.sha256)
            .order_by(Document.sha256).limit(batch_size)
        ).all()  # fmt: skip
        if not digests:
            break
        for digest in digests:
            report.checked += 1
            if not store.exists(digest):
                report.missing.append(digest)
            elif not store.verify(digest):
                report.mismatched.append(digest)
        last = digests[-1]
    if not report.ok:
        _alert(report)
    return report


def _alert(report: IntegrityReport) -> None:
    detail = {"mismatched": report.mismatched[:100], "missing": report.missing[:100], "checked": report.checked}
    audit.record("integrity_alert", detail=detail)
    body = notify.render("integrity_alert.txt", report=report)
    admins = db.session.scalars(select(User).where(User.role == "staff_admin", User.active.is_(True))).all()
    for admin in admins:
        notify.queue("integrity_alert", admin.email, "保管文書の改ざん・破損を検知しました", body)
