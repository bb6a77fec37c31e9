"""Evidence of a completed case (R-CASE-4): the verification report, the evidence package, the public check.

One verification (`verify`, pyHanko through `services.verification`, trusting the portal's root) feeds
three renderings that say the same thing: the HTML component on the portal's pages, the standalone
HTML report and the PDF report inside the evidence package. `describe` turns the report into Japanese
lines once, so the three cannot drift apart.

The evidence package holds everything a party (or its lawyer, or an auditor) needs to validate the
contract offline with their own tools: the signed PDF, the report, the case's audit trail with its
hashes, the portal's CA certificates and CRL, and a README in Japanese. `flask portal export` writes
the same files into a folder.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import current_app, render_template
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from portal.clock import now_utc, to_jst
from portal.extensions import db
from portal.models import AuditEvent, Case, Company, Document, User
from portal.services import audit, cases, certificates, signing, verification
from portal.services.audit import Actor
from portal.services.errors import NotFound
from portal.services.pki_publish import fingerprint
from portal.services.storage import get_store, sha256_hex
from portal.services.verification import SignatureReport, TimestampReport, VerificationReport

logger = logging.getLogger(__name__)

REPORT_FONT_PATH = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
REPORT_FONT = "IPAexGothic"

# Files of the package (paths inside the zip and inside an exported folder).
REPORT_HTML = "verification_report.html"
REPORT_PDF = "verification_report.pdf"
AUDIT_CSV = "audit_trail.csv"
AUDIT_JSON = "audit_trail.json"
ROOT_PEM = "ca/ukeoi-root-ca.pem"
ISSUING_PEM = "ca/ukeoi-issuing-ca.pem"
TSA_PEM = "ca/ukeoi-tsa.pem"
CRL_FILE = "ca/ukeoi-issuing-ca.crl"
ROOT_CRL_FILE = "ca/ukeoi-root-ca.crl"
README = "README.txt"
CHECKSUMS = "SHA256SUMS.txt"

ORIGINAL_ROLES = ("signed", "sealed")  # files the portal issued with signatures on them
ACCEPTED_LEVELS = ("NONE", "LTA_UPDATES", "FORM_FILLING")  # changes a certification signature allows

MODIFICATION_LABELS = {
    "NONE": "変更なし",
    "LTA_UPDATES": "検証情報・タイムスタンプの追加のみ（許容される変更）",
    "FORM_FILLING": "署名欄への署名・検証情報の追加のみ（許容される変更）",
    "ANNOTATIONS": "注釈の追加あり（認証署名が許可しない変更）",
    "OTHER": "許可されていない変更あり",
}
COVERAGE_LABELS = {
    "ENTIRE_FILE": "ファイル全体",
    "ENTIRE_REVISION": "署名時点の版の全体（その後に追記された更新は上の「署名後の変更」で判定）",
    "CONTIGUOUS_BLOCK_FROM_START": "ファイルの先頭からの一部のみ",
    "UNCLEAR": "不明確",
}
DOCMDP_LABELS = {
    "NO_CHANGES": "変更を一切許可しない",
    "FILL_FORMS": "署名欄への署名とフォーム入力のみ許可",
    "ANNOTATE": "フォーム入力・署名・注釈を許可",
}
PROBLEM_LABELS = {
    "NO_SIGNATURE_TIMESTAMP": "署名タイムスタンプがありません",
    "INTEGRITY": "署名後にデータが改ざんされています",
    "NO_CERTIFICATE_CHAIN_FOUND": "信頼できる認証局までの証明書の連鎖が見つかりません",
    "REVOKED_NO_POE": "証明書が失効しています",
    "REVOKED_CA_NO_POE": "認証局の証明書が失効しています",
    "OUT_OF_BOUNDS_NO_POE": "証明書が有効期間外です",
    "EXPIRED": "証明書の有効期限が切れています",
    "NOT_YET_VALID": "証明書の有効期間が始まっていません",
    "TRY_LATER": "失効情報が得られないため判断できません",
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": "失効情報の有効期間外です",
    "CHAIN_CONSTRAINTS_FAILURE": "証明書の連鎖の制約を満たしていません",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "使用されている暗号アルゴリズムが許容されていません",
    "SIG_CONSTRAINTS_FAILURE": "署名の制約を満たしていません",
    "FORMAT_FAILURE": "署名の形式に誤りがあります",
    "GENERIC": "検証できませんでした",
    "NO_ARCHIVE_DATA": "検証情報（DSS）と文書タイムスタンプがありません",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "証明書の連鎖を検証できません（失効情報の不足など）",
}


# ---------------------------------------------------------------------- verification


def trust_material() -> tuple[list[asn1_x509.Certificate], list[bytes], list[asn1_x509.Certificate]]:
    """(trust roots, CRLs, other certificates) the portal validates with: its root and the external TSAs'
    roots, its latest CRL, and its issuing CA and TSA certificates as chain material."""
    pki = certificates.pki()
    crls = [der for der in (pki.current_crl(), pki.current_root_crl()) if der]
    roots = [*pki.trust_roots(), *certificates.external_tsa_roots()]
    return roots, crls, [pki.issuing_ca_cert(), pki.tsa_cert(), pki.ocsp_responder_cert()]


def verify(pdf: bytes) -> VerificationReport:
    """Validate every signature and document timestamp of `pdf` against the portal's trust.

    Raises `signing.InvalidPdf` (Japanese message) for anything that is not a readable PDF.
    """
    roots, crls, others = trust_material()
    return verification.verify_pdf(pdf, roots, crls, others)


@dataclass(frozen=True)
class Line:
    """One row of the report: a label, a value, and whether it is good (None: neutral information)."""

    label: str
    value: str
    ok: bool | None = None


@dataclass(frozen=True)
class Item:
    """One signature or document timestamp, described in Japanese."""

    title: str
    ok: bool
    verdict: str
    lines: list[Line]


@dataclass(frozen=True)
class ReportView:
    """A `VerificationReport` as the pages, the HTML and the PDF report show it."""

    ok: bool
    verdict: str  # the one-word summary: 有効, 署名なし, or the most serious failure
    headline: str
    has_signatures: bool
    ltv: bool
    signatures: list[Item]
    timestamps: list[Item]
    notes: list[Line] = field(default_factory=list)


def jst_text(instant: datetime | None, seconds: bool = True) -> str:
    if instant is None:
        return "―"
    local = to_jst(instant)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}（日本時間）" if seconds else (
        f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（日本時間）"
    )


def _problem_text(problem: str | None) -> str:
    if not problem:
        return ""
    label = PROBLEM_LABELS.get(problem)
    return f"{label}（{problem}）" if label else problem


def _modification_line(level: str | None) -> Line:
    if level is None:
        return Line("署名後の変更", "判定できません", False)
    return Line("署名後の変更", MODIFICATION_LABELS.get(level, level), level in ACCEPTED_LEVELS)


def _signature_item(index: int, sig: SignatureReport, ltv: bool) -> Item:
    kind = "承認署名"
    if sig.certification:
        permission = DOCMDP_LABELS.get(sig.docmdp_permission or "", sig.docmdp_permission or "")
        kind = f"認証署名（DocMDP：{permission}）" if permission else "認証署名（DocMDP）"
    integrity = sig.intact and sig.valid
    if not integrity:  # a broken signature says nothing about its certificate
        trust = Line("証明書の信頼性", "改ざんされているため判定できません", False)
    elif sig.revoked:
        trust = Line("証明書の信頼性", f"失効しています（失効日時 {jst_text(sig.revoked_at)}）", False)
    elif sig.trusted:
        trust = Line("証明書の信頼性", "信頼済みの認証局に連鎖し、署名時点で有効です", True)
    else:
        trust = Line("証明書の信頼性", "信頼できません", False)
    lines = [
        Line("署名者（会社名）", sig.company or sig.signer_subject or "不明"),
        Line("法人番号", sig.corporate_number or "―"),
        Line("証明書の主体者", sig.signer_subject or "―"),
        Line("証明書のシリアル番号", sig.certificate_serial or "―"),
        Line("証明書の有効期限", jst_text(sig.certificate_not_after)),
        Line("署名の種類", kind),
        Line("署名日時（タイムスタンプ）", jst_text(sig.signing_time), sig.signing_time is not None),
        Line("タイムスタンプ局", sig.tsa_name or "署名タイムスタンプがありません", sig.timestamp_ok),
        Line("完全性", "署名後に改ざんされていません" if integrity
             else "署名後に改ざんされているか、署名が壊れています", integrity),
        trust,
        _modification_line(sig.modification_level),
        Line("署名の対象範囲", COVERAGE_LABELS.get(sig.coverage or "", sig.coverage or "―")),
        Line("長期検証（LTV）", "検証情報と文書タイムスタンプにより長期検証できます" if ltv
             else "長期検証用の情報がありません", ltv),
    ]
    who = sig.company or sig.signer_subject or sig.field_name
    title = f"署名{index}：{who}（署名欄 {_field_label(sig.field_name)}）"
    return _verdict(title, sig.bottom_line, sig.problem, lines)


def _timestamp_item(index: int, ts: TimestampReport) -> Item:
    lines = [
        Line("時刻", jst_text(ts.time), ts.time is not None),
        Line("タイムスタンプ局", ts.tsa_name or "―"),
        Line("完全性", "タイムスタンプ後に改ざんされていません" if ts.intact else "改ざんされているか、壊れています",
             ts.intact),
        _timestamp_trust_line(ts),
        _modification_line(ts.modification_level),
    ]
    return _verdict(f"文書タイムスタンプ{index}（{ts.field_name}）", ts.bottom_line, ts.problem, lines)


def _timestamp_trust_line(ts: TimestampReport) -> Line:
    label = "タイムスタンプ局証明書の信頼性"
    if not ts.intact:  # a broken token says nothing about its certificate
        return Line(label, "改ざんされているため判定できません", False)
    return Line(label, "信頼済みの認証局に連鎖しています" if ts.trusted else "信頼できません", ts.trusted)


def _field_label(name: str) -> str:
    """"Party2" → "2": the party's position, as the parties are numbered on the pages."""
    number = name.removeprefix(signing.FIELD_PREFIX)
    return number if number.isdigit() else name


