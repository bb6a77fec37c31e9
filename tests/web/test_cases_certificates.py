"""Certificates on the pages (R-ACC-4): the company sees subject, serial, validity and status; staff revoke
with a reason and reissue; a company without a valid certificate cannot sign."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate
from portal.services import certificates
from tests.conftest import csrf_token_from
from tests.web.cases_support import certified_company, client_for, fresh


def test_r_acc_4_company_sees_its_certificate_on_the_account_page(app, ctx, portal_pki):
    """Does the account page show the company's certificate subject, serial, validity and status?"""
    company = certified_company("甲建設株式会社", "kou")
    cert = certificates.active_for(company.id)
    serial, number = cert.serial, company.corporate_number
    page = client_for(app, "kou").get("/account/").get_data(as_text=True)
    section = page[page.index('id="account-certificate"'):]
    assert serial in section and number in section and "甲建設株式会社" in section and "有効" in section


def test_r_acc_4_staff_revoke_with_a_reason_and_reissue(app, ctx, portal_pki, staff_user):
    """Can staff revoke a certificate with a recorded reason, and reissue one that becomes the active one?"""
    company = certified_company("甲建設株式会社", "kou")
    company_id, old_id = company.id, certificates.active_for(company.id).id
    staff = client_for(app, "staff1")
    page = staff.get(f"/admin/companies/{company_id}")
    body = page.get_data(as_text=True)
    assert 'id="company-certificates"' in body
    token = csrf_token_from(page)
    response = staff.post(f"/admin/companies/{company_id}/certificates/{old_id}/revoke",
                          data={"csrf_token": token, "reason": "key_compromise"})
    assert response.status_code == 302
    fresh()
    old = db.session.get(Certificate, old_id)
    assert (old.status, old.revocation_reason) == ("revoked", "key_compromise")
    assert certificates.active_for(company_id) is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "certificate_revoked"))
    assert event.detail["reason"] == "key_compromise" and event.ip is not None
    again = staff.post(f"/admin/companies/{company_id}/certificates/{old_id}/revoke",
                       data={"csrf_token": token, "reason": "key_compromise"})
    assert again.status_code == 409
    assert staff.post(f"/admin/companies/{company_id}/certificates/reissue",
                      data={"csrf_token": token}).status_code == 302
    fresh()
    assert certificates.active_for(company_id) is not None
    page = client_for(app, "kou").get("/account/").get_data(as_text=True)
    assert "失効" in page and len(re.findall(r"<code>[0-9a-f]+</code>", page)) == 2


def test_r_acc_4_only_staff_manage_certificates(app, ctx, portal_pki):
    """Can a company user revoke or reissue certificates? (403)"""
    company = certified_company("甲建設株式会社", "kou")
    company_id, cert_id = company.id, certificates.active_for(company.id).id
    client = client_for(app, "kou")
    token = csrf_token_from(client.get("/cases/"))
    assert client.post(f"/admin/companies/{company_id}/certificates/{cert_id}/revoke",
                       data={"csrf_token": token, "reason": "key_compromise"}).status_code == 403
    assert client.post(f"/admin/companies/{company_id}/certificates/reissue",
                       data={"csrf_token": token}).status_code == 403
    fresh()
    assert certificates.active_for(company_id).id == cert_id
