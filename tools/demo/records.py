"""The demo's written data: JSON Lines files in ``tools/demo/data/``, one record a line with
named fields, read into the dataclasses below (an unknown or missing field is an error, so a
typo in the data fails loudly rather than loading half a record).

- ``enterprises.jsonl``: fictional enterprises with their industry (see ``industries.py``) and,
  for members of an enterprise group, the group;
- ``needs.jsonl``: technology and financing needs; a need whose ``text_from`` names a dataset
  takes its description from that dataset's ``query`` (the evaluation needs of
  ``needs_dev.jsonl``), the others carry their own;
- ``investors.jsonl``: investors and what they invest in;
- ``results.jsonl``: 科技成果 written for the demo in the style of the CSL abstracts;
- ``challenges.jsonl``: 揭榜挂帅 challenges with their owner and indicators.

Records written for the demo that a visitor might take for real carry ``source`` =
``WRITTEN_FOR_DEMO``, and the same words in their visible text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as _default
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
WRITTEN_FOR_DEMO = "演示数据（为演示编写）"


@dataclass(frozen=True)
class Enterprise:
    name: str
    industry: str
    province: str
    city: str
    group: str = ""


@dataclass(frozen=True)
class NeedRecord:
    code: str
    kind: str  # tech / financing
    owner: str
    field: str
    title: str
    description: str = ""
    text_from: str = ""  # a dataset whose record of the same id gives the description
    amount: int | None = None  # 融资金额, 万元
    financing_type: str = ""  # equity / debt
    stage: str = ""
    use_of_funds: str = ""
    source: str = ""


@dataclass(frozen=True)
class Investor:
    name: str
    province: str
    city: str
    fields: list[str]
    stages: list[str]
    ticket_min: int
    ticket_max: int
    regions: list[str]
    preference: str


@dataclass(frozen=True)
class ResultRecord:
    code: str
    title: str
    owner: str
    discipline: str  # the CSL discipline it would be filed under
    field: str
    abstract: str
    keywords: list[str]
    trl: int
    modes: list[str]
    price: str  # 万元, or 面议
    team: str
    source: str = ""


@dataclass(frozen=True)
class ChallengeRecord:
    title: str
    owner: str
    field: str
    problem: str
    bounty: float
    indicators: list[dict[str, Any]] = _default(default_factory=list)
    source: str = ""


def _read(name: str) -> list[dict[str, Any]]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@cache
def enterprises() -> tuple[Enterprise, ...]:
    return tuple(Enterprise(**row) for row in _read("enterprises.jsonl"))


@cache
def needs() -> tuple[NeedRecord, ...]:
    return tuple(NeedRecord(**row) for row in _read("needs.jsonl"))


@cache
def investors() -> tuple[Investor, ...]:
    return tuple(Investor(**row) for row in _read("investors.jsonl"))


@cache
def written_results() -> tuple[ResultRecord, ...]:
    return tuple(ResultRecord(**row) for row in _read("results.jsonl"))


@cache
def challenges() -> tuple[ChallengeRecord, ...]:
    return tuple(ChallengeRecord(**row) for row in _read("challenges.jsonl"))
