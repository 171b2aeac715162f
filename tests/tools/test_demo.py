"""The demo data: size, shape, fictional owners, and idempotence."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import func, select

from matcher import services
from matcher.db import session_scope
from matcher.models import Need, Organization, Technology
from matcher.vocab import TECH_FIELDS
from tools.datasets import dataset
from tools.demo.build import load_demo
from tools.demo.suppliers import DISCIPLINE_FIELDS


def test_demo_loads_a_provincial_platform_and_is_idempotent(engine: Engine) -> None:
    first = load_demo(engine)
    # 1,437 CSL abstracts of the allowed disciplines and 5 results written for the demo; the
    # 32 evaluation needs and 130 written ones
    assert [r.created for r in first][1:] == [
        1437 + 5,
        sum(1 for _ in dataset("needs_dev.jsonl").open()) + 130,
    ]
    with session_scope(engine, write=False) as session:
        counts = services.counts(session=session)
        assert counts["technologies"] >= 1400 and counts["needs"] >= 150
        financing = session.exec(
            select(func.count()).select_from(Need).where(Need.kind == "financing")
        ).one()
        assert financing >= 30
        kinds = dict(
            session.exec(select(Organization.kind, func.count()).group_by(Organization.kind)).all()
        )
        assert 30 <= kinds["university"] + kinds["institute"] <= 45
        assert 70 <= kinds["enterprise"] <= 90 and kinds["investor"] >= 3 and kinds["agency"] >= 1
        assert all(
            o.is_demo and "虚构" in o.description for o in session.exec(select(Organization))
        )
        dev_ids = [json.loads(line)["id"] for line in dataset("needs_dev.jsonl").open()]
        assert len(session.exec(select(Need).where(Need.code.in_(dev_ids))).all()) == len(dev_ids)  # type: ignore[union-attr]
        fields = set(session.exec(select(Technology.field).distinct()).all())
        assert fields <= set(TECH_FIELDS)
    again = load_demo(engine)
    assert all(r.created == 0 and r.updated == 0 for r in again)


def test_every_discipline_maps_to_a_field() -> None:
    assert set(DISCIPLINE_FIELDS.values()) <= set(TECH_FIELDS)
