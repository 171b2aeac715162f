"""Every table of the domain, registered on SQLModel's metadata in one place: importing this
module is what makes `SQLModel.metadata` complete (the database layer and the migrations do)."""

from __future__ import annotations

from sqlmodel import SQLModel

import matcher.challenges.models
import matcher.events.models
import matcher.models

__all__ = ["METADATA"]

METADATA = SQLModel.metadata
# the modules above are imported for their side effect: their table classes register here
_REGISTERED = (matcher.models, matcher.events.models, matcher.challenges.models)
