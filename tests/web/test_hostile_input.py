"""Hostile input: oversized uploads refused before they are read, zip and XML-entity bombs
refused quickly with little memory, XSS and htmx-attribute payloads inert on every page and
fragment that shows them, SQL-looking text stored and shown verbatim."""

from __future__ import annotations

import asyncio
import html
import io
import tracemalloc
import zipfile

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher.catalog import import_catalog, preview_catalog
from matcher.errors import DomainError
from matcher.models import Technology, TechnologyCreate, User
from matcher.services import save_technology
from tests.web.conftest import USERS

XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
HTMX = '<div hx-get="/logout" hx-trigger="load">点我</div>'
SQL = "Robert'); DROP TABLE technology;--"


def test_an_oversized_upload_is_refused_before_its_body_is_read(web_app) -> None:  # type: ignore[no-untyped-def]
    limit = web_app.state.settings.max_upload_mb * 1024 * 1024
    sent: list[dict] = []  # type: ignore[type-arg]

    async def receive() -> dict:  # type: ignore[type-arg]
        raise AssertionError("the body was read")

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/workspace/import/preview", "raw_path": b"/workspace/import/preview",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=x"),
                    (b"content-length", str(limit * 4).encode())],
    }  # fmt: skip
    asyncio.run(web_app(scope, receive, send))
    assert sent[0]["status"] == 413


def _xlsx_with(member: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr(member, payload)
    return buffer.getvalue()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row><c t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("bomb.xlsx", _xlsx_with("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024)), "压缩"),
        ("laughs.xlsx", _xlsx_with("xl/worksheets/sheet1.xml", BILLION_LAUGHS), ""),
    ],
    ids=["zip-bomb", "entity-bomb"],
)
def test_bombs_are_refused_with_little_memory(
    engine: Engine, name: str, data: bytes, message: str
) -> None:
    assert len(data) < 2 * 1024 * 1024  # small on the wire
    tracemalloc.start()
    with pytest.raises(DomainError) as refused:
        import_catalog(engine=engine, kind="technologies", data=data, filename=name)
    report = preview_catalog(engine=engine, kind="technologies", data=data, filename=name)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.problems and message in str(report.problems[0])
    assert message in str(refused.value.problems[0])  # type: ignore[attr-defined]
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_payloads_are_inert_and_sql_text_is_verbatim(make_browser, engine: Engine, web_app) -> None:  # type: ignore[no-untyped-def]
    from matcher.db import session_scope

    with session_scope(engine) as session:
        univ = session.exec(select(User).where(User.email == USERS["univ"][0])).one()
        tech = save_technology(
            session=session,
            data=TechnologyCreate(
                title=f"{SQL} {XSS}"[:200], summary=f"{HTMX} 高炉 {XSS} {{{{7*7}}}}", field="新材料",
                trl=5, cooperation_modes=["转让"], keywords=["<b>粗体</b>"], contact_name=XSS[:60],
            ),
            owner_id=univ.organization_id,  # type: ignore[arg-type]
        )  # fmt: skip
        tech_id, org_id = tech.id, univ.organization_id
    b = make_browser("steel")  # starts the app (its index)
    web_app.state.index.catch_up()
    pages = [
        f"/technologies/{tech_id}",
        f"/organizations/{org_id}",
        "/?q=高炉",
        "/?q=" + SQL,
        f"/technologies/{tech_id}/similar",
        "/search?q=高炉",
    ]
    for url in pages:
        response = b.get(url, headers={"HX-Request": "true"} if url.startswith("/search") else {})
        if response.status_code == 404:
            continue
        assert response.status_code == 200, (url, response.status_code)
        body = response.text
        assert "<script>alert" not in body and "onerror=alert" not in body.replace(
            "onerror=alert(1)&gt;", ""
        )
        assert 'hx-get="/logout"' not in body, url
        assert "<b>粗体</b>" not in body
    detail = b.get(f"/technologies/{tech_id}").text
    assert "{{7*7}}" in html.unescape(detail)  # shown as written, never evaluated
    assert html.escape(SQL) in detail or SQL.replace("'", "&#39;") in detail
    with session_scope(engine, write=False) as session:
        assert session.get(Technology, tech_id).title.startswith(SQL)  # type: ignore[union-attr]
        assert session.exec(select(Technology)).first() is not None  # the table is still there
    api = b.client.get(f"/api/v1/technologies/{tech_id}").json()
    assert api["title"].startswith(SQL)  # JSON carries the text as it was written
