"""Which 技术领域 a demo enterprise of each industry posts needs, challenges and meeting requests in.

One table: an enterprise's industry → the fields its needs may be filed under, the field it is
mainly about first. A tea company asks for packaging, pesticide-residue testing or orchard
work, never for a land-survey system; a special-steel group asks about welding and fatigue,
never about Chinese medicine. The demo data is checked against this table (tests/tools/
test_demo_data.py), and the demo 对接会 invites the enterprises whose main field is one of its
themes."""

from __future__ import annotations

INDUSTRY_FIELDS: dict[str, tuple[str, ...]] = {
    # metals and mining
    "钢铁冶炼": ("冶金与矿业", "新材料", "先进制造与自动化", "能源与动力", "资源与环境", "人工智能与软件"),
    "特殊钢": ("新材料", "冶金与矿业", "先进制造与自动化"),
    "冶金装备": ("先进制造与自动化", "冶金与矿业", "新材料", "电子信息"),
    "有色冶金": ("冶金与矿业", "新材料", "化工与石化", "资源与环境"),
    "电解铝": ("冶金与矿业", "新材料", "能源与动力"),
    "镁合金": ("新材料", "冶金与矿业", "新能源与节能"),
    "铁矿": ("冶金与矿业", "先进制造与自动化", "资源与环境"),
    "矿山": ("冶金与矿业", "先进制造与自动化", "资源与环境"),
    "煤炭": ("冶金与矿业", "能源与动力", "先进制造与自动化", "资源与环境"),
    "矿业软件": ("冶金与矿业", "人工智能与软件"),
    # chemicals, oil and gas
    "石油化工": ("化工与石化", "新材料", "资源与环境"),
    "化工": ("化工与石化", "新材料", "资源与环境"),
    "油气田服务": ("化工与石化", "资源与环境", "先进制造与自动化"),
    # equipment
    "重型装备": ("先进制造与自动化", "新材料", "能源与动力"),
    "机床": ("先进制造与自动化", "人工智能与软件", "电子信息"),
    "电梯": ("先进制造与自动化", "电子信息", "人工智能与软件"),
    "机器人": ("先进制造与自动化", "电子信息", "人工智能与软件"),
    "压力容器": ("新材料", "新能源与节能", "先进制造与自动化"),
    # energy
    "火电": ("能源与动力", "资源与环境", "新能源与节能"),
    "供热": ("能源与动力", "资源与环境", "新能源与节能"),
    "风电装备": ("能源与动力", "新能源与节能", "先进制造与自动化"),
    "储能": ("新能源与节能", "能源与动力", "新材料"),
    "光伏": ("新能源与节能", "能源与动力", "电子信息"),
    "氢能": ("新能源与节能", "能源与动力", "新材料"),
    # materials
    "新材料": ("新材料", "新能源与节能", "电子信息"),
    "复合材料": ("新材料", "先进制造与自动化", "航空航天"),
    "军工材料": ("新材料", "航空航天", "电子信息"),
    "建材": ("新材料", "土木建筑与水利", "资源与环境"),
    # vehicles, ships, transport
    "新能源汽车": ("交通运输", "新能源与节能", "能源与动力"),
    "汽车零部件": ("交通运输", "能源与动力", "先进制造与自动化", "电子信息"),
    "船舶制造": ("船舶与海洋", "先进制造与自动化"),
    "船舶配套": ("船舶与海洋", "先进制造与自动化", "新材料"),
    "海洋工程": ("船舶与海洋", "土木建筑与水利", "能源与动力"),
    "交通投资": ("交通运输", "土木建筑与水利"),
    "城市交通": ("交通运输", "人工智能与软件"),
    "智慧交通": ("交通运输", "人工智能与软件", "电子信息"),
    "铁路运输": ("交通运输", "人工智能与软件"),
    # construction and surveying
    "建筑施工": ("土木建筑与水利", "新材料"),
    "公路建设": ("土木建筑与水利", "交通运输"),
    "公路设计": ("土木建筑与水利", "交通运输"),
    "隧道施工": ("土木建筑与水利", "交通运输"),
    "轨道交通建设": ("土木建筑与水利", "交通运输"),
    "测绘地理信息": ("测绘与地理信息", "人工智能与软件", "资源与环境"),
    # electronics and software
    "软件": ("人工智能与软件", "电子信息"),
    "安防": ("电子信息", "人工智能与软件"),
    "安检设备": ("电子信息", "人工智能与软件"),
    "半导体": ("电子信息", "新材料"),
    "光电子": ("电子信息", "新材料"),
    # environment and utilities
    "水务": ("资源与环境", "土木建筑与水利"),
    "水务环保": ("资源与环境", "土木建筑与水利"),
    "环保": ("资源与环境", "化工与石化"),
    "环保工程": ("资源与环境", "现代农业"),
    "环保监测": ("资源与环境", "电子信息"),
    "环卫": ("资源与环境",),
    "环境修复": ("资源与环境",),
    "检验检测": ("食品", "资源与环境", "化工与石化"),
    # textiles
    "纺织": ("纺织与轻工", "化工与石化"),
    "印染": ("纺织与轻工", "资源与环境", "化工与石化"),
    # agriculture and food
    "农机制造": ("现代农业", "先进制造与自动化"),
    "设施农业": ("现代农业", "电子信息"),
    "农垦": ("现代农业", "资源与环境"),
    "柑橘种植": ("现代农业",),
    "果品": ("现代农业", "食品"),
    "农资": ("现代农业", "资源与环境"),
    "茶叶": ("食品", "现代农业"),
    "食品加工": ("食品", "现代农业"),
    "食品添加剂": ("食品", "化工与石化", "生物医药"),
    "水产加工": ("食品", "现代农业"),
    "乳制品": ("食品", "现代农业", "生物医药"),
    "白酒": ("食品",),
    # medicine and health
    "人参": ("中医药", "现代农业", "食品", "生物医药"),
    "民族医药": ("中医药", "生物医药"),
    "制药": ("生物医药", "中医药", "化工与石化"),
    "生物制药": ("生物医药", "医疗器械与卫生"),
    "医疗器械": ("医疗器械与卫生", "新材料", "电子信息"),
    "医疗机构": ("医疗器械与卫生", "生物医药"),
    "疾控机构": ("医疗器械与卫生",),
}  # fmt: skip


def fields_for(industry: str) -> tuple[str, ...]:
    """The fields an enterprise of this industry posts in (empty for an industry not listed)."""
    return INDUSTRY_FIELDS.get(industry, ())


def fits(industry: str, field: str) -> bool:
    """Whether a need or challenge filed under ``field`` is in the line of work of ``industry``."""
    return field in fields_for(industry)


def main_field(industry: str) -> str | None:
    """The field an enterprise of this industry is mainly about."""
    fields = fields_for(industry)
    return fields[0] if fields else None
