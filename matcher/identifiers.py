"""Checks of the identifiers people type: 统一社会信用代码, patent numbers, phones, e-mails."""

from __future__ import annotations

import re
from dataclasses import dataclass

# GB 32100-2015: 18 characters over 31 symbols (no I, O, Z, S, V); the last one is a check.
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(
        _CREDIT_ALPHABET.index(ch) * w for ch, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """None when the code is valid, else a Chinese explanation."""
    code = code.strip().upper()
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实际为 {len(code)} 位"
    bad = sorted({ch for ch in code if ch not in _CREDIT_ALPHABET})
    if bad:
        return f"统一社会信用代码含有不允许的字符：{''.join(bad)}（不使用 I、O、Z、S、V）"
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误：末位应为 {expected}，实际为 {code[17]}"
    return None


def make_credit_code(body17: str) -> str:
    """Complete 17 characters with their check character (used by demo data and tests)."""
    return body17 + credit_code_check_char(body17)


# Chinese patent application numbers. Since 2003: year (4) + type (1) + serial (7) + "." + check;
# before: year (2) + type (1) + serial (5) + "." + check. The check is the weighted sum mod 11
# (X for 10) with weights 2..9 repeating over the digits.
_APP_NEW = re.compile(r"^(?:ZL|CN)?\s*(\d{4})([1-9])(\d{7})\.?([\dX])$")
_APP_OLD = re.compile(r"^(?:ZL|CN)?\s*(\d{2})([1-9])(\d{5})\.?([\dX])$")
_PUBLICATION = re.compile(r"^CN\s*(\d{7,9})\s*([ABCUYS])(\d)?$")
_SOFTWARE = re.compile(r"^(\d{4})SR(\d{5,7})$")
_APP_TYPES = {"1": "发明专利", "2": "实用新型", "3": "外观设计", "8": "发明专利", "9": "实用新型"}
_PUB_TYPES = {
    "A": "发明专利",
    "B": "发明专利",
    "C": "发明专利",
    "U": "实用新型",
    "Y": "实用新型",
    "S": "外观设计",
}


def patent_check_char(digits: str) -> str:
    weights = (2, 3, 4, 5, 6, 7, 8, 9)
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(digits))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def make_patent_number(year: int, kind: str, serial: int) -> str:
    """A valid application number like ZL201510123456.7 (kind: 1 invention, 2 utility, 3 design)."""
    digits = f"{year:04d}{kind}{serial:07d}"
    return f"ZL{digits}.{patent_check_char(digits)}"


@dataclass(frozen=True)
class IpCheck:
    normalized: str
    implied_type: str | None


def ip_number_problem(ip_type: str, number: str) -> tuple[str | None, IpCheck | None]:
    """Validate an IP number for its type: (problem, parsed)."""
    raw = re.sub(r"\s+", "", number.strip().upper().replace("．", "."))
    if not raw:
        return "知识产权编号为空", None
    if ip_type in ("发明专利", "实用新型", "外观设计"):
        m = _APP_NEW.match(raw) or _APP_OLD.match(raw)
        if m:
            digits = "".join(m.groups()[:3])
            check = m.group(4)
            expected = patent_check_char(digits)
            if check != expected:
                return (f"专利号 {number} 校验位错误：应为 {expected}，实际为 {check}", None)
            implied = _APP_TYPES.get(m.group(2))
            if implied and implied != ip_type:
                return (f"专利号 {number} 是{implied}的申请号，与类型「{ip_type}」不符", None)
            return None, IpCheck(f"ZL{digits}.{check}", implied)
        m = _PUBLICATION.match(raw)
        if m:
            implied = _PUB_TYPES.get(m.group(2))
            if implied and implied != ip_type:
                return (f"公告号 {number} 属于{implied}，与类型「{ip_type}」不符", None)
            return None, IpCheck(raw, implied)
        return (
            f"无法识别的专利号：{number}（应为申请号如 ZL201510123456.7，或公告号如 CN104123456B）",
            None,
        )
    if ip_type == "软件著作权":
        if _SOFTWARE.match(raw):
            return None, IpCheck(raw, ip_type)
        return f"软件著作权登记号格式应为 2020SR123456，实际为 {number}", None
    if len(raw) > 64:
        return "知识产权编号过长（最多 64 个字符）", None
    return None, IpCheck(raw, None)


_PHONE = re.compile(r"^(?:\+?86[- ]?)?(1[3-9]\d{9})$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def phone_problem(phone: str) -> str | None:
    phone = phone.strip().replace(" ", "")
    if _PHONE.match(phone) or _LANDLINE.match(phone):
        return None
    return f"电话号码格式不正确：{phone}（手机 11 位，或座机如 024-12345678）"


def email_problem(email: str) -> str | None:
    if _EMAIL.match(email.strip()):
        return None
    return f"电子邮箱格式不正确：{email}"


def mask_phone(phone: str | None) -> str:
    """138****1234 for mobiles; the middle of landlines likewise."""
    if not phone:
        return ""
    p = phone.strip()
    m = _PHONE.match(p.replace(" ", ""))
    if m:
        core = m.group(1)
        return f"{core[:3]}****{core[-4:]}"
    if len(p) <= 4:
        return "*" * len(p)
    keep = max(2, len(p) // 4)
    return p[:keep] + "*" * (len(p) - 2 * keep) + p[-keep:]


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    user, _, domain = email.partition("@")
    return f"{user[:1]}***@{domain}"


def mask_name(name: str | None) -> str:
    """张** — enough to address a letter, not to identify a person."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)
