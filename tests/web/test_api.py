"""The JSON API: tokens, the same permission rules as the pages, Chinese errors in {"detail"}."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.db import session_scope
from matcher.models import Need, User
from tests.web.conftest import USERS


def _token(engine: Engine, who: str) -> dict[str, str]:
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.email == USERS[who][0])).one()
        return {"Authorization": f"Bearer {accounts.new_api_token(session=session, user=user)}"}


def test_search_is_public_and_explained(client: TestClient) -> None:
    data = client.get("/api/v1/search", params={"q": "高炉炉况监测"}).json()
    first = data["results"][0]
    assert data["total"] >= 1 and first["reason"] and "relevance" in first["parts"]
    # the same figure and label as the page: the label is one of three, the figure 0–100
    assert first["label"] in ("高度相关", "相关") and 50 <= first["relevance"] <= 100
    assert f"相关度 {first['relevance']}" in first["reason"]
    # nothing close: no result counted, the closest listed apart
    nonsense = client.get("/api/v1/search", params={"q": "asdfqwer"}).json()
    assert nonsense["total"] == 0 and nonsense["results"] == []
    assert all(hit["label"] == "弱相关" for hit in nonsense["closest"])
    bad = client.get("/api/v1/search", params={"field": "不存在的领域"})
    assert bad.status_code == 422 and "技术领域" in bad.json()["detail"]


def test_tokens_are_required_and_checked(client: TestClient) -> None:
    assert client.get("/api/v1/my/technologies").status_code == 401
    response = client.get("/api/v1/my/technologies", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "令牌" in response.json()["detail"]


def test_create_a_need_get_recommendations_express_interest(
    client: TestClient, engine: Engine
) -> None:
    steel = _token(engine, "steel")
    created = client.post(
        "/api/v1/my/needs",
        headers=steel,
        json={
            "kind": "tech",
            "title": "高炉布料优化",
            "description": "希望在线监测高炉炉况并优化布料",
            "min_trl": 5,
        },
    )
    assert created.status_code == 201, created.text
    need_id = created.json()["id"]
    recs = client.get(f"/api/v1/needs/{need_id}/recommendations", headers=steel).json()
    assert recs["technologies"] and recs["teams"]
    ship = _token(engine, "ship")
    assert client.get(f"/api/v1/needs/{need_id}/recommendations", headers=ship).status_code == 404
    tech_id = recs["technologies"][0]["id"]
    interest = client.post(
        "/api/v1/interests", headers=steel, json={"technology_id": tech_id, "message": "API 意向"}
    )
    assert interest.status_code == 201 and interest.json()["status"] == "pending"
    invalid = client.post(
        "/api/v1/my/technologies",
        headers=steel,
        json={"title": "", "summary": "", "field": "x", "trl": 12},
    )
    assert invalid.status_code == 422 and "detail" in invalid.json()


def test_owner_only_updates(client: TestClient, engine: Engine) -> None:
    with session_scope(engine, write=False) as session:
        need = session.exec(select(Need).where(Need.code == "N1")).one()
    ship = _token(engine, "ship")
    body = {"kind": "tech", "title": "改掉", "description": "改掉"}
    assert client.put(f"/api/v1/my/needs/{need.id}", headers=ship, json=body).status_code == 404
    steel = _token(engine, "steel")
    assert client.put(f"/api/v1/my/needs/{need.id}", headers=steel, json=body).status_code == 200
    assert client.delete(f"/api/v1/my/needs/{need.id}", headers=steel).json()["status"] == "closed"


def test_openapi_is_served(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/search" in schema["paths"] and "/api/v1/interests" in schema["paths"]
