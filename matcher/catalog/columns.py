"""The columns of each catalog kind: Chinese header, model attribute, parser, help text.

The README's import reference is generated from these specs (``duijie import --columns``)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matcher import vocab
from matcher.schemas import check_choice, parse_date, parse_money, parse_price

KINDS = ("organizations", "technologies", "needs")
KIND_LABELS = {"organizations": "单位", "technologies": "科技成果", "needs": "需求"}

_LIST_SPLIT = re.compile(r"[；;，,、/|\n]+")
_IP_SPLIT = re.compile(r"[；;\n]+")


def split_list(raw: str) -> list[str]:
    return [part.strip() for part in _LIST_SPLIT.split(raw) if part.strip()]


def parse_text(raw: str) -> str:
    return raw.strip()


def parse_int(raw: str) -> int:
    text = raw.strip().upper().removeprefix("TRL").removesuffix("级").strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"应为整数，实际为「{raw}」") from None
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"应为整数，实际为「{raw}」")
    return int(value)


def parse_list(raw: str) -> list[str]:
    return split_list(raw)


def parse_ip_items(raw: str) -> list[dict[str, str]]:
    items = []
    for part in _IP_SPLIT.split(raw):
        part = part.strip()
        if not part:
            continue
        kind, sep, number = _split_ip(part)
        if not sep:
            raise ValueError(
                f"知识产权应写作「类型:编号」，如「发明专利:ZL201510123456.7」，实际为「{part}」"
            )
        items.append({"type": kind.strip(), "number": number.strip()})
    return items


def _split_ip(part: str) -> tuple[str, str, str]:
    m = re.match(r"^([^:：]+)([:：])(.*)$", part)
    if not m:
        return part, "", ""
    return m.group(1), m.group(2), m.group(3)


def parse_choice(mapping: dict[str, str] | tuple[str, ...], what: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        return check_choice(raw.strip(), mapping, what)

    return parse


@dataclass(frozen=True)
class Column:
    header: str
    attr: str
    parse: Callable[[str], Any]
    required: bool = False
    help: str = ""
    example: str = ""
    aliases: tuple[str, ...] = ()
    # how the value is written back on export
    render: Callable[[Any], str] | None = None


def _render_list(value: Any) -> str:
    return "；".join(value or [])


def _render_ip(value: Any) -> str:
    return "；".join(f"{i['type']}:{i['number']}" for i in value or [])


def _render_choice(mapping: dict[str, str]) -> Callable[[Any], str]:
    return lambda v: vocab.label(mapping, v)


def _render_price(value: Any) -> str:
    return "面议" if value is None else _render_number(value)


def _render_number(value: Any) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return str(value)


def _render_date(value: Any) -> str:
    return value.isoformat() if value else ""


_CODE = Column(
    "编号",
    "code",
    parse_text,
    help="稳定的外部编号；再次导入同一编号时更新而不是新增",
    example="CG-2026-0001",
)
_CONTACT = (
    Column(
        "联系人",
        "contact_name",
        parse_text,
        help="对外联系人姓名（未获同意前对他人脱敏）",
        example="王老师",
    ),
    Column("联系电话", "contact_phone", parse_text, help="手机或座机", example="13800001234"),
    Column("电子邮箱", "contact_email", parse_text, example="tt@example.edu.cn"),
)

ORGANIZATION_COLUMNS: tuple[Column, ...] = (
    _CODE,
    Column(
        "单位名称", "name", parse_text, required=True, help="平台内唯一", example="北辰理工大学"
    ),
    Column(
        "单位类型",
        "kind",
        parse_choice(vocab.ORG_KINDS, "单位类型"),
        required=True,
        help="、".join(vocab.ORG_KINDS.values()),
        example="高校",
        render=_render_choice(vocab.ORG_KINDS),
    ),
    Column("省份", "province", parse_text, help="如 辽宁省（可简写为 辽宁）", example="辽宁省"),
    Column("城市", "city", parse_text, example="沈阳市"),
    Column("所属行业", "industry", parse_text, example="高等教育"),
    Column(
        "统一社会信用代码",
        "credit_code",
        parse_text,
        help="18 位，按 GB 32100 校验末位；企业必填",
        example="91350100M000100Y43",
    ),
    Column("单位简介", "description", parse_text),
    Column("网址", "website", parse_text),
    Column(
        "投资领域",
        "fields",
        parse_list,
        help="投资机构：技术领域，多个用「；」分隔",
        render=_render_list,
    ),
    Column(
        "投资阶段",
        "stages",
        parse_list,
        help="投资机构：" + "、".join(vocab.FINANCING_STAGES),
        render=_render_list,
    ),
    Column(
        "单笔投资下限（万元）",
        "ticket_min",
        parse_money,
        aliases=("单笔投资下限",),
        render=_render_number,
    ),
    Column(
        "单笔投资上限（万元）",
        "ticket_max",
        parse_money,
        aliases=("单笔投资上限",),
        render=_render_number,
    ),
    Column(
        "投资地区",
        "regions",
        parse_list,
        help="投资机构：省份，多个用「；」分隔",
        render=_render_list,
    ),
    Column("投资偏好", "preference", parse_text, help="投资机构：用文字描述关注的方向"),
)

TECHNOLOGY_COLUMNS: tuple[Column, ...] = (
    _CODE,
    Column("成果名称", "title", parse_text, required=True, example="高强韧耐磨衬板材料及制备技术"),
    Column(
        "所属单位",
        "owner",
        parse_text,
        required=True,
        help="须为平台中已有的单位名称",
        example="北辰理工大学",
    ),
    Column(
        "技术领域",
        "field",
        parse_choice(vocab.TECH_FIELDS, "技术领域"),
        required=True,
        help="、".join(vocab.TECH_FIELDS),
        example="新材料",
    ),
    Column(
        "成果简介",
        "summary",
        parse_text,
        required=True,
        aliases=("成果介绍", "简介"),
        example="以高铬铸铁为基体，经变质处理与两段热处理，衬板硬度与韧性同时提高，"
        "在球磨机中使用寿命较普通衬板延长一倍以上。",
    ),
    Column(
        "关键词",
        "keywords",
        parse_list,
        help="多个用「；」分隔",
        example="耐磨；衬板；热处理",
        render=_render_list,
    ),
    Column(
        "成熟度",
        "trl",
        parse_int,
        required=True,
        help="技术就绪水平 TRL 1–9（GB/T 22900）",
        example="6",
        aliases=("技术成熟度", "TRL"),
    ),
    Column(
        "知识产权",
        "ip_items",
        parse_ip_items,
        help="「类型:编号」，多个用「；」分隔；类型：" + "、".join(vocab.IP_TYPES),
        example="发明专利:ZL200310102344.5",
        render=_render_ip,
    ),
    Column(
        "合作方式",
        "cooperation_modes",
        parse_list,
        required=True,
        help="、".join(vocab.COOPERATION_MODES) + "，多个用「；」分隔",
        example="转让；许可",
        render=_render_list,
    ),
    Column(
        "价格（万元）",
        "price",
        parse_price,
        help="数字（万元）或「面议」",
        example="面议",
        aliases=("价格", "转让价格（万元）"),
        render=_render_price,
    ),
    Column("成果团队", "team", parse_text, help="团队或负责人", example="先进材料课题组"),
    *_CONTACT,
    Column(
        "状态",
        "status",
        parse_choice(vocab.TECH_STATUSES, "状态"),
        help="、".join(vocab.TECH_STATUSES.values()) + "；默认已发布",
        render=_render_choice(vocab.TECH_STATUSES),
    ),
    Column("有效期至", "valid_until", parse_date, help="如 2027-12-31", render=_render_date),
)

NEED_COLUMNS: tuple[Column, ...] = (
    _CODE,
    Column("需求名称", "title", parse_text, required=True, example="轧辊表面裂纹在线检测"),
    Column(
        "需求类型",
        "kind",
        parse_choice(vocab.NEED_KINDS, "需求类型"),
        required=True,
        help="技术需求、融资需求",
        example="技术需求",
        render=_render_choice(vocab.NEED_KINDS),
    ),
    Column(
        "发布单位",
        "owner",
        parse_text,
        required=True,
        help="须为平台中已有的单位名称",
        example="鞍辽钢铁股份有限公司",
    ),
    Column(
        "需求描述",
        "description",
        parse_text,
        required=True,
        help="用企业自己的话描述问题和期望",
        example="热轧辊表面裂纹靠停机人工检查，漏检导致断辊；希望在线检测裂纹并提前报警。",
    ),
    Column("所属行业", "industry", parse_text, example="冶金"),
    Column("技术领域", "field", parse_choice(vocab.TECH_FIELDS, "技术领域"), help="可留空"),
    Column("预算（万元）", "budget", parse_money, aliases=("预算",), render=_render_number),
    Column("最低成熟度", "min_trl", parse_int, help="TRL 1–9，可留空"),
    Column("省份", "province", parse_text),
    Column("城市", "city", parse_text),
    Column("截止日期", "deadline", parse_date, render=_render_date),
    Column(
        "可见范围",
        "visibility",
        parse_choice(vocab.VISIBILITY, "可见范围"),
        help="公开、注册用户、仅组织方；默认公开",
        render=_render_choice(vocab.VISIBILITY),
    ),
    Column(
        "融资金额（万元）",
        "amount",
        parse_money,
        help="融资需求必填",
        aliases=("融资金额",),
        render=_render_number,
    ),
    Column(
        "融资方式",
        "financing_type",
        parse_choice(vocab.FINANCING_TYPES, "融资方式"),
        help="股权、债权；融资需求必填",
        render=_render_choice(vocab.FINANCING_TYPES),
    ),
    Column(
        "融资阶段",
        "stage",
        parse_choice(vocab.FINANCING_STAGES, "融资阶段"),
        help="、".join(vocab.FINANCING_STAGES),
    ),
    Column("资金用途", "use_of_funds", parse_text),
    *_CONTACT,
    Column(
        "状态",
        "status",
        parse_choice(vocab.NEED_STATUSES, "状态"),
        help="、".join(vocab.NEED_STATUSES.values()) + "；默认已发布",
        render=_render_choice(vocab.NEED_STATUSES),
    ),
)


def columns_for(kind: str) -> tuple[Column, ...]:
    if kind == "organizations":
        return ORGANIZATION_COLUMNS
    if kind == "technologies":
        return TECHNOLOGY_COLUMNS
    if kind == "needs":
        return NEED_COLUMNS
    from matcher.errors import ValidationFailed

    raise ValidationFailed(f"未知的导入类型：{kind}（可选：{'、'.join(KINDS)}）")


def header_index(kind: str) -> dict[str, Column]:
    """Every accepted header (and alias) → its column."""
    out: dict[str, Column] = {}
    for col in columns_for(kind):
        out[col.header] = col
        for alias in col.aliases:
            out[alias] = col
    return out


def normalize_header(text: str) -> str:
    """Headers as people type them: strip spaces, a trailing *, and ASCII parentheses."""
    text = re.sub(r"\s+", "", text or "")
    text = text.rstrip("*＊")
    return text.replace("(", "（").replace(")", "）")


EXAMPLE_MARK = "【示例】"  # the template's example row starts its name with this; imports skip it


def example_values(kind: str, *, owner_name: str | None = None) -> list[str]:
    """The template's example row, one value per column; the name column carries EXAMPLE_MARK."""
    row = []
    for col in columns_for(kind):
        value = col.example
        if col.attr == "owner" and owner_name:
            value = owner_name
        if col.attr in ("title", "name") and value:
            value = EXAMPLE_MARK + value
        row.append(value)
    return row


def is_example_row(mapped: Sequence[Column | None], cells: Sequence[str]) -> bool:
    """True for the template's own example row (its name or title starts with EXAMPLE_MARK)."""
    for col, raw in zip(mapped, cells, strict=False):
        if col is not None and col.attr in ("title", "name"):
            return str(raw).strip().startswith(EXAMPLE_MARK)
    return False
