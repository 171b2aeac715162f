"""One Jinja2 environment for every page, with the filters the templates share."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from matcher import vocab

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.globals["vocab"] = vocab
templates.env.filters["label"] = vocab.label


def _price(value: float | None) -> str:
    if value is None:
        return "面议"
    return f"{value:g} 万元"


templates.env.filters["price"] = _price
