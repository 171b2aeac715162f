"""The data layer on SQLite and PostgreSQL: migrations, pragmas, transactions, outbox."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from matcher import services
from matcher.db import integrity_check, is_sqlite, session_scope
from matcher.migrate import current_revision, head_revision
from matcher.models import (
    IndexOutbox,
    Organization,
    OrganizationCreate,
    Technology,
    TechnologyCreate,
)


def _org(session, name: str = "北辰理工大学") -> Organization:  # type: ignore[no-untyped-def]
    return services.save_organization(
        session=session, data=OrganizationCreate(name=name, kind="university")
    )


def _tech(title: str = "耐磨衬板") -> TechnologyCreate:
    return TechnologyCreate(
        title=title,
        summary="一种高铬铸铁耐磨衬板材料",
        field="新材料",
        trl=6,
        cooperation_modes=["转让"],
    )


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models changed without a migration: {diff}"


def test_sqlite_pragmas(engine: Engine) -> None:
    if not is_sqlite(engine):
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    assert integrity_check(engine) == "ok"


def test_every_change_to_a_searchable_row_writes_an_outbox_row(engine: Engine) -> None:
    with session_scope(engine) as session:
        org = _org(session)
        tech = services.save_technology(session=session, data=_tech(), owner_id=org.id)  # type: ignore[arg-type]
        tech_id = tech.id
    with session_scope(engine) as session:
        tech = session.get(Technology, tech_id)
        assert tech is not None
        tech.title = "高铬耐磨衬板"
        session.add(tech)
    with session_scope(engine) as session:
        session.delete(session.get(Technology, tech_id))
    with session_scope(engine, write=False) as session:
        rows = session.exec(select(IndexOutbox).order_by(IndexOutbox.id)).all()  # type: ignore[arg-type]
    assert [(r.collection, r.item_id) for r in rows] == [("technologies", tech_id)] * 3


def test_a_rolled_back_change_leaves_no_outbox_row(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        org = _org(session)
        services.save_technology(session=session, data=_tech(), owner_id=org.id)  # type: ignore[arg-type]
        raise RuntimeError("boom")
    with session_scope(engine, write=False) as session:
        assert session.exec(select(IndexOutbox)).all() == []
        assert services.counts(session=session)["technologies"] == 0


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), session_scope(engine) as session:
        services.save_technology(session=session, data=_tech(), owner_id=987654)


def test_investor_profile_follows_its_organization(engine: Engine) -> None:
    from matcher.models import InvestorProfileIn

    with session_scope(engine) as session:
        org = services.save_organization(
            session=session,
            data=OrganizationCreate(name="渤海天使", kind="investor"),
            investor=InvestorProfileIn(
                fields=["新材料"], stages=["天使轮"], ticket_min=100, ticket_max=500
            ),
        )
        org_id = org.id
    with session_scope(engine, write=False) as session:
        profile = services.investor_profile(session=session, organization_id=org_id)  # type: ignore[arg-type]
        assert profile is not None and profile.fields == ["新材料"] and profile.ticket_max == 500
        outbox = session.exec(
            select(IndexOutbox).where(IndexOutbox.collection == "investors")
        ).all()
        assert {r.item_id for r in outbox} == {org_id}
