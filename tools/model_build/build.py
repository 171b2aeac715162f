"""`duijie model build`: write the built-in models into $DUIJIE_HOME/models, each atomically.

A model directory is complete or absent: it is written into a temporary directory beside the
target, fsynced, given a manifest (recipe version, sources, fingerprint) and a model card, then
moved into place. A model whose manifest matches the current recipe and sources is up to date
and never rebuilt unless forced."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matcher.config import Settings
from matcher.embedding.encoder import MANIFEST, read_manifest
from matcher.files import fsync_dir, fsync_path

Progress = Callable[[str, float], None]
CARD = "README.md"
E5_RECIPE = "e5-xlmr-1"


def fingerprint_dir(path: Path) -> str:
    """sha256 over every file's relative path and content (manifest and card excluded)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = str(file.relative_to(path))
        if rel in (MANIFEST, CARD):
            continue
        digest.update(rel.encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def install_dir(tmp: Path, target: Path) -> None:
    """Move a finished model directory into place, replacing any older one atomically."""
    fsync_path(tmp)
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
    fsync_dir(target.parent)


def e5_sources() -> dict[str, Any]:
    from tools.model_build.packed_e5 import packaged_e5_path

    path = packaged_e5_path()
    return {"recipe": E5_RECIPE, "source_file": path.name, "source_size": path.stat().st_size}


def is_up_to_date(target: Path, expected: dict[str, Any]) -> bool:
    manifest = read_manifest(target)
    if not manifest or manifest.get("sources") != expected:
        return False
    return (
        all((target / f).exists() for f in ("modules.json", "model.safetensors"))
        or (target / "0_StaticEmbedding" / "model.safetensors").exists()
    )


def _build_into(
    target: Path,
    builder: Callable[[Path], dict[str, Any]],
    sources: dict[str, Any],
    card: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{target.name}-", dir=target.parent))
    try:
        details = builder(tmp)
        manifest = {
            "name": target.name,
            "sources": sources,
            "fingerprint": fingerprint_dir(tmp)[:32],
            **details,
        }
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (tmp / CARD).write_text(card(manifest), encoding="utf-8")
        install_dir(tmp, target)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_models(
    settings: Settings,
    *,
    names: tuple[str, ...] = ("e5", "static"),
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Build what is missing or out of date; returns each model's manifest and whether it was built."""
    from tools.model_build import cards, e5, static

    settings.ensure_home()
    say = progress or (lambda _m, _f: None)
    results: dict[str, dict[str, Any]] = {}
    if "e5" in names:
        target = settings.models_dir / "e5"
        sources = e5_sources()
        if not force and is_up_to_date(target, sources):
            results["e5"] = {**read_manifest(target), "built": False}
        else:
            manifest = _build_into(
                target,
                lambda tmp: e5.build_e5(tmp, lambda m, f: say(f"e5：{m}", f)),
                sources,
                cards.e5_card,
            )
            results["e5"] = {**manifest, "built": True}
    if "static" in names:
        target = settings.models_dir / "static"
        teacher = settings.models_dir / "e5"
        sources = static.static_sources(read_manifest(teacher))
        if not force and is_up_to_date(target, sources):
            results["static"] = {**read_manifest(target), "built": False}
        else:
            manifest = _build_into(
                target,
                lambda tmp: static.build_static(
                    tmp, teacher, settings, lambda m, f: say(f"static：{m}", f)
                ),
                sources,
                cards.static_card,
            )
            results["static"] = {**manifest, "built": True}
    return results
