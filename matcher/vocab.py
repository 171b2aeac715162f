"""Fixed vocabularies of technology transfer, with the Chinese labels users see.

Internal states (kinds, roles, statuses) are stored as short English codes and shown with their
labels; domain terms that users write and read verbatim (技术领域, 合作方式, 知识产权类型, 省份,
融资阶段) are stored as the Chinese terms themselves, so exports read naturally.
"""

from __future__ import annotations

ORG_KINDS: dict[str, str] = {
    "university": "高校",
    "institute": "科研院所",
    "enterprise": "企业",
    "investor": "投资机构",
    "agency": "服务机构",
}
# Organizations whose members list research results.
SUPPLIER_KINDS = ("university", "institute")

ROLES: dict[str, str] = {
    "enterprise": "企业用户",
    "university": "高校院所用户",
    "organizer": "活动组织方",
    "admin": "管理员",
}

# 技术领域: the eight 国家重点支持的高新技术领域 plus the fields a provincial platform's catalogs use.
TECH_FIELDS: tuple[str, ...] = (
    "电子信息",
    "人工智能与软件",
    "先进制造与自动化",
    "新材料",
    "化工与石化",
    "冶金与矿业",
    "能源与动力",
    "新能源与节能",
    "资源与环境",
    "生物医药",
    "医疗器械与卫生",
    "中医药",
    "现代农业",
    "食品",
    "纺织与轻工",
    "交通运输",
    "船舶与海洋",
    "航空航天",
    "土木建筑与水利",
    "测绘与地理信息",
    "现代服务与社会发展",
)

COOPERATION_MODES: tuple[str, ...] = (
    "转让",
    "许可",
    "作价投资",
    "技术开发",
    "技术服务",
    "技术咨询",
)

TECH_STATUSES: dict[str, str] = {
    "draft": "草稿",
    "published": "已发布",
    "withdrawn": "已撤回",
    "transferred": "已转化",
    "pending": "待审核",
    "rejected": "已驳回",
}

NEED_KINDS: dict[str, str] = {"tech": "技术需求", "financing": "融资需求"}

NEED_STATUSES: dict[str, str] = {
    "draft": "草稿",
    "published": "已发布",
    "closed": "已关闭",
    "fulfilled": "已解决",
    "pending": "待审核",
    "rejected": "已驳回",
}

INTEREST_STATUSES: dict[str, str] = {
    "pending": "待回复",
    "accepted": "已接受",
    "declined": "已婉拒",
    "withdrawn": "已撤回",
}

DECLINE_REASONS: dict[str, str] = {
    "too_early": "技术尚不成熟",
    "benefit_unclear": "收益不明确",
    "not_our_field": "不属于我方领域",
    "price": "价格不合适",
    "ip": "知识产权问题",
    "other": "其他",
}

VISIBILITY: dict[str, str] = {
    "public": "公开",
    "registered": "注册用户",
    "organizers": "仅组织方",
}

FINANCING_TYPES: dict[str, str] = {"equity": "股权", "debt": "债权"}

FINANCING_STAGES: tuple[str, ...] = (
    "种子轮",
    "天使轮",
    "Pre-A轮",
    "A轮",
    "B轮",
    "C轮及以后",
    "Pre-IPO",
    "并购",
)

IP_TYPES: tuple[str, ...] = (
    "发明专利",
    "实用新型",
    "外观设计",
    "软件著作权",
    "集成电路布图设计",
    "植物新品种",
    "技术秘密",
)

LEAD_STAGES: dict[str, str] = {
    "recommended": "推荐",
    "interest": "意向",
    "negotiation": "洽谈",
    "signed": "签约",
    "registered": "合同登记",
}
LEAD_STAGE_ORDER: tuple[str, ...] = tuple(LEAD_STAGES)

PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省",
    "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省", "云南省",
    "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "香港特别行政区", "澳门特别行政区", "台湾省",
)  # fmt: skip

TRL_LABELS: dict[int, str] = {
    1: "基本原理被发现和报告",
    2: "技术概念和应用设想明确",
    3: "关键功能和特性完成实验室验证",
    4: "实验室环境下部件/原理样机验证",
    5: "相关环境下部件/原理样机验证",
    6: "相关环境下系统/分系统样机演示",
    7: "实际使用环境下系统样机演示",
    8: "实际系统完成并通过试验验证",
    9: "实际系统通过任务运行成功考验",
}


def label(mapping: dict[str, str], code: str | None) -> str:
    """The Chinese label of a code, or the code itself when unknown."""
    if code is None:
        return ""
    return mapping.get(code, code)


def code_for_label(mapping: dict[str, str], text: str) -> str | None:
    """Accept a code or its Chinese label (imports are written by people)."""
    text = text.strip()
    if text in mapping:
        return text
    for code, name in mapping.items():
        if name == text:
            return code
    return None


def normalize_province(text: str) -> str | None:
    """Match 辽宁 / 辽宁省 / 内蒙古 to the full provincial name."""
    text = text.strip()
    if not text:
        return None
    for name in PROVINCES:
        if text == name:
            return name
    for name in PROVINCES:
        short = name.removesuffix("省").removesuffix("市")
        for suffix in ("自治区", "特别行政区", "壮族", "回族", "维吾尔"):
            short = short.replace(suffix, "")
        if text == short or (text.startswith(short) and len(short) >= 2):
            return name
    return None