def _summary(report: VerificationReport) -> tuple[str, str]:
    """(verdict, headline): the most serious failure first — a changed file before a revoked certificate,
    before an untrusted one — since each later finding follows from the earlier."""
    if not report.has_signatures:
        return "署名なし", "このPDFには電子署名がありません。"
    sigs, stamps = report.signatures, report.document_timestamps
    if not (all(sig.intact and sig.valid for sig in sigs) and all(ts.intact for ts in stamps)):
        return "改ざんされています（無効）", ("署名又はタイムスタンプの後にPDFが改ざんされているか、"
                                      "署名が壊れています。この文書の署名は無効です。")
    if any(sig.revoked for sig in report.signatures):
        return "無効", "署名の時点で失効していた証明書による電子署名があります。"
    if report.valid and report.ltv:
        return "有効", "すべての電子署名と文書タイムスタンプが有効です。長期検証（PAdES B-LTA）に対応しています。"
    if report.valid:
        return "有効", "すべての電子署名が有効です。長期検証（PAdES B-LTA）に必要な検証情報はそろっていません。"
    if not (all(sig.trusted for sig in sigs) and all(ts.trusted for ts in stamps)):
        return "要確認", "信頼できる認証局に連鎖しない、又は失効情報のない署名・タイムスタンプがあります。"
    return "要確認", "有効でない電子署名又はタイムスタンプがあります。内容を確認してください。"


