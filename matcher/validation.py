"""Pydantic validation errors turned into Chinese messages keyed by field."""

from __future__ import annotations

from pydantic import ValidationError

from matcher.schemas import FieldProblem

MESSAGES = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "bool_parsing": "应为 是/否",
    "date_parsing": "日期格式应为 2027-12-31",
    "date_from_datetime_parsing": "日期格式应为 2027-12-31",
    "datetime_parsing": "时间格式不正确",
    "string_type": "应为文字",
    "list_type": "应为列表",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "greater_than": "应大于 {gt}",
    "less_than": "应小于 {lt}",
    "string_too_long": "过长：最多 {max_length} 个字",
    "string_too_short": "过短：至少 {min_length} 个字",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
}


def zh_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) pairs in Chinese; field is '' for errors of the whole object."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        field = loc[0] if loc else ""
        ctx = err.get("ctx") or {}
        original = ctx.get("error")
        if isinstance(original, FieldProblem):
            out.append((original.field, str(original)))
            continue
        if isinstance(original, ValueError):
            out.append((field, str(original)))
            continue
        template = MESSAGES.get(err["type"])
        if template is None:
            out.append((field, "取值无效"))
            continue
        try:
            out.append((field, template.format(**ctx)))
        except (KeyError, IndexError):
            out.append((field, template))
    return out
