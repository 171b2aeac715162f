"""Personal information (个人信息保护法): download my data, delete my account — and the deletion
reaches the database, the index, later exports and the audit log (which never holds the
erased or revealed values); logs never carry passwords, tokens or contact details."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.catalog import export_catalog
from matcher.db import session_scope
from matcher.models import AuditLog, Technology, User
from tests.web.conftest import PASSWORD, USERS

PHONE = "13812345678"  # T1's contact phone in the test catalog
EMAIL = "wang@bc.example.cn"  # T1's contact e-mail


def test_download_then_delete_my_account(
    make_browser, engine: Engine, web_app, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    with session_scope(engine) as session:
        univ = session.exec(select(User).where(User.email == USERS["univ"][0])).one()
        univ.phone = PHONE  # the person named as T1's contact
        session.add(univ)
        token = accounts.new_api_token(session=session, user=univ, name="t")
        univ_id = univ.id
    b = make_browser("univ")
    assert (
        b.client.get(
            "/api/v1/my/technologies", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )

    # download: everything held about the person, including listings carrying their contact
    response = b.get("/account/data.json")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    data = json.loads(response.content)
    assert data["account"]["email"] == USERS["univ"][0] and data["account"]["phone"] == PHONE
    assert any(
        item["title"] == "高炉炉况在线监测" for item in data["listings_with_my_contact_details"]
    )

    # deletion needs the password and the confirmation word
    b.get("/account")
    wrong = b.post("/account/delete", {"password": "not-it", "confirm": "注销"})
    assert wrong.status_code == 422 and "密码不正确" in wrong.text
    unconfirmed = b.post("/account/delete", {"password": PASSWORD, "confirm": ""})
    assert unconfirmed.status_code == 422 and "注销" in unconfirmed.text
    done = b.post(
        "/account/delete", {"password": PASSWORD, "confirm": "注销"}, follow_redirects=False
    )
    assert done.status_code == 303

    # the session and the token are gone; the old credentials do not sign in
    assert b.get("/workspace", follow_redirects=False).status_code in (302, 303, 401)
    assert (
        b.client.get(
            "/api/v1/my/technologies", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    fresh = make_browser()
    fresh.get("/login")
    assert fresh.post("/login", {"email": USERS["univ"][0], "password": PASSWORD}).status_code in (
        401,
        422,
    )

    with session_scope(engine, write=False) as session:
        gone = session.get(User, univ_id)
        assert gone is not None and not gone.is_active and gone.phone is None
        assert USERS["univ"][0] not in gone.email
        t1 = session.exec(select(Technology).where(Technology.code == "T1")).one()
        assert t1.contact_phone is None  # the person's phone left the listing ...
        exported = export_catalog(session, "technologies", "csv").decode("utf-8-sig")
        assert PHONE not in exported  # ... and every later export
        assert "高炉炉况在线监测" in exported  # the organization's listing itself stays
        audit = session.exec(select(AuditLog).where(AuditLog.action == "account.delete")).one()
        exports = session.exec(select(AuditLog).where(AuditLog.action == "privacy.export")).all()
        assert (
            exports
            and PHONE not in json.dumps(audit.detail)
            and "univ@" not in json.dumps(audit.detail)
        )
    # the index applied the change (no drift, nothing pending)
    manager = web_app.state.index
    manager.catch_up()
    assert all(r["ok"] for r in manager.verify().values())

    # nothing secret or personal was ever logged
    logged = caplog.text
    for marker in (PASSWORD, token, PHONE, EMAIL):
        assert marker not in logged, f"{marker!r} appeared in the logs"


def test_the_last_administrator_cannot_delete_themselves(make_browser) -> None:  # type: ignore[no-untyped-def]
    admin = make_browser("admin")
    admin.get("/account")
    response = admin.post("/account/delete", {"password": PASSWORD, "confirm": "注销"})
    assert response.status_code == 422 and "最后一个管理员" in response.text
