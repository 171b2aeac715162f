"""Schemathesis against the OpenAPI schema: every operation, generated inputs (valid and
invalid), as a signed-in organizer with a bearer token; no answer may be a 5xx and every
documented response must match its schema. DUIJIE_FUZZ_EXAMPLES sets the cases per operation
(25 in `make test`; `make soak` runs 100)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.engine import Engine
from sqlmodel import select

from matcher import accounts
from matcher.db import session_scope
from matcher.models import User
from tests.web.conftest import USERS

EXAMPLES = int(os.environ.get("DUIJIE_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def organizer_token(web_app, engine: Engine) -> str:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.email == USERS["organizer"][0])).one()
        return accounts.new_api_token(session=session, user=user, name="fuzz")


def test_api_answers_without_server_errors_and_within_its_schema(web_app, organizer_token) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", web_app)
    headers = {"Authorization": f"Bearer {organizer_token}"}
    operations, cases = 0, [0]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True,
            suppress_health_check=list(HealthCheck), database=None,
        )  # fmt: skip
        def run(case) -> None:  # type: ignore[no-untyped-def]
            cases[0] += 1
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            run()
        except Exception as exc:  # one line per failing operation, all reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:800]}")
    print(f"fuzz: {operations} operations, {cases[0]} cases, {len(failures)} failing operations")
    assert operations >= 20
    assert not failures, "\n".join(failures)
