"""What the search index holds of each searchable row: its matching text and filter columns.

The index, the encoding workers and the vector store all read rows through these functions, so
they agree on which rows are searchable and on the text a vector is computed from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from matcher.access import suspended_owners
from matcher.models import InvestorProfile, Need, Organization, Technology
from matcher.text import investor_text, need_text, technology_text

COLLECTIONS = ("technologies", "needs", "investors")


@dataclass(frozen=True)
class Document:
    id: int
    text: str


def indexable_documents(
    session: Session, collection: str, ids: list[int] | None = None
) -> list[Document]:
    """The rows of a collection that search may return (published, of an organization that is
    not suspended), with their matching text."""
    if collection == "technologies":
        stmt = select(Technology).where(
            Technology.status == "published", col(Technology.owner_id).not_in(suspended_owners())
        )
        if ids is not None:
            stmt = stmt.where(col(Technology.id).in_(ids))
        return [Document(t.id, technology_text(t)) for t in session.exec(stmt) if t.id is not None]
    if collection == "needs":
        stmt_n = select(Need).where(
            Need.status == "published", col(Need.owner_id).not_in(suspended_owners())
        )
        if ids is not None:
            stmt_n = stmt_n.where(col(Need.id).in_(ids))
        return [Document(n.id, need_text(n)) for n in session.exec(stmt_n) if n.id is not None]
    if collection == "investors":
        stmt_i = select(Organization, InvestorProfile).join(
            InvestorProfile, col(InvestorProfile.organization_id) == col(Organization.id)
        )
        stmt_i = stmt_i.where(Organization.kind == "investor")
        if ids is not None:
            stmt_i = stmt_i.where(col(Organization.id).in_(ids))
        return [
            Document(o.id, investor_text(o, p)) for o, p in session.exec(stmt_i) if o.id is not None
        ]
    raise ValueError(collection)


META_COLUMNS: dict[str, tuple[Any, ...]] = {
    "technologies": (
        Technology.id, Technology.status, Technology.owner_id, Technology.field,
        Technology.trl, Technology.price, Technology.valid_until,
    ),
    "needs": (Need.id, Need.status, Need.owner_id, Need.visibility, Need.field, Need.min_trl, Need.budget),
    "investors": (Organization.id, Organization.kind),
}  # fmt: skip


def load_meta(session: Session, collection: str, ids: list[int] | None = None) -> dict[int, Any]:
    """The few columns filters and soft signals need, per indexed row (plain Core rows)."""
    columns = META_COLUMNS[collection]
    stmt = select(*columns)
    if ids is not None:
        stmt = stmt.where(columns[0].in_(ids))
    return {row.id: row for row in session.connection().execute(stmt)}
