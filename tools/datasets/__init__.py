"""The datasets the tooling reads (see README.md here): the evaluation needs and the STS sets.

The CSL corpus and the fitted relevance calibrations ship with the runtime in `matcher/datasets/`
(the lexer reads the corpus's keywords, the engine loads the calibrations): a name that is not
here is looked up there. DUIJIE_DATASETS points both at one copy with the full layout."""

from __future__ import annotations

import os
from pathlib import Path

from matcher.datasets import dataset as runtime_dataset


def datasets_dir() -> Path:
    """The tooling's datasets, or the copy DUIJIE_DATASETS points at."""
    env = os.environ.get("DUIJIE_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parent


def dataset(name: str) -> Path:
    """A shipped dataset by its relative name: the tooling's own, else the runtime's."""
    path = datasets_dir() / name
    return path if path.exists() else runtime_dataset(name)