def _verdict(title: str, ok: bool, problem: str | None, lines: list[Line]) -> Item:
    """A signature's or timestamp's item: its lines, then why it failed when it did."""
    if problem and not ok:
        lines.append(Line("問題", _problem_text(problem), False))
    return Item(title=title, ok=ok, verdict="有効" if ok else "無効", lines=lines)


def describe(report: VerificationReport) -> ReportView:
    """The report in Japanese: a headline, one item per signature and document timestamp, notes."""
    verdict, headline = _summary(report)
    dss = (f"証明書 {report.dss_certificates} 件・失効リスト {report.dss_crls} 件・OCSP応答 {report.dss_ocsps} 件"
           if report.has_dss else "なし")
    ltv_text = "あり（PAdES B-LTA）" if report.ltv else (
        f"なし（{_problem_text(report.lta_problem)}）" if report.lta_problem else "なし")
    notes = [
        Line("検証情報（DSS）", dss, report.has_dss or None),
        Line("長期検証（LTV）", ltv_text, report.ltv),
    ]
    return ReportView(
        ok=report.valid,
        verdict=verdict,
        headline=headline,
        has_signatures=report.has_signatures,
        ltv=report.ltv,
        signatures=[_signature_item(i, s, report.ltv) for i, s in enumerate(report.signatures, start=1)],
        timestamps=[_timestamp_item(i, t) for i, t in enumerate(report.document_timestamps, start=1)],
        notes=notes,
    )


