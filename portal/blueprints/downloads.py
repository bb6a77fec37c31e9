"""File responses of stored documents, shared by the company and staff areas: never cached, and a PDF
shown in the browser gets a policy of its own."""
from __future__ import annotations

import io

from flask import Response, send_file

from portal.models import Document

# The PDF frame's own policy: nothing but the PDF itself; only our pages may frame it.
PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"


def file_response(data: bytes, name: str, mimetype: str, *, as_attachment: bool = True) -> Response:
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=as_attachment, download_name=name,
                         max_age=0)  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def pdf_response(doc: Document, data: bytes, *, as_attachment: bool) -> Response:
    """A stored PDF inline (the in-browser view) or as a download, under its file name."""
    name = doc.filename or f"{doc.sha256[:12]}.pdf"
    response = file_response(data, name, "application/pdf", as_attachment=as_attachment)
    response.headers["Content-Security-Policy"] = PDF_CSP
    return response
