"""The command-line tool: help everywhere, clean errors, import/export round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from scripts.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def tiny_model(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports update the search index: with the stand-in model, quickly."""
    from matcher.config import reset_settings

    monkeypatch.setenv("DUIJIE_EMBEDDING_MODEL", str(tiny_model_dir))
    reset_settings()


def _all_command_paths() -> list[list[str]]:
    root = get_command(app)
    paths: list[list[str]] = [[]]

    def walk(cmd, prefix: list[str]) -> None:  # type: ignore[no-untyped-def]
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "duijie")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_import_bad_csv_exits_non_zero_and_changes_nothing(
    tmp_path: Path, duijie_home: Path
) -> None:
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("单位名称,单位类型\n北辰理工大学,高校\n", encoding="utf-8")
    assert runner.invoke(app, ["import", str(orgs), "--kind", "organizations"]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
        "好成果,北辰理工大学,新材料,简介,5,转让\n"
        "坏成果,北辰理工大学,新材料,简介,十,转让\n",
        encoding="gbk",
    )
    result = runner.invoke(app, ["import", str(bad), "--kind", "technologies"])
    assert result.exit_code == 2
    assert "第 3 行「成熟度」" in result.output
    status = runner.invoke(app, ["status", "--json"])
    assert '"technologies": 0' in status.output


def test_export_import_round_trip(tmp_path: Path, duijie_home: Path) -> None:
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("单位名称,单位类型,省份\n北辰理工大学,高校,辽宁\n", encoding="utf-8")
    runner.invoke(app, ["import", str(orgs), "--kind", "organizations"])
    out = tmp_path / "out.xlsx"
    result = runner.invoke(
        app, ["export", "--kind", "organizations", "--format", "xlsx", "-o", str(out)]
    )
    assert result.exit_code == 0 and out.exists()
    result = runner.invoke(app, ["import", str(out), "--kind", "organizations"])
    assert result.exit_code == 0 and "不变 1" in result.output


def test_unknown_kind_is_a_clear_error() -> None:
    result = runner.invoke(app, ["export", "--kind", "people"])
    assert result.exit_code == 1
    assert "未知的导入类型" in result.output