# ---------------------------------------------------------------------- the public check


@dataclass(frozen=True)
class OriginalMatch:
    """An uploaded file that is byte for byte a file the portal issued: only the case number and dates."""

    case_number: str
    issued_at: datetime
    final: bool  # the sealed (B-LTA) file of a completed case
    latest: bool  # no later signed or sealed file of the case exists
    completed_at: datetime | None

    @property
    def description(self) -> str:
        if self.final and self.latest:
            return "締結済みの契約書（原本）です。"
        if self.final:
            return "締結済みの契約書（原本）です。その後、長期保存のためタイムスタンプを更新した版があります。"
        return "署名の途中の版です。この版だけでは、すべての当事者が署名したこと（契約の締結）を示しません。"


@dataclass(frozen=True)
class CheckResult:
    sha256: str
    size: int
    report: VerificationReport
    view: ReportView
    original: OriginalMatch | None


def find_original(sha256: str) -> OriginalMatch | None:
    """The file with this SHA-256 among the signed and sealed files the portal issued, if any."""
    doc = db.session.scalar(
        select(Document).where(Document.sha256 == sha256, Document.role.in_(ORIGINAL_ROLES)).order_by(Document.id)
    )
    if doc is None:
        return None
    case = doc.case
    later = [d for d in case.documents if d.role in ORIGINAL_ROLES and d.id > doc.id and d.revision >= doc.revision]
    return OriginalMatch(
        case_number=case.number,
        issued_at=doc.created_at,
        final=doc.role == "sealed",
        latest=not later,
        completed_at=case.completed_at if doc.role == "sealed" else None,
    )


def check_upload(pdf: bytes, max_bytes: int) -> CheckResult:
    """The public verification page (R-CASE-4): is this an original we issued, and is every signature valid?

    Raises `signing.InvalidPdf` for a file that is too large, not a PDF, encrypted or broken.
    Signed PDFs are the point here, so `signing.inspect_upload` (which refuses them) is not used.
    """
    if len(pdf) > max_bytes:
        raise signing.InvalidPdf(f"ファイルが大きすぎます（上限 {max_bytes // (1024 * 1024)}MB）。")
    try:
        report = verify(pdf)
    except signing.InvalidPdf as exc:
        cause = exc.__cause__
        logger.info("verification page: refused %d bytes: %s", len(pdf),
                    f"{type(cause).__name__}: {cause}"[:200] if cause is not None else exc.message)
        raise
    digest = sha256_hex(pdf)
    return CheckResult(sha256=digest, size=len(pdf), report=report, view=describe(report),
                       original=find_original(digest))


# ---------------------------------------------------------------------- the evidence package


def completed_case_for(user: User, case_id: int) -> Case:
    """A completed case the user's company is party to and whose signed file was sent to it (R-STORE-4);
    NotFound (404) for anything else."""
    case = cases.get_for_user(user, case_id)
    final = cases.final_document(case)
    if case.status != "complete" or final is None:
        raise NotFound("証拠一式は、締結が完了した案件についてのみ取得できます。")
    if final not in cases.readable_documents(case, user.company_id):
        raise NotFound("案件が見つかりません。")
    return case


def signed_pdf_name(case: Case) -> str:
    return f"{_safe(case.number)}_signed.pdf"


def package_name(case: Case) -> str:
    return f"{_safe(case.number)}_evidence.zip"


def record_download(case: Case, what: str, actor: Actor, now: datetime | None = None,
                    document: Document | None = None) -> None:
    """Audit one download of evidence ("downloaded", R-CASE-4)."""
    detail: dict[str, object] = {"what": what}
    if document is not None:
        detail.update(document_id=document.id, sha256=document.sha256)
    audit.record("downloaded", actor, case_id=case.id, case_number=case.number, detail=detail, now=now)


def case_report(case: Case) -> tuple[Document, ReportView]:
    """The final file of a completed case and its verification, as the evidence page shows it."""
    final = cases.final_document(case)
    if final is None:
        raise NotFound("署名済みのPDFがありません。")
    return final, describe(verify(get_store().get(final.sha256)))


