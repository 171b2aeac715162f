"""`duijie model`: build the built-in models offline, show the current one."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from matcher.errors import DomainError
from scripts.cli.common import JsonOption, ProgressBar, console, friendly_errors, print_json

app = typer.Typer(help="向量模型：离线构建内置模型、查看当前模型。", no_args_is_help=True)


@app.command("build")
@friendly_errors
def model_build(
    force: Annotated[bool, typer.Option("--force", help="即使已是最新也重新构建")] = False,
    only: Annotated[str | None, typer.Option(help="只构建 e5 或 static")] = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate/--no-calibrate",
            help="为没有相关度校准的模型拟合校准（需求集 needs_dev*，约数分钟）",
        ),
    ] = True,
) -> None:
    """离线构建内置模型（e5 与 static）到 $DUIJIE_HOME/models；已是最新的不重建。
    随后为尚无相关度校准的模型拟合校准（按模型指纹保存；内置 e5 的校准随软件附带）。"""
    from matcher.config import get_settings
    from tools.model_build.build import build_models

    names = (only,) if only else ("e5", "static")
    if only and only not in ("e5", "static"):
        raise DomainError(f"未知的内置模型：{only}（可选 e5、static）")
    settings = get_settings()
    with ProgressBar() as bar:
        results = build_models(settings, names=names, force=force, progress=bar)
    for name, manifest in results.items():
        state = "已构建" if manifest.get("built") else "已是最新，未重建"
        console.print(
            f"{name}：{state}  指纹 {manifest.get('fingerprint')}  位置 {settings.models_dir / name}"
        )
    if calibrate:
        for name, manifest in results.items():
            calibrate_if_missing(settings, name, str(manifest.get("fingerprint") or ""))


def calibrate_if_missing(settings: Any, name: str, fingerprint: str) -> None:
    """Fit the relevance calibration of a built model that has none (stored by fingerprint)."""
    from matcher import relevance
    from matcher.text import get_lexer
    from tools.evaluation.calibration import run

    lexer = get_lexer()
    if relevance.load(settings.home, fingerprint, lexer.fingerprint).source != "fallback":
        console.print(f"{name}：相关度校准已存在（指纹 {fingerprint}）")
        return
    model_settings = settings.model_copy(update={"embedding_model": name})
    with ProgressBar() as bar:
        result = run(model_settings, fit_and_store=True, progress=bar)
    engine = result["engine"]
    console.print(
        f"{name}：已拟合相关度校准 {result['stored']['path']}（交叉验证：AUROC {engine['auroc']}，"
        f"高度相关准确率 {engine['precision_high']}，覆盖率 {engine['coverage_high']}，"
        f"无答案误判率 {engine['false_confidence']}）"
    )


@app.command("info")
@friendly_errors
def model_info(
    model: Annotated[str | None, typer.Option(help="默认取 DUIJIE_EMBEDDING_MODEL")] = None,
    as_json: JsonOption = False,
) -> None:
    """当前向量模型：名称、维度、词表大小、指纹、位置、评测分数。"""
    from matcher.config import get_settings
    from matcher.embedding.encoder import Encoder

    info = Encoder(get_settings(), model=model, use_cache=False).info()
    data = {
        "name": info.name,
        "location": info.location,
        "dim": info.dim,
        "vocab_size": info.vocab_size,
        "fingerprint": info.fingerprint,
        "query_prompt": info.query_prompt,
        "document_prompt": info.document_prompt,
        "max_tokens": info.max_tokens,
        "scores": info.manifest.get("scores", {}),
    }
    if as_json:
        print_json(data)
        return
    table = Table(title=f"向量模型 {info.name}")
    table.add_column("项")
    table.add_column("值")
    for key, value in data.items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        )
    console.print(table)
