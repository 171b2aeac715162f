"""The engine on a small catalog with the stand-in model: filters, visibility, reasons, gaps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher.access import ANONYMOUS, Viewer
from matcher.catalog import import_catalog
from matcher.config import Settings, get_settings, reset_settings
from matcher.db import session_scope
from matcher.filters import Filters
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import Need, Organization, Technology
from matcher.scoring import fuse

ORGS = (
    "单位名称,单位类型,省份,统一社会信用代码\n"
    "北辰理工大学,高校,辽宁省,\n"
    "云岫材料研究所,科研院所,吉林省,\n"
    "鞍辽钢铁股份有限公司,企业,辽宁省,91350100M000100Y43\n"
)
TECHS = (
    "编号,成果名称,所属单位,技术领域,成果简介,关键词,成熟度,合作方式,价格（万元）\n"
    "T1,高炉炉况在线监测,北辰理工大学,冶金与矿业,基于风口图像与炉顶温度的高炉炉况在线监测与异常预警,高炉；炉况,6,转让,80\n"
    "T2,高炉炉况在线监测系统,北辰理工大学,冶金与矿业,基于风口图像与炉顶温度的高炉炉况在线监测与异常预警,高炉；炉况,6,转让,80\n"
    "T3,绿茶保鲜包装,云岫材料研究所,食品,高阻隔包装袋延缓绿茶褐变与香气散失,包装；保鲜,5,许可,30\n"
    "T4,高炉煤气余热回收,云岫材料研究所,能源与动力,高炉煤气余热回收与发电装置,高炉；余热,4,技术开发,500\n"
)
NEEDS = (
    "编号,需求名称,需求类型,发布单位,需求描述,技术领域,预算（万元）,最低成熟度,可见范围\n"
    "N1,高炉异常预警,技术需求,鞍辽钢铁股份有限公司,高炉炉况靠经验判断，希望在线监测炉况并提前预警,冶金与矿业,100,6,公开\n"
    "N2,机密：高炉余热利用,技术需求,鞍辽钢铁股份有限公司,内部机密需求高炉煤气余热回收,能源与动力,100,6,仅组织方\n"
)


@pytest.fixture
def matcher(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Matcher]:
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings: Settings = get_settings()
    for kind, data in (("organizations", ORGS), ("technologies", TECHS), ("needs", NEEDS)):
        import_catalog(
            engine=engine, kind=kind, data=data.encode(), filename=f"{kind}.csv", settings=settings
        )
    manager = IndexManager(engine, settings).open()
    yield Matcher(manager)
    manager.close()


def _id(engine: Engine, model, code: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine, write=False) as session:
        return session.exec(select(model).where(model.code == code)).one().id


def test_fusion_parts_add_up() -> None:
    fused = fuse([(1, 0.9), (2, 0.8), (4, 0.1)], [(2, 12.0), (3, 3.0), (5, 1.0)])
    assert fused[0].id == 2
    for item in fused:
        assert abs(item.score - sum(item.parts.values())) < 1e-9
    rrf = fuse([(1, 0.9)], [(1, 3.0)], method="rrf")
    assert abs(rrf[0].score - 1.0) < 1e-9


def test_search_finds_highlights_and_collapses_near_duplicates(
    matcher: Matcher, engine: Engine
) -> None:
    result = matcher.search("高炉炉况监测")
    ids = [h.id for h in result.hits]
    t1, t2 = _id(engine, Technology, "T1"), _id(engine, Technology, "T2")
    assert ids[0] in (t1, t2)
    assert not (t1 in ids and t2 in ids), "the two near-identical listings are folded into one"
    top = result.hits[0]
    assert top.duplicates and "高炉" in "".join(top.terms) and top.reason
    # one figure, shown as the chart's first bar and in the reason, with the label
    assert top.parts["relevance"] == top.relevance and top.label in ("high", "related")
    assert f"相关度 {top.figure}" in top.reason and top.reason.startswith(top.label_text)


def test_hard_filters(matcher: Matcher, engine: Engine) -> None:
    t3 = _id(engine, Technology, "T3")
    assert [h.id for h in matcher.search("高炉", filters=Filters(field="食品")).hits] in ([], [t3])
    assert all(h.item.trl >= 6 for h in matcher.search("高炉", filters=Filters(min_trl=6)).hits)
    assert all(
        h.item.price is None or h.item.price <= 100
        for h in matcher.search("高炉", filters=Filters(max_price=100)).hits
    )
    only_license = matcher.search("包装", filters=Filters(modes=("许可",))).hits
    assert [h.id for h in only_license] == [t3]
    jilin = matcher.search("高炉", filters=Filters(province="吉林省")).hits
    assert all(h.item.owner_id == jilin[0].item.owner_id for h in jilin) and jilin


def test_need_recommendations_state_gaps_and_owner_sees_confidential(
    matcher: Matcher, engine: Engine
) -> None:
    n1 = _id(engine, Need, "N1")
    hits = matcher.technologies_for_need(n1)
    assert hits and hits[0].item.code in ("T1", "T2")
    gap_hits = [h for h in hits if h.item.code == "T4"]
    assert gap_hits and any("TRL 4，需求要求 TRL 6" in g for g in gap_hits[0].gaps)
    assert any("超出预算" in g for g in gap_hits[0].gaps)
    teams = matcher.teams_for_need(n1)
    assert teams[0].organization.name == "北辰理工大学" and "最相关成果" in teams[0].reason


def test_confidential_need_is_never_returned_nor_explained_to_others(
    matcher: Matcher, engine: Engine
) -> None:
    t4 = _id(engine, Technology, "T4")
    with session_scope(engine, write=False) as session:
        university = session.exec(
            select(Organization).where(Organization.name == "云岫材料研究所")
        ).one()
        enterprise = session.exec(
            select(Organization).where(Organization.name == "鞍辽钢铁股份有限公司")
        ).one()
    outsider = Viewer(user_id=1, organization_id=university.id, role="university")
    for hit in matcher.needs_for_technology(t4, viewer=outsider):
        assert "机密" not in hit.item.title and "机密" not in hit.reason
    result = matcher.search("高炉煤气余热", collection="needs", viewer=outsider)
    assert all("机密" not in h.item.title for h in result.hits)
    assert result.total == len(result.hits)
    organizer = Viewer(user_id=2, organization_id=None, role="organizer")
    assert any(
        "机密" in h.item.title
        for h in matcher.search("高炉煤气余热", collection="needs", viewer=organizer).hits
    )
    owner = Viewer(user_id=3, organization_id=enterprise.id, role="enterprise")
    assert any(
        "机密" in h.item.title
        for h in matcher.search("余热", collection="needs", viewer=owner).hits
    )
    assert all(
        "机密" not in h.item.title
        for h in matcher.search("余热", collection="needs", viewer=ANONYMOUS).hits
    )


def test_a_deleted_row_is_never_returned_even_before_the_index_catches_up(
    matcher: Matcher, engine: Engine
) -> None:
    t3 = _id(engine, Technology, "T3")
    with session_scope(engine) as session:
        session.delete(session.get(Technology, t3))
    assert t3 in matcher.manager.collections["technologies"].ids()  # not caught up yet
    assert t3 not in [h.id for h in matcher.search("绿茶保鲜包装").hits]
