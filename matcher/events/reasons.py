"""Why two participants meet, rendered for one viewer.

Pairings are stored as ids (`need_id`, `technology_id`) and a basis, never as text; this module
turns them into a sentence for a given viewer, naming a need only when that viewer may see it
(see `matcher.access.need_title_for`). Pages, agendas, .ics and Excel files, briefs and
invitations all use it, so no channel quotes a hidden need."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from matcher.access import Viewer, need_title_for, technology_title_for
from matcher.models import Need, Technology


class Reasons:
    """Renders pairing reasons for one viewer, loading the listings it names in batches."""

    def __init__(self, session: Session, viewer: Viewer) -> None:
        self.session = session
        self.viewer = viewer
        self.needs: dict[int, Need] = {}
        self.technologies: dict[int, Technology] = {}

    def load(self, pairs: Iterable[Any]) -> Reasons:
        """Prefetch the listings named by objects with `need_id` / `technology_id`."""
        pairs = list(pairs)
        need_ids = {p.need_id for p in pairs if p.need_id} - set(self.needs)
        tech_ids = {p.technology_id for p in pairs if p.technology_id} - set(self.technologies)
        if need_ids:
            for need in self.session.exec(select(Need).where(col(Need.id).in_(need_ids))):
                self.needs[need.id or 0] = need
        if tech_ids:
            for tech in self.session.exec(
                select(Technology).where(col(Technology.id).in_(tech_ids))
            ):
                self.technologies[tech.id or 0] = tech
        return self

    def need_title(self, need_id: int | None) -> str:
        self.load([_Ids(need_id, None)])
        return need_title_for(self.needs.get(need_id or 0), self.viewer)

    def technology_title(self, technology_id: int | None) -> str:
        self.load([_Ids(None, technology_id)])
        return technology_title_for(self.technologies.get(technology_id or 0), self.viewer)

    def text(self, need_id: int | None, technology_id: int | None, basis: str = "match") -> str:
        if basis == "organizer":
            return "组织方安排"
        if basis == "industry" or (need_id is None and technology_id is not None):
            return f"行业相关成果《{self.technology_title(technology_id)}》"
        if need_id is None and technology_id is None:
            return "平台推荐"
        return f"需求《{self.need_title(need_id)}》↔ 成果《{self.technology_title(technology_id)}》"

    def of(self, pairing: Any) -> str:
        """The reason of a meeting, a pair value or a participant's invitation."""
        basis = getattr(pairing, "basis", "match")
        need_id = getattr(pairing, "need_id", None) or getattr(pairing, "invite_need_id", None)
        technology_id = getattr(pairing, "technology_id", None) or getattr(
            pairing, "invite_technology_id", None
        )
        return self.text(need_id, technology_id, basis)


class _Ids:
    def __init__(self, need_id: int | None, technology_id: int | None) -> None:
        self.need_id = need_id
        self.technology_id = technology_id
