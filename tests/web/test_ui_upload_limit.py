"""The 413 and the address bar without a browser: what the server answers a too-large upload and a refused
boosted form."""
from __future__ import annotations

import io

from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import stream_encode_multipart

from portal.extensions import db
from portal.models import User
from tests.conftest import csrf_token_from
from tests.web.cases_support import certified_company, client_for, draft_via_service


def test_ui_4_too_large_upload_is_refused_at_the_file_field(app, ctx, portal_pki):
    """Does a file over UPLOAD_MAX_BYTES get the case page back (413) with the message at the file field,
    and a refused boosted form tell htmx to keep the page's URL (3)?"""
    first = certified_company("甲建設株式会社", "kou")
    second = certified_company("乙工務店株式会社", "otsu")
    author = db.session.scalar(select(User).where(User.login_id == "kou"))
    case = draft_via_service(author, [first, second], title="大きすぎる書類の工事")
    kou = client_for(app, "kou")
    page = kou.get(f"/cases/{case.id}")
    too_large = io.BytesIO(b"%PDF-1.7\n" + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    upload = FileStorage(too_large, "big.pdf", content_type="application/pdf")
    fields = {"csrf_token": csrf_token_from(page), "version": "1", "kind": "main", "file": upload}
    # Encoded in memory: the test client would spool this body to a temporary file the refusal leaves open.
    stream, length, boundary = stream_encode_multipart(MultiDict(fields), use_tempfile=False)
    response = kou.post(
        f"/cases/{case.id}/documents", input_stream=stream, content_length=length,
        content_type=f'multipart/form-data; boundary="{boundary}"',
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "大きすぎる書類の工事" in body
    field = body[body.index('id="field-file"'):]
    assert "ファイルが大きすぎます" in field[:field.index("</div>")]
    assert response.headers["HX-Push-Url"] == "false"