def package_for_user(user: User, case_id: int, actor: Actor, now: datetime | None = None) -> tuple[str, bytes]:
    """(file name, zip bytes) of the evidence package, for a party's user; the download is audited first,
    so the package's own audit trail shows it."""
    case = completed_case_for(user, case_id)
    record_download(case, "evidence_package", actor, now, cases.final_document(case))
    return package_name(case), to_zip(package_files(case, now=now))


def report_pdf_for_user(user: User, case_id: int, actor: Actor, now: datetime | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of the verification report as PDF, for a party's user; audited."""
    case = completed_case_for(user, case_id)
    final = cases.final_document(case)
    if final is None:  # completed_case_for found a complete case, which always has its sealed file
        raise RuntimeError(f"case {case.id} is complete but has no final document")
    record_download(case, "verification_report", actor, now, final)
    pdf = get_store().get(final.sha256)
    report = verify(pdf)
    return f"{_safe(case.number)}_verification_report.pdf", render_report_pdf(case, final, pdf, describe(report),
                                                                              now or now_utc())


def package_files(case: Case, now: datetime | None = None) -> dict[str, bytes]:
    """Every file of the evidence package of a completed case, path → bytes (README and checksums last)."""
    final = cases.final_document(case)
    if case.status != "complete" or final is None:
        raise NotFound("証拠一式は、締結が完了した案件についてのみ作成できます。")
    now = now or now_utc()
    store = get_store()
    pdf = store.get(final.sha256)
    view = describe(verify(pdf))
    pki = certificates.pki()
    files: dict[str, bytes] = {signed_pdf_name(case): pdf}
    files[REPORT_HTML] = render_report_html(case, final, pdf, view, now).encode("utf-8")
    files[REPORT_PDF] = render_report_pdf(case, final, pdf, view, now)
    rows = audit_rows(case.id)
    files[AUDIT_CSV] = audit_csv(rows)
    files[AUDIT_JSON] = audit_json(case, rows)
    files[ROOT_PEM] = _pem(pki.root_cert())
    files[ISSUING_PEM] = _pem(pki.issuing_ca_cert())
    files[TSA_PEM] = _pem(pki.tsa_cert())
    crl = pki.current_crl()
    if crl:
        files[CRL_FILE] = crl
    root_crl = pki.current_root_crl()
    if root_crl:
        files[ROOT_CRL_FILE] = root_crl
    _main, attachments = cases.current_documents(case)
    for number, doc in enumerate(attachments, start=1):
        files[f"attachments/{number:02d}_{_safe(doc.label)}_{_safe(doc.filename)}"] = store.get(doc.sha256)
    files[README] = readme_text(case, files, now).encode("utf-8")
    files[CHECKSUMS] = "".join(f"{sha256_hex(data)}  {name}\n" for name, data in files.items()).encode("utf-8")
    return files


def to_zip(files: dict[str, bytes]) -> bytes:
    """A zip of the files (names are UTF-8; PDFs are stored, text is deflated). Deterministic times."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".pdf") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_folder(files: dict[str, bytes], folder: Path) -> None:
    """Write the package's files under `folder` (created; existing files of the same name are replaced)."""
    folder = Path(folder)
    for name, data in files.items():
        path = folder / name
        if folder.resolve() not in path.resolve().parents:
            raise ValueError(f"unsafe path in package: {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


@dataclass(frozen=True)
class ExportResult:
    written: list[str]
    refused: list[tuple[str, str]]  # (case number, why)


def export(case_numbers: Iterable[str] | None, out: Path, now: datetime | None = None) -> ExportResult:
    """`flask portal export`: for each completed case (all of them when `case_numbers` is None),
    out/<case number>/ with the evidence package unpacked. Staff operation; each export is audited.
    The caller commits (ideally after each case, see cli.py)."""
    out = Path(out)
    written: list[str] = []
    refused: list[tuple[str, str]] = []
    for number, case in _cases_to_export(case_numbers):
        if case is None:
            refused.append((number, "no such case"))
            continue
        if case.status != "complete" or cases.final_document(case) is None:
            refused.append((number, f"not complete ({case.status})"))
            continue
        folder = out / _safe(case.number)
        write_folder(package_files(case, now=now), folder)
        audit.record("exported", case_id=case.id, case_number=case.number, detail={"by": "cli"}, now=now)
        db.session.commit()
        written.append(case.number)
        db.session.expunge_all()  # keep memory flat over many cases
    return ExportResult(written, refused)


def _cases_to_export(case_numbers: Iterable[str] | None) -> Iterable[tuple[str, Case | None]]:
    if case_numbers is not None:
        for number in case_numbers:
            yield number, db.session.scalar(select(Case).where(Case.number == number))
        return
    last_id = 0
    while True:
        ids = list(db.session.scalars(
            select(Case.id).where(Case.status == "complete", Case.id > last_id).order_by(Case.id).limit(100)
        ))
        if not ids:
            return
        for case_id in ids:
            case = db.session.get(Case, case_id)
            if case is not None:
                yield case.number, case
            last_id = case_id


# ---------------------------------------------------------------------- audit trail


def audit_rows(case_id: int) -> list[dict[str, object]]:
    """The case's audit events in order: the fields their hash covers, plus names and JST time."""
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)))
    company_ids = {e.company_id for e in events if e.company_id is not None}
    user_ids = {e.user_id for e in events if e.user_id is not None}
    company_rows = db.session.execute(select(Company.id, Company.name).where(Company.id.in_(company_ids)))
    companies: dict[int, str] = {row.id: row.name for row in company_rows}
    users: dict[int, str] = {
        row.id: row.name for row in db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    }
    rows = []
    for event in events:
        canonical = json.loads(audit._canonical(event))  # exactly what the event's hash covers
        rows.append({
            "id": event.id,
            **canonical,
            "hash": event.hash,
            "created_at_jst": to_jst(event.created_at).isoformat(),
            "company_name": companies.get(event.company_id) if event.company_id is not None else None,
            "user_name": users.get(event.user_id) if event.user_id is not None else None,
        })
    return rows


