from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.identifiers import (
    credit_code_problem,
    ip_number_problem,
    make_credit_code,
    make_patent_number,
    mask_email,
    mask_name,
    mask_phone,
    patent_check_char,
    phone_problem,
)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def test_credit_code_examples() -> None:
    assert credit_code_problem("91350100M000100Y43") is None  # the example in GB 32100
    assert "校验位" in (credit_code_problem("91350100M000100Y44") or "")
    assert "18 位" in (credit_code_problem("9135010") or "")
    assert "不允许的字符" in (credit_code_problem("91350100M000100YO3") or "")


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_generated_credit_codes_validate(body: str) -> None:
    assert credit_code_problem(make_credit_code(body)) is None


@given(
    st.text(alphabet=ALPHABET, min_size=17, max_size=17),
    st.integers(0, 17),
    st.sampled_from(ALPHABET),
)
def test_one_changed_character_is_detected(body: str, pos: int, ch: str) -> None:
    code = make_credit_code(body)
    changed = code[:pos] + ch + code[pos + 1 :]
    if changed != code:
        assert credit_code_problem(changed) is not None


def test_patent_check_digits_from_the_standard_examples() -> None:
    assert patent_check_char("0214468" + "6") == "5"  # 02144686.5
    assert patent_check_char("200310102344") == "5"  # 200310102344.5


@pytest.mark.parametrize(
    ("ip_type", "number"),
    [
        ("发明专利", "ZL200310102344.5"),
        ("发明专利", "200310102344.5"),
        ("发明专利", "CN 02144686.5"),
        ("发明专利", "CN104123456B"),
        ("实用新型", "CN203123456U"),
        ("软件著作权", "2020SR123456"),
        ("技术秘密", "内部编号-17"),
    ],
)
def test_valid_ip_numbers(ip_type: str, number: str) -> None:
    problem, parsed = ip_number_problem(ip_type, number)
    assert problem is None and parsed is not None


@pytest.mark.parametrize(
    ("ip_type", "number", "fragment"),
    [
        ("发明专利", "ZL200310102344.4", "校验位"),
        ("实用新型", "ZL200310102344.5", "不符"),
        ("发明专利", "ABC", "无法识别"),
        ("软件著作权", "2020-123", "格式"),
        ("发明专利", "", "为空"),
    ],
)
def test_invalid_ip_numbers(ip_type: str, number: str, fragment: str) -> None:
    problem, _ = ip_number_problem(ip_type, number)
    assert problem is not None and fragment in problem


def test_make_patent_number_validates() -> None:
    number = make_patent_number(2019, "1", 1234567)
    assert ip_number_problem("发明专利", number)[0] is None


def test_masks() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("+86 138 1234 1234") == "138****1234"
    assert "1234" not in mask_phone("024-12345678")[3:-2]
    assert mask_email("wang@example.cn") == "w***@example.cn"
    assert mask_name("王小明") == "王**"
    assert phone_problem("12345") is not None
    assert phone_problem("024-12345678") is None
