"""Settings: every one documented in the README; unsafe production defaults refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from matcher.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _documented_settings() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|\s*`(DUIJIE_[A-Z0-9_]+)`", section, flags=re.M))


def test_every_setting_is_documented_in_the_readme() -> None:
    fields = {f"DUIJIE_{name.upper()}" for name in Settings.model_fields}
    documented = _documented_settings()
    assert fields - documented == set(), f"undocumented settings: {sorted(fields - documented)}"
    assert documented - fields == set(), (
        f"README documents unknown settings: {sorted(documented - fields)}"
    )


def test_defaults_live_in_the_data_directory(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "h")
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'h' / 'duijie.db'}"
    assert s.models_dir == tmp_path / "h" / "models"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUIJIE_HOME", str(tmp_path / "x"))
    monkeypatch.setenv("DUIJIE_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", "static")
    s = Settings()
    assert s.home == tmp_path / "x"
    assert s.resolved_database_url == "postgresql://u@h/db"
    assert s.embedding_model == "static"


def test_production_refuses_a_missing_or_short_secret() -> None:
    with pytest.raises(ValidationError, match="DUIJIE_SECRET_KEY"):
        Settings(env="production")
    with pytest.raises(ValidationError, match="太短"):
        Settings(env="production", secret_key="short")
    assert Settings(env="production", secret_key="x" * 40).secret_key


def test_development_secret_is_generated_once(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    first = s.resolved_secret_key()
    assert len(first) >= 32
    assert Settings(home=tmp_path).resolved_secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
