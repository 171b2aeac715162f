"""The datasets the running site reads (see README.md here): the CSL corpus, whose keywords are
the lexer's domain dictionary, and the fitted relevance calibrations. What only the tooling reads
is in `tools/datasets/`."""

from __future__ import annotations

import os
from pathlib import Path


def datasets_dir() -> Path:
    """The shipped datasets, or the copy DUIJIE_DATASETS points at."""
    env = os.environ.get("DUIJIE_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parent


def dataset(name: str) -> Path:
    path = datasets_dir() / name
    if not path.exists():
        from matcher.errors import NotFound

        raise NotFound(f"数据集不存在：{path}")
    return path
