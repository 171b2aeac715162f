"""Pages and fragments: search, details, workspace forms, interest → lead → contacts."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher.db import session_scope
from matcher.models import AuditLog, Need, Technology
from tests.web.conftest import Browser, flash_of


def plain(html: str) -> str:
    """Page text without tags (highlighting splits words with <mark>)."""
    import re

    return re.sub(r"<[^>]+>", "", html)


def _tech_id(engine: Engine, code: str) -> int:
    with session_scope(engine, write=False) as s:
        return s.exec(select(Technology).where(Technology.code == code)).one().id  # type: ignore[return-value]


def _need_id(engine: Engine, code: str) -> int:
    with session_scope(engine, write=False) as s:
        return s.exec(select(Need).where(Need.code == code)).one().id  # type: ignore[return-value]


def test_home_searches_highlights_and_has_sharable_urls(browser: Browser) -> None:
    page = browser.get("/?q=高炉炉况监测")
    assert page.status_code == 200
    assert "<mark>高炉炉况</mark>" in page.text and 'class="reason"' in page.text
    fragment = browser.get("/?q=高炉", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "高炉" in fragment.text
    empty = browser.get("/?q=zzzqqq&field=航空航天")
    assert "暂无高度匹配的成果" in empty.text and 'id="publish-need"' in empty.text
    needs = browser.get("/?type=tech_need&q=高炉")
    assert "高炉异常预警" in plain(needs.text) and "SECRET-MARKER" not in needs.text


def test_security_headers_and_escaping(browser: Browser, engine: Engine) -> None:
    page = browser.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    evil = browser.get("/?q=<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in evil.text


def test_technology_page_masks_contacts_until_interest_is_accepted(
    make_browser, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    t1 = _tech_id(engine, "T1")
    steel = make_browser("steel")
    page = steel.get(f"/technologies/{t1}")
    assert "138****5678" in page.text and "13812345678" not in page.text
    sent = steel.post(
        f"/technologies/{t1}/interest",
        {"message": "希望合作改造高炉"},
        headers={"HX-Request": "true"},
    )
    assert sent.status_code == 200 and "已表达意向" in sent.text
    again = steel.post(
        f"/technologies/{t1}/interest", {"message": "再来一次"}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 409 and "等待对方回复" in again.text

    univ = make_browser("univ")
    assert "1" in univ.get("/notifications/count").text
    inbox = univ.get("/interests")
    assert "希望合作改造高炉" in inbox.text
    from matcher.models import Interest

    with session_scope(engine, write=False) as s:
        interest = s.exec(select(Interest)).one()
    accepted = univ.post(
        f"/interests/{interest.id}/decide", {"decision": "accept"}, follow_redirects=False
    )
    assert accepted.status_code == 303 and accepted.headers["location"].startswith("/leads/")
    lead_page = univ.get(accepted.headers["location"])
    assert "13500009999" in lead_page.text  # the enterprise user's phone, now visible
    page = steel.get(f"/technologies/{t1}")
    assert "13812345678" in page.text
    with session_scope(engine, write=False) as s:
        reveals = s.exec(select(AuditLog).where(AuditLog.action == "contact.reveal")).all()
        assert reveals and all("138" not in str(r.detail) for r in reveals)
    # the lead moves forward on either side, never backwards
    lead_url = accepted.headers["location"]
    lead_id = int(lead_url.rsplit("/", 1)[1])
    assert (
        steel.post(
            f"/leads/{lead_id}/advance", {"to_stage": "negotiation"}, follow_redirects=False
        ).status_code
        == 303
    )
    back = steel.post(f"/leads/{lead_id}/advance", {"to_stage": "interest"}, follow_redirects=False)
    assert flash_of(steel, back)[0] == "error"
    signed = univ.post(
        f"/leads/{lead_id}/advance", {"to_stage": "signed", "amount": "120"}, follow_redirects=False
    )
    assert flash_of(univ, signed) == ("success", "已更新")
    assert "签约" in steel.get(lead_url).text and "120 万元" in steel.get(lead_url).text


def test_decline_needs_a_reason(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    t2 = _tech_id(engine, "T2")
    ship = make_browser("ship")
    ship.post(
        f"/technologies/{t2}/interest", {"message": "了解一下"}, headers={"HX-Request": "true"}
    )
    inst = make_browser("inst")
    from matcher.models import Interest

    with session_scope(engine, write=False) as s:
        interest = s.exec(select(Interest)).one()
    missing = inst.post(
        f"/interests/{interest.id}/decide", {"decision": "decline"}, headers={"HX-Request": "true"}
    )
    assert missing.status_code == 422 and "婉拒原因" in missing.text
    done = inst.post(
        f"/interests/{interest.id}/decide",
        {"decision": "decline", "reason_code": "price"},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200 and "价格不合适" in done.text
    assert "价格不合适" in ship.get("/interests").text


def test_need_page_recommendations_for_the_owner_only(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    n1 = _need_id(engine, "N1")
    steel = make_browser("steel")
    page = steel.get(f"/needs/{n1}")
    assert "推荐成果" in page.text and "推荐团队" in page.text
    recs = steel.get(f"/needs/{n1}/technologies")
    assert "高炉炉况在线监测" in plain(recs.text) and "score-chart" in recs.text
    teams = steel.get(f"/needs/{n1}/teams")
    assert "北辰理工大学" in teams.text
    univ = make_browser("univ")
    assert univ.get(f"/needs/{n1}/technologies").status_code == 404
    assert "推荐成果" not in univ.get(f"/needs/{n1}").text


def test_forms_keep_what_was_typed_and_say_what_is_wrong(make_browser) -> None:  # type: ignore[no-untyped-def]
    univ = make_browser("univ")
    univ.get("/workspace/technologies/new")
    bad = univ.post(
        "/workspace/technologies/new",
        {
            "title": "新型耐磨材料",
            "field": "新材料",
            "summary": "",
            "trl": "6",
            "price": "-5",
            "contact_phone": "123",
        },
    )
    assert bad.status_code == 422
    assert 'value="新型耐磨材料"' in bad.text
    assert (
        "成果简介不能为空" in bad.text
        and "负数" in bad.text
        and "电话号码" in bad.text
        and "合作方式" in bad.text
    )
    good = univ.post(
        "/workspace/technologies/new",
        {
            "title": "新型耐磨材料",
            "field": "新材料",
            "summary": "高铬铸铁耐磨衬板",
            "trl": "6",
            "cooperation_modes": "转让",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert "新型耐磨材料" in plain(univ.get("/?q=高铬铸铁").text)  # searchable at once


def test_withdraw_renew_and_expiry(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    t1 = _tech_id(engine, "T1")
    univ = make_browser("univ")
    assert (
        univ.post(f"/workspace/technologies/{t1}/withdraw", follow_redirects=False).status_code
        == 303
    )
    assert f'href="/technologies/{t1}"' not in univ.get("/?q=高炉炉况在线监测").text
    assert (
        univ.post(f"/workspace/technologies/{t1}/renew", follow_redirects=False).status_code == 303
    )
    assert f'href="/technologies/{t1}"' in univ.get("/?q=高炉炉况在线监测").text
    assert "天后到期" in univ.get("/workspace").text
    other = make_browser("inst")
    assert (
        other.post(f"/workspace/technologies/{t1}/withdraw", follow_redirects=False).status_code
        == 404
    )


def test_import_through_the_browser_with_preview(make_browser) -> None:  # type: ignore[no-untyped-def]
    univ = make_browser("univ")
    univ.get("/workspace/import")
    bad_csv = "成果名称,技术领域,成果简介,成熟度,合作方式\n好成果,新材料,简介,5,转让\n坏成果,新材料,简介,12,转让\n".encode()
    preview = univ.client.post(
        "/workspace/import/preview",
        data={"csrf_token": univ.token, "kind": "technologies"},
        files={"file": ("t.csv", bad_csv, "text/csv")},
    )
    assert (
        preview.status_code == 200
        and "1–9" in preview.text
        and 'action="/workspace/import/confirm"' not in preview.text
    )
    good_csv = bad_csv.replace(b",12,", b",6,")
    preview = univ.client.post(
        "/workspace/import/preview",
        data={"csrf_token": univ.token, "kind": "technologies"},
        files={"file": ("t.csv", good_csv, "text/csv")},
    )
    assert 'action="/workspace/import/confirm"' in preview.text
    import re

    token = re.search(r'name="token" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    confirm = univ.post(
        "/workspace/import/confirm", {"token": token, "kind": "technologies", "filename": "t.csv"}
    )
    assert "导入完成" in confirm.text and "新增 2" in confirm.text
    export = univ.get("/workspace/export?kind=technologies&format=csv")
    assert export.content.startswith(b"\xef\xbb\xbf") and "坏成果" in export.content.decode(
        "utf-8-sig"
    )


def test_admin_moderation_rejects_with_reason(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    t3 = _tech_id(engine, "T3")
    admin = make_browser("admin")
    assert admin.get("/admin").status_code == 200
    no_reason = admin.post(
        f"/admin/moderate/technology/{t3}", {"action": "reject"}, follow_redirects=False
    )
    assert flash_of(admin, no_reason) == ("error", "驳回需填写原因")
    admin.post(
        f"/admin/moderate/technology/{t3}",
        {"action": "reject", "note": "内容与单位不符"},
        follow_redirects=False,
    )
    inst = make_browser("inst")
    assert "内容与单位不符" in inst.get("/workspace").text
    assert f'href="/technologies/{t3}"' not in inst.get("/?q=高炉煤气余热回收").text
    steel = make_browser("steel")
    assert steel.get("/admin").status_code == 403


def test_admin_makes_an_existing_user_a_review_expert(make_browser, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from matcher.challenges.review import experts
    from matcher.models import User

    with session_scope(engine, write=False) as session:
        univ = session.exec(select(User).where(User.email == "univ@example.cn")).one()
        steel = session.exec(select(User).where(User.email == "steel@example.cn")).one()
    admin = make_browser("admin")
    page = admin.get("/admin")
    assert f'action="/admin/users/{univ.id}/expertise"' in page.text
    assert f'action="/admin/users/{steel.id}/expertise"' not in page.text
    saved = admin.post(
        f"/admin/users/{univ.id}/expertise",
        {"expertise": "  高炉炼铁   炉况监测 "},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with session_scope(engine, write=False) as session:
        assert [u.email for u in experts(session=session)] == ["univ@example.cn"]
        assert session.get(User, univ.id).expertise == "高炉炼铁 炉况监测"  # type: ignore[union-attr]
        entry = session.exec(
            select(AuditLog).where(AuditLog.action == "admin.user_expertise")
        ).one()
        assert "高炉" not in str(entry.detail)  # whether, not what
    assert 'value="高炉炼铁 炉况监测"' in admin.get("/admin").text
    assert "我的评审" in make_browser("univ").get("/").text
    # enterprise users cannot review; a blank profile takes the expert off the list
    refused = admin.post(f"/admin/users/{steel.id}/expertise", {"expertise": "冶金"})
    assert refused.status_code == 422 and "企业用户不能担任评审专家" in refused.text
    admin.post(f"/admin/users/{univ.id}/expertise", {"expertise": " "}, follow_redirects=False)
    with session_scope(engine, write=False) as session:
        assert experts(session=session) == []
    assert (
        make_browser("inst")
        .post(f"/admin/users/{univ.id}/expertise", {"expertise": "x"})
        .status_code
        == 403
    )
