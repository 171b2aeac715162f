"""Listing forms: what people typed → validated models, or Chinese messages per field.

The parsers are the catalog import's own (keywords, IP items, prices, dates), so a form and a
spreadsheet accept the same writing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from matcher.catalog.columns import parse_ip_items, parse_list
from matcher.models import NeedCreate, TechnologyCreate
from matcher.schemas import parse_date, parse_money, parse_price
from matcher.validation import zh_errors

TECH_FIELDS = (
    "title", "field", "summary", "keywords", "trl", "ip_items", "price", "team",
    "contact_name", "contact_phone", "contact_email", "valid_until", "status",
)  # fmt: skip
NEED_FIELDS = (
    "kind", "title", "description", "industry", "field", "budget", "min_trl", "province", "city",
    "deadline", "visibility", "amount", "financing_type", "stage", "use_of_funds",
    "contact_name", "contact_phone", "contact_email", "status",
)  # fmt: skip


M = TypeVar("M", bound=BaseModel)


def parse(
    model: type[M],
    form: FormData,
    *,
    lists: Sequence[str] = (),
    names: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[dict[str, Any], M | None, dict[str, str]]:
    """What people typed → (the values to show again, the validated input model or None, field →
    Chinese message). The one form-parsing idiom: the model's `Annotated` types (`matcher.schemas`)
    decide what a field accepts; this only collects the fields.

    `lists` are multi-valued fields (checkboxes, repeated rows); `names` maps a model field to its
    form field where they differ (errors are keyed by the form's name, which the template shows);
    `extra` are values the caller parsed itself (nested rows); `errors` are the caller's own
    messages, which win over the model's for the same field. A blank field is left out, so the
    model's default (or its "必填") applies."""
    names = dict(names or {})
    values: dict[str, Any] = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    for name in lists:
        values[name] = [v for v in form.getlist(name) if isinstance(v, str)]
    data: dict[str, Any] = {}
    for field in model.model_fields:
        raw = values.get(names.get(field, field))
        if raw not in (None, ""):
            data[field] = raw
    data.update(extra or {})
    form_name = {field: names.get(field, field) for field in model.model_fields}
    found = dict(errors or {})
    try:
        created = model.model_validate(data)
    except ValidationError as exc:
        for field, message in zh_errors(exc):
            found.setdefault(form_name.get(field, field), message)
        return values, None, found
    return values, (None if found else created), found


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def technology_values(tech: Any) -> dict[str, Any]:
    """A technology as form values (for editing)."""
    return {
        "title": tech.title,
        "field": tech.field,
        "summary": tech.summary,
        "keywords": "；".join(tech.keywords or []),
        "trl": str(tech.trl),
        "ip_items": "\n".join(f"{i['type']}:{i['number']}" for i in tech.ip_items or []),
        "cooperation_modes": list(tech.cooperation_modes or []),
        "price": "" if tech.price is None else f"{tech.price:g}",
        "team": tech.team or "",
        "contact_name": tech.contact_name or "",
        "contact_phone": tech.contact_phone or "",
        "contact_email": tech.contact_email or "",
        "valid_until": tech.valid_until.isoformat() if tech.valid_until else "",
        "status": tech.status,
    }


def parse_technology(
    form: FormData,
) -> tuple[dict[str, Any], TechnologyCreate | None, dict[str, str]]:
    values: dict[str, Any] = {name: _text(form, name) for name in TECH_FIELDS}
    values["cooperation_modes"] = [
        m for m in form.getlist("cooperation_modes") if isinstance(m, str)
    ]
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "title": values["title"],
        "field": values["field"],
        "summary": values["summary"],
        "cooperation_modes": values["cooperation_modes"],
        "status": values["status"] or "published",
    }
    for name, parse, key in (
        ("keywords", parse_list, "keywords"),
        ("ip_items", parse_ip_items, "ip_items"),
        ("price", parse_price, "price"),
        ("valid_until", parse_date, "valid_until"),
    ):
        if values[name]:
            try:
                data[key] = parse(values[name])
            except ValueError as exc:
                errors[name] = str(exc)
    if values["trl"]:
        data["trl"] = int(values["trl"]) if values["trl"].isdigit() else values["trl"]
    else:
        errors["trl"] = "请选择成熟度"
    for name in ("team", "contact_name", "contact_phone", "contact_email"):
        if values[name]:
            data[name] = values[name]
    return _validate(TechnologyCreate, data, values, errors)


def need_values(need: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in NEED_FIELDS:
        value = getattr(need, name, None)
        if value is None:
            out[name] = ""
        elif hasattr(value, "isoformat"):
            out[name] = value.isoformat()
        elif isinstance(value, float):
            out[name] = f"{value:g}"
        else:
            out[name] = str(value)
    return out


NEED_KIND_ONLY = {
    "tech": ("budget", "min_trl"),
    "financing": ("amount", "financing_type", "stage", "use_of_funds"),
}


def parse_need(form: FormData) -> tuple[dict[str, Any], NeedCreate | None, dict[str, str]]:
    values: dict[str, Any] = {name: _text(form, name) for name in NEED_FIELDS}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "kind": values["kind"] or "tech",
        "title": values["title"],
        "description": values["description"],
        "visibility": values["visibility"] or "public",
        "status": values["status"] or "published",
    }
    # The form shows only the block of the chosen kind; what was typed in the hidden one is dropped.
    hidden = NEED_KIND_ONLY["tech" if data["kind"] == "financing" else "financing"]
    values.update({name: "" for name in hidden})
    for name in ("industry", "field", "province", "city", "financing_type", "stage", "use_of_funds",
                 "contact_name", "contact_phone", "contact_email"):  # fmt: skip
        if values[name]:
            data[name] = values[name]
    for name in ("budget", "amount"):
        if values[name]:
            try:
                data[name] = parse_money(values[name])
            except ValueError as exc:
                errors[name] = str(exc)
    if values["min_trl"]:
        data["min_trl"] = (
            int(values["min_trl"]) if values["min_trl"].isdigit() else values["min_trl"]
        )
    if values["deadline"]:
        try:
            data["deadline"] = parse_date(values["deadline"])
        except ValueError as exc:
            errors["deadline"] = str(exc)
    return _validate(NeedCreate, data, values, errors)


def _validate(
    model: Any, data: dict[str, Any], values: dict[str, Any], errors: dict[str, str]
) -> tuple[dict[str, Any], Any, dict[str, str]]:
    try:
        created = model(**data)
    except ValidationError as exc:
        for field, message in zh_errors(exc):
            errors.setdefault(field, message)
        return values, None, errors
    if errors:
        return values, None, errors
    return values, created, errors
