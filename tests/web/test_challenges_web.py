"""揭榜挂帅 through the pages and the API: the form keeps what was typed, moderation, finding
and inviting teams, applying with an attachment, conflicted expert assignments refused on the
page and in the API (and recorded in the audit log), scoring and the award."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.challenges.models import Application, Challenge, ExpertAssignment
from matcher.db import session_scope
from matcher.models import AuditLog, Organization, User
from tests.web.conftest import PASSWORD, USERS, flash_of

DEADLINE = (dt.date.today() + dt.timedelta(days=20)).isoformat()


def _form(**extra: str) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "高炉炉况智能预警",
        "problem": "我公司高炉炉况主要靠工长经验判断，异常发现晚，希望在线监测炉况并提前预警，减少悬料和崩料。",
        "field": "冶金与矿业",
        "bounty": "120",
        "application_deadline": DEADLINE,
        "visibility": "public",
        "eligible_kinds": ["university", "institute"],
        "ind_name": ["预警准确率", ""],
        "ind_comparison": [">=", ">="],
        "ind_value": ["90", ""],
        "ind_value_max": ["", ""],
        "ind_unit": ["%", ""],
        "action": "submit",
    }
    data.update(extra)
    return data


# Long on purpose: the whole 揭榜挂帅 flow through the web layer, where each page is what the next
# role sees; every step is also tested on its own in tests/matcher/challenges/.
def test_publish_moderate_find_apply_review_award(make_browser, engine: Engine, web_app) -> None:  # type: ignore[no-untyped-def]
    steel, organizer, univ = make_browser("steel"), make_browser("organizer"), make_browser("univ")

    # the form refuses a missing title and keeps everything else typed
    steel.get("/challenges/new")
    refused = steel.post("/challenges/new", _form(title=""))
    assert refused.status_code == 422 and "请填写榜单名称" in refused.text
    assert (
        "我公司高炉炉况主要靠工长经验判断" in refused.text and 'value="预警准确率"' in refused.text
    )
    created = steel.post("/challenges/new", _form(), follow_redirects=False)
    assert created.status_code == 303
    challenge_url = created.headers["location"]
    challenge_id = int(challenge_url.rsplit("/", 1)[1])
    assert "待审核" in steel.get(challenge_url).text
    assert TestClient(web_app).get(challenge_url).status_code == 404  # not public before moderation

    organizer.get(challenge_url)
    assert organizer.post(f"{challenge_url}/moderate", {"decision": "approve"}).status_code == 200
    assert "揭榜中" in TestClient(web_app).get(challenge_url).text
    listing = TestClient(web_app).get("/challenges?q=高炉")
    assert "高炉炉况智能预警" in listing.text

    # the publisher sees the teams most likely to solve it, and invites one
    teams = steel.get(f"{challenge_url}/teams")
    assert (
        teams.status_code == 200
        and "北辰理工大学" in teams.text
        and "高炉炉况在线监测" in teams.text
    )
    assert univ.get(f"{challenge_url}/teams").status_code == 404
    with session_scope(engine, write=False) as session:
        bc = session.exec(select(Organization).where(Organization.name == "北辰理工大学")).one()
    steel.get(challenge_url)
    invited = steel.post(
        f"{challenge_url}/invite", {"organization_id": str(bc.id), "reason": "炉况监测成果"}
    )
    assert "已邀请" in invited.text

    # the university applies, with a PDF attachment
    univ.get(f"{challenge_url}/apply")
    applied = univ.post(
        f"{challenge_url}/apply",
        {
            "team": "冶金智能课题组", "leader": "王老师", "partners": "", "budget": "100",
            "approach": "基于风口图像与炉顶温度的多源数据融合，建立炉况异常预警模型并在线部署，" * 2,
            "ms_title": ["模型上线", ""], "ms_due": ["2027-06-30", ""], "ms_amount": ["100", ""],
            "action": "submit",
        },
        follow_redirects=False,
    )  # fmt: skip
    assert applied.status_code == 303
    application_url = applied.headers["location"].split("?")[0]
    application_id = int(application_url.rsplit("/", 1)[1])
    page = univ.get(application_url)
    assert "已提交" in page.text
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    upload = univ.client.post(
        f"{application_url}/attachments",
        data={"csrf_token": univ.token},
        files={"file": ("技术方案.pdf", pdf, "application/pdf")},
        follow_redirects=False,
    )
    assert flash_of(univ, upload) == ("success", "附件已上传")
    bad = univ.client.post(
        f"{application_url}/attachments",
        data={"csrf_token": univ.token},
        files={"file": ("技术方案.pdf", b"<html>not a pdf", "application/pdf")},
        follow_redirects=False,
    )
    level, text = flash_of(univ, bad)
    assert level == "error" and "不是 .pdf 文件" in text
    page = univ.get(application_url)
    link = re.search(rf'href="({application_url}/attachments/\d+)"', page.text)
    assert link and univ.get(link.group(1)).content == pdf
    assert make_browser("ship").get(link.group(1)).status_code == 404

    # experts: one from the applicant's own university (conflicted), one independent
    with session_scope(engine) as session:
        conflicted = accounts.create_user(
            session=session, email="same@example.cn", name="同单位专家", password=PASSWORD,
            role="university", organization_id=bc.id, expertise="冶金自动化",
        )  # fmt: skip
        free = accounts.create_user(
            session=session, email="free@example.cn", name="独立专家", password=PASSWORD,
            role="university", organization_id=None, expertise="冶金自动化",
        )  # fmt: skip
        conflicted_id, free_id = conflicted.id, free.id
        org_user = session.exec(select(User).where(User.email == USERS["organizer"][0])).one()
        token = accounts.new_api_token(session=session, user=org_user, name="t")

    # refused on the page, with the reason shown ...
    organizer.get(challenge_url)
    refused = organizer.post(
        f"{application_url}/experts", {"expert_id": str(conflicted_id)}, follow_redirects=True
    )
    assert "利益冲突" in refused.text and "专家就职于申请单位" in refused.text, re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", refused.text)
    )[:1500]
    # ... and in the API, with 409 and the reason
    api = TestClient(web_app)
    response = api.post(
        f"/api/v1/applications/{application_id}/experts",
        json={"expert_id": conflicted_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 409 and "专家就职于申请单位" in response.text
    with session_scope(engine, write=False) as session:
        assert session.exec(select(ExpertAssignment)).all() == []
        refusals = session.exec(
            select(AuditLog).where(AuditLog.action == "challenge.assign_refused")
        ).all()
        assert len(refusals) == 2
    # an enterprise user cannot assign at all
    assert (
        steel.post(f"{application_url}/experts", {"expert_id": str(free_id)}).status_code
        in (403, 404)
        or "仅平台组织方" in steel.get(challenge_url).text
    )
    response = api.post(
        f"/api/v1/applications/{application_id}/experts",
        json={"expert_id": free_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201

    # the expert scores; the organizer awards
    expert = TestClient(web_app)
    from tests.web.conftest import Browser

    eb = Browser(expert)
    eb.get("/login")
    eb.post("/login", {"email": "free@example.cn", "password": PASSWORD})
    reviews = eb.get("/reviews")
    assignment = re.search(r'href="/reviews/(\d+)"', reviews.text)
    assert assignment
    eb.get(f"/reviews/{assignment.group(1)}")
    bad_score = eb.post(
        f"/reviews/{assignment.group(1)}",
        {
            "technical": "40",
            "feasibility": "20",
            "team": "15",
            "budget": "15",
            "comment": "路线清晰，数据基础扎实。",
        },
    )
    assert (
        bad_score.status_code == 422 and "0–30" in bad_score.text and "路线清晰" in bad_score.text
    )
    ok = eb.post(
        f"/reviews/{assignment.group(1)}",
        {
            "technical": "27",
            "feasibility": "25",
            "team": "17",
            "budget": "16",
            "comment": "路线清晰，数据基础扎实。",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    rankings = api.get(
        f"/api/v1/challenges/{challenge_id}/rankings", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert rankings[0]["mean"] == 85.0
    organizer.get(challenge_url)
    organizer.post(
        f"{challenge_url}/award", {"application_id": str(application_id), "amount": "100"}
    )
    with session_scope(engine, write=False) as session:
        assert session.get(Challenge, challenge_id).status == "awarded"  # type: ignore[union-attr]
        assert session.get(Application, application_id).status == "awarded"  # type: ignore[union-attr]
    assert "揭榜成功" in univ.get(application_url).text
    public = api.get("/api/v1/challenges?status=awarded").json()
    assert [c["title"] for c in public] == ["高炉炉况智能预警"]
    assert public[0]["indicators"][0]["text"] == "≥ 90 %"


def test_forms_put_each_message_on_its_field(make_browser) -> None:  # type: ignore[no-untyped-def]
    steel, organizer, univ = make_browser("steel"), make_browser("organizer"), make_browser("univ")
    steel.get("/challenges/new")
    refused = steel.post(
        "/challenges/new", _form(bounty="三百万", ind_value=["很高", ""], review_on="2000-01-01")
    )
    assert refused.status_code == 422
    assert "揭榜经费应为数字" in refused.text and "第 1 项指标的数值应为数字" in refused.text
    assert 'value="很高"' in refused.text  # what was typed stays
    created = steel.post("/challenges/new", _form(), follow_redirects=False)
    challenge_url = created.headers["location"]
    organizer.get(challenge_url)
    organizer.post(f"{challenge_url}/moderate", {"decision": "approve"})

    univ.get(f"{challenge_url}/apply")
    incomplete = univ.post(
        f"{challenge_url}/apply",
        {"team": "课题组", "approach": "太短", "ms_title": ["", ""], "ms_due": ["", ""],
         "ms_amount": ["", ""], "action": "submit"},
    )  # fmt: skip
    assert incomplete.status_code == 422
    for message in (
        "请填写团队负责人",
        "请用至少 50 个字说明技术路线与方案",
        "请填写申请经费",
        "至少填写一个里程碑",
    ):
        assert message in incomplete.text, message
    draft = univ.post(
        f"{challenge_url}/apply", {"team": "课题组", "action": "draft"}, follow_redirects=False
    )
    assert draft.status_code == 303