AUDIT_COLUMNS = ["id", "created_at", "created_at_jst", "action", "case_number", "company_id", "company_name",
                 "user_id", "user_name", "ip", "user_agent", "detail", "prev_hash", "hash"]
HASHED_FIELDS = ["action", "case_id", "case_number", "company_id", "user_id", "detail", "ip", "user_agent",
                 "created_at", "prev_hash"]


def audit_csv(rows: list[dict[str, object]]) -> bytes:
    """CSV with a BOM, so that Excel opens the Japanese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(AUDIT_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(c, row[c]) for c in AUDIT_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_cell(column: str, value: object) -> object:
    if column == "detail":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def audit_json(case: Case, rows: list[dict[str, object]]) -> bytes:
    body = {
        "case_number": case.number,
        "hash_algorithm": "sha256",
        "hashed_fields": HASHED_FIELDS,
        "canonical_form": "JSON of the hashed fields, keys sorted, separators ',' and ':', UTF-8, not ASCII-escaped",
        "events": rows,
    }
    return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ---------------------------------------------------------------------- rendering


def _report_context(case: Case, final: Document, pdf: bytes, view: ReportView, now: datetime) -> dict:
    return dict(
        case=case,
        document=final,
        file_name=signed_pdf_name(case),
        sha256=sha256_hex(pdf),
        size=len(pdf),
        rv=view,
        generated_at=jst_text(now),
        jst_text=jst_text,
        root_fingerprint=root_fingerprint(),
    )


def render_report_html(case: Case, final: Document, pdf: bytes, view: ReportView, now: datetime) -> str:
    """The standalone HTML report (no external resources: it opens from the unzipped folder)."""
    return render_template("cases/evidence_report.html", **_report_context(case, final, pdf, view, now))


def _register_font() -> None:
    if REPORT_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REPORT_FONT, REPORT_FONT_PATH))


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    # Escapes text for reportlab's paragraph markup; no XML is parsed.
    from xml.sax.saxutils import escape  # nosec B406

    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render_report_pdf(case: Case, final: Document, pdf: bytes, view: ReportView, now: datetime) -> bytes:
    """The verification report as an A4 PDF (reportlab, IPAex Gothic embedded)."""
    _register_font()
    base = ParagraphStyle("base", fontName=REPORT_FONT, fontSize=9, leading=13, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=6)
    heading = ParagraphStyle("heading", parent=base, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4)
    good = ParagraphStyle("good", parent=base, textColor=colors.Color(0.12, 0.42, 0.23))
    bad = ParagraphStyle("bad", parent=base, textColor=colors.Color(0.64, 0.15, 0.16))
    context = _report_context(case, final, pdf, view, now)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=42, rightMargin=42, topMargin=42, bottomMargin=42,
                            title=f"検証レポート {case.number}", author="Ukeoi", invariant=1)

    def grid(rows: list[tuple[str, str, bool | None]]) -> Table:
        cells = [[_p(label, base), _p(value + ("" if ok is None else ("　✓" if ok else "　✗")),
                                      base if ok is None else (good if ok else bad))]
                 for label, value, ok in rows]
        table = Table(cells, colWidths=[130, 381])
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.Color(0.7, 0.7, 0.7)),
            ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.94, 0.94, 0.94)),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return table

    story: list = [
        _p("電子署名 検証レポート", title),
        grid([
            ("案件番号", case.number, None),
            ("件名", case.title, None),
            ("当事者（署名順）", "\n".join(f"{p.position}. {p.company_name}" for p in case.parties), None),
            ("対象ファイル", context["file_name"], None),
            ("SHA-256", context["sha256"], None),
            ("ファイルサイズ", f"{context['size']:,} バイト", None),
            ("締結日時", jst_text(case.completed_at), None),
            ("作成日時", context["generated_at"], None),
        ]),
        Spacer(1, 6),
        _p("結果", heading),
        _p(f"{view.verdict}　{view.headline}", good if view.ok else bad),
        Spacer(1, 4),
        grid([(line.label, line.value, line.ok) for line in view.notes]),
    ]
    for item in [*view.signatures, *view.timestamps]:
        story.append(KeepTogether([
            _p(f"{item.title}　{item.verdict}", heading),
            grid([(line.label, line.value, line.ok) for line in item.lines]),
        ]))
    story += [
        Spacer(1, 8),
        _p("検証の方法", heading),
        _p("pyHanko の検証機能で、Ukeoi ルート認証局を信頼の起点とし、各署名をその署名タイムスタンプの時刻において、"
           "PDFに埋め込まれた検証情報（証明書・失効リスト・OCSP応答）と Ukeoi の最新の失効リストを用いて検証しました。"
           "長期検証は、ルート認証局より下のすべての証明書に失効情報を求める方針（REQUIRE_REVINFO）で判定しています。"
           f"ルート認証局証明書の SHA-256 フィンガープリント：{context['root_fingerprint']}", base),
    ]
    doc.build(story)
    return buffer.getvalue()


def readme_text(case: Case, files: dict[str, bytes], now: datetime) -> str:
    """The package's README (Japanese): what each file is and how to validate offline."""
    return render_template(
        "cases/evidence_readme.txt",
        case=case,
        signed_name=signed_pdf_name(case),
        files=list(files),
        attachments=[name for name in files if name.startswith("attachments/")],
        has_crl=CRL_FILE in files,
        has_root_crl=ROOT_CRL_FILE in files,
        root_fingerprint=root_fingerprint(),
        ca_page=current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/pki/ca",
        generated_at=jst_text(now),
        names=dict(report_html=REPORT_HTML, report_pdf=REPORT_PDF, audit_csv=AUDIT_CSV, audit_json=AUDIT_JSON,
                   root=ROOT_PEM, issuing=ISSUING_PEM, tsa=TSA_PEM, crl=CRL_FILE, root_crl=ROOT_CRL_FILE,
                   checksums=CHECKSUMS),
    ).replace("\r\n", "\n")


# ---------------------------------------------------------------------- helpers


def _pem(cert: asn1_x509.Certificate) -> bytes:
    return x509.load_der_x509_certificate(cert.dump()).public_bytes(serialization.Encoding.PEM)


def root_fingerprint() -> str:
    return fingerprint(certificates.pki().root_cert())


def _safe(name: str) -> str:
    """A file name without path separators or characters Windows refuses."""
    name = unicodedata.normalize("NFKC", name or "")
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(" .")
    return name[:120] or "file"


__all__ = [
    "CheckResult",
    "ExportResult",
    "Item",
    "Line",
    "OriginalMatch",
    "ReportView",
    "case_report",
    "check_upload",
    "completed_case_for",
    "describe",
    "export",
    "find_original",
    "package_files",
    "package_for_user",
    "record_download",
    "report_pdf_for_user",
    "to_zip",
    "trust_material",
    "verify",
    "write_folder",
]
