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


def test_worker_once_and_index_prepare_for_a_new_model(
    tmp_path: Path, duijie_home: Path, tiny_model_dir: Path
) -> None:
    """`duijie worker --once` encodes what is queued; `duijie index prepare --model` stores the
    next model's vectors with progress, and a web process of that model then encodes nothing."""
    import json
    import shutil

    from sqlmodel import select

    from matcher.config import get_settings
    from matcher.db import get_engine, session_scope
    from matcher.embedding import store
    from matcher.embedding.encoder import Encoder
    from matcher.indexing import IndexManager
    from matcher.models import EmbeddingJob

    orgs = tmp_path / "orgs.csv"
    orgs.write_text("单位名称,单位类型\n北辰理工大学,高校\n", encoding="utf-8")
    assert runner.invoke(app, ["import", str(orgs), "--kind", "organizations"]).exit_code == 0
    techs = tmp_path / "t.csv"
    techs.write_text(
        "成果名称,所属单位,技术领域,成果简介,成熟度,合作方式\n"
        "耐磨衬板,北辰理工大学,新材料,高铬铸铁耐磨衬板,5,转让\n"
        "茶叶保鲜,北辰理工大学,食品,高阻隔包装延缓褐变,5,转让\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["import", str(techs), "--kind", "technologies"]).exit_code == 0
    engine = get_engine()
    with session_scope(engine) as session:  # as if a web process queued them and none encoded
        store.enqueue(session, "technologies", [1, 2])
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "编码 0 条" in result.output  # the import stored them already: nothing to encode
    with session_scope(engine, write=False) as session:
        assert session.exec(select(EmbeddingJob)).all() == []
    second = tmp_path / "tiny-2"
    shutil.copytree(tiny_model_dir, second)
    manifest = json.loads((second / "duijie-model.json").read_text())
    (second / "duijie-model.json").write_text(json.dumps({**manifest, "fingerprint": "tiny-2"}))
    result = runner.invoke(app, ["index", "prepare", "--model", str(second)])
    assert result.exit_code == 0, result.output
    assert "technologies 2 条" in result.output and "DUIJIE_EMBEDDING_MODEL" in result.output
    switched = get_settings().model_copy(update={"embedding_model": str(second)})
    encoder = Encoder(switched)
    web = IndexManager(engine, switched, encoder=encoder, encode_inline=False).open()
    assert len(web.collections["technologies"]) == 2 and encoder.documents_requested == 0
