"""Limits that keep one person or script from harming others: request bodies cut off at the
size limit, password guessing locked out for the guesser and not the owner, and throttled
registration, interest and anonymous search (found by the hostile walk-through; each through
real requests)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts, leads
from matcher.access import Viewer
from matcher.db import session_scope
from matcher.models import (
    Technology,
    User,
    pk,
)
from tests.web.conftest import PASSWORD, USERS


def _user(session, who: str) -> User:  # type: ignore[no-untyped-def]
    return session.exec(select(User).where(User.email == USERS[who][0])).one()


# 6 ---------------------------------------------------------------------------------------------


def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    asyncio.run(_chunked_body_is_cut_off())


async def _chunked_body_is_cut_off() -> None:
    from web.security import SecurityMiddleware

    consumed = 0
    chunk = b"a" * 65536

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        while (await receive()).get("more_body"):
            pass

    async def receive():  # type: ignore[no-untyped-def]
        nonlocal consumed
        consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": consumed < 500}  # 32 MB

    sent: list[dict] = []  # type: ignore[type-arg]

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    middleware = SecurityMiddleware(app, max_body_bytes=10 * 1048576, secure_cookies=False)
    scope = {"type": "http", "path": "/login", "method": "POST", "headers": [
        (b"content-type", b"application/x-www-form-urlencoded"), (b"transfer-encoding", b"chunked")]}  # fmt: skip
    from fastapi import HTTPException

    with pytest.raises(HTTPException) as refused:
        await middleware(scope, receive, send)
    assert refused.value.status_code == 413
    assert consumed <= 17  # 1 MB for a form: read no further than the limit
    consumed = 0
    scope["headers"] = [(b"content-type", b"multipart/form-data; boundary=x")]
    with pytest.raises(HTTPException):
        await middleware(scope, receive, send)
    assert consumed <= 161  # uploads stop at their own limit (10 MB)


def test_an_oversized_body_gets_a_413_in_chinese(make_browser) -> None:  # type: ignore[no-untyped-def]
    b = make_browser()
    b.get("/login")
    response = b.client.post(
        "/login", content=b"email=" + b"a" * (2 * 1048576), headers={
            "content-type": "application/x-www-form-urlencoded", "X-CSRF-Token": b.token},
    )  # fmt: skip
    assert response.status_code == 413 and "上传内容过大" in response.text


# 10 --------------------------------------------------------------------------------------------


def test_wrong_passwords_lock_out_the_guesser_not_the_owner(make_browser) -> None:  # type: ignore[no-untyped-def]
    attacker = make_browser(address="203.0.113.9")
    attacker.get("/login")
    for _ in range(5):
        attacker.post("/login", {"email": USERS["univ"][0], "password": "guess-12345"})
    blocked = attacker.post("/login", {"email": USERS["univ"][0], "password": PASSWORD})
    assert blocked.status_code == 429
    owner = make_browser(address="198.51.100.7")
    owner.get("/login")
    signed_in = owner.post(
        "/login", {"email": USERS["univ"][0], "password": PASSWORD}, follow_redirects=False
    )
    assert signed_in.status_code == 303


def test_a_distributed_guess_is_stopped_for_unknown_clients_only(
    make_browser, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    owner = make_browser(address="198.51.100.7")
    owner.get("/login")
    owner.post("/login", {"email": USERS["univ"][0], "password": PASSWORD})
    with session_scope(engine) as session:
        for i in range(accounts.MAX_FAILURES_PER_ACCOUNT):
            accounts.record_attempt(session, USERS["univ"][0], f"10.0.{i // 250}.{i % 250}", False)
    stranger = make_browser(address="192.0.2.44")
    stranger.get("/login")
    assert (
        stranger.post("/login", {"email": USERS["univ"][0], "password": PASSWORD}).status_code
        == 429
    )
    again = make_browser(address="198.51.100.7")
    again.get("/login")
    assert (
        again.post("/login", {"email": USERS["univ"][0], "password": PASSWORD},
                   follow_redirects=False).status_code == 303
    )  # fmt: skip


# 11 --------------------------------------------------------------------------------------------


def test_registration_interest_and_anonymous_search_are_throttled(  # type: ignore[no-untyped-def]
    web_app, make_browser, engine: Engine
) -> None:
    client = make_browser(address="192.0.2.80")
    client.get("/register")
    codes = []
    for i in range(accounts.REGISTRATIONS_PER_CLIENT_PER_HOUR + 1):
        client.client.cookies.clear()
        client.get("/register")
        codes.append(
            client.post(
                "/register",
                {"org_name": f"新注册院所{i}", "kind": "institute", "name": "张", "email": f"r{i}@example.cn",
                 "password": "abcdefg123", "password2": "abcdefg123"},
                follow_redirects=False,
            ).status_code
        )  # fmt: skip
    assert codes[:-1] == [303] * accounts.REGISTRATIONS_PER_CLIENT_PER_HOUR and codes[-1] == 429

    with session_scope(engine) as session:
        ship = _user(session, "ship")
        owner = _user(session, "univ").organization_id
        ids = []
        for i in range(leads.INTERESTS_PER_DAY + 1):
            tech = Technology(
                title=f"成果{i}",
                summary="测试",
                field="新材料",
                trl=5,
                cooperation_modes=["转让"],
                owner_id=owner,  # type: ignore[arg-type]
            )
            session.add(tech)
            session.flush()
            ids.append(pk(tech))
    viewer = Viewer(ship.id, ship.organization_id, ship.role)
    with pytest.raises(Exception, match="已达上限"):
        for tech_id in ids:
            with session_scope(engine) as session:
                leads.express_interest(session=session, viewer=viewer, technology_id=tech_id)

    anonymous = make_browser(address="192.0.2.81").client
    answers = [anonymous.get("/api/v1/search?q=高炉").status_code for _ in range(61)]
    assert answers[:60] == [200] * 60 and answers[60] == 429
    with session_scope(engine) as session:
        token = accounts.new_api_token(session=session, user=session.get(User, ship.id), name="t")  # type: ignore[arg-type]
    signed = make_browser(address="192.0.2.81").client
    assert (
        signed.get(
            "/api/v1/search?q=高炉", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
