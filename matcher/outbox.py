"""Where a search index stands in the outbox (the log of committed changes to searchable rows),
and which outbox rows it has still to apply — whatever order PostgreSQL's transactions commit in.
See matcher.indexing's docstring for why a position is a snapshot and not the last id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from matcher.models import IndexOutbox


@dataclass(frozen=True)
class Position:
    """Which committed changes a collection has applied (see the module docstring)."""

    last_id: int = 0  # the highest outbox id seen (the whole position on SQLite)
    xmax: int | None = None  # PostgreSQL: transactions from this id on had not started
    xip: frozenset[int] = frozenset()  # PostgreSQL: transactions in progress at the snapshot

    @classmethod
    def read(cls, session: Session) -> Position:
        """The position of the snapshot this session reads (call it first in the session)."""
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            snapshot, last = conn.execute(
                text("SELECT pg_current_snapshot()::text, (SELECT max(id) FROM indexoutbox)")
            ).one()
            _xmin, xmax, xip = str(snapshot).split(":")
            return cls(int(last or 0), int(xmax), frozenset(int(x) for x in xip.split(",") if x))
        return cls(int(conn.execute(select(func.max(IndexOutbox.id))).scalar() or 0))

    def is_new(self, row_id: int, txid: int | None) -> bool:
        if self.xmax is None:
            return row_id > self.last_id
        if txid is None:  # written before transaction ids were recorded: older than any snapshot
            return False
        return txid >= self.xmax or txid in self.xip

    def pending_transactions(self) -> int:
        """Writers that were in progress at this position (their changes are still to come)."""
        return len(self.xip)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"last_id": self.last_id}
        if self.xmax is not None:
            out.update(xmax=self.xmax, xip=sorted(self.xip))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], last_id: int = 0) -> Position:
        xmax = data.get("xmax")
        return cls(
            int(data.get("last_id", last_id)),
            int(xmax) if xmax is not None else None,
            frozenset(int(x) for x in data.get("xip") or []),
        )


def new_rows(session: Session, positions: list[Position]) -> list[Any]:
    """Outbox rows some of these positions have not applied (in the session's snapshot)."""
    if not positions:
        return []
    stmt = sa_select(
        col(IndexOutbox.id),
        col(IndexOutbox.collection),
        col(IndexOutbox.item_id),
        col(IndexOutbox.fingerprint),
        col(IndexOutbox.txid),
    ).order_by(col(IndexOutbox.id))
    pg = [p for p in positions if p.xmax is not None]
    if pg:
        xmax = min(p.xmax for p in pg if p.xmax is not None)
        xip = sorted(set().union(*(p.xip for p in pg)))
        stmt = stmt.where(
            or_(col(IndexOutbox.txid) >= xmax, col(IndexOutbox.txid).in_(xip))
            if xip
            else col(IndexOutbox.txid) >= xmax
        )
    else:
        stmt = stmt.where(col(IndexOutbox.id) > min(p.last_id for p in positions))
    return list(session.connection().execute(stmt))


def max_outbox_id(session: Session) -> int:
    return int(session.exec(select(func.max(IndexOutbox.id))).one() or 0)
