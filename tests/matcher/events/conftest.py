"""Fixtures of the events tests: a registered event, then its schedule, then published."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from matcher.config import get_settings, reset_settings
from matcher.db import session_scope
from matcher.events import requests, schedule
from matcher.events.models import Event
from matcher.indexing import IndexManager
from matcher.matching import Matcher
from matcher.models import pk
from tests.matcher.events.seed import ORGANIZER, import_listings, registered_event, sides, viewer_of


@dataclass
class Seeded:
    engine: Engine
    matcher: Matcher
    event_id: int


@pytest.fixture
def seeded(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Seeded]:
    """The registered event, with the listings indexed for matching."""
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()
    settings = get_settings()
    import_listings(engine, settings)
    manager = IndexManager(engine, settings).open()
    yield Seeded(engine, Matcher(manager), registered_event(engine))
    manager.close()


@pytest.fixture
def scheduled(seeded: Seeded) -> Seeded:
    """Scheduled after 企业0 asked to meet 院所甲 (必须见) and never 院所乙, and 院所丙 said it
    cannot attend the first round."""
    with session_scope(seeded.engine) as session:
        event = session.get(Event, seeded.event_id)
        assert event is not None
        demand, supply = sides(session, seeded.event_id)
        for other, strength in ((supply[0], "must"), (supply[1], "never")):
            requests.set_request(
                session=session, viewer=viewer_of(demand[0]), event=event,
                to_participant_id=pk(other), strength=strength,
            )  # fmt: skip
        requests.set_unavailable(
            session=session, viewer=viewer_of(supply[2]), event=event, slots=[0]
        )
        schedule.generate_schedule(
            session=session, viewer=ORGANIZER, matcher=seeded.matcher, event=event
        )
    return seeded


@pytest.fixture
def published(scheduled: Seeded) -> Seeded:
    with session_scope(scheduled.engine) as session:
        event = session.get(Event, scheduled.event_id)
        assert event is not None
        schedule.publish(session=session, viewer=ORGANIZER, event=event)
    return scheduled
