"""Password storage at production strength (the suite itself signs in with cheap parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy.engine import Engine

from matcher import accounts
from matcher.db import session_scope


def test_production_passwords_are_argon2id_at_rfc_9106_cost(cheap_password_hashing: object) -> None:
    production = cheap_password_hashing  # what matcher.accounts defines, before the suite's swap
    assert isinstance(production, PasswordHasher)
    assert production.type is Type.ID
    assert production.memory_cost >= RFC_9106_LOW_MEMORY.memory_cost  # 64 MiB
    assert production.time_cost >= RFC_9106_LOW_MEMORY.time_cost
    assert production.hash("x").startswith("$argon2id$")


def test_a_sign_in_with_other_parameters_is_rehashed(sqlite_engine: Engine) -> None:
    older = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    with session_scope(sqlite_engine) as session:
        user = accounts.create_user(
            session=session,
            email="a@example.cn",
            name="a",
            password="secret-pass-1",
            role="admin",
            organization_id=None,
        )
        user.password_hash = older.hash("secret-pass-1")
    with session_scope(sqlite_engine) as session:
        signed_in = accounts.verify_password(session, "a@example.cn", "secret-pass-1")
        assert signed_in is not None
        assert not accounts.PASSWORD_HASHER.check_needs_rehash(signed_in.password_hash)
        assert accounts.verify_password(session, "a@example.cn", "wrong-pass-1") is None
