"""Alembic environment: runs on the connection duijie hands it (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import matcher.tables  # noqa: F401  (every table on the metadata, for autogenerate)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from matcher.db import get_engine

        with get_engine().connect() as conn:
            _run(conn)
            conn.commit()
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
