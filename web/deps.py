"""Dependencies shared by routes (Annotated aliases, one place)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from matcher.db import session_scope


def get_read_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine, write=False) as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session)]
