"""Build the demo catalog files and load them through the same import code users run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from matcher.catalog.exporter import write_csv
from matcher.catalog.importer import ImportReport, import_catalog
from matcher.config import Settings, get_settings
from matcher.identifiers import make_credit_code, make_patent_number
from tools.datasets import dataset
from tools.demo import records
from tools.demo.suppliers import APPLIED, DISCIPLINE_FIELDS, SUPPLIERS, shown_in_demo

TODAY = dt.date(2026, 11, 27)
ORGANIZER_NAME = "辽沈科技成果转化服务中心"
CITY_CODES = {
    "沈阳市": "210100", "大连市": "210200", "鞍山市": "210300", "抚顺市": "210400", "本溪市": "210500",
    "丹东市": "210600", "锦州市": "210700", "营口市": "210800", "阜新市": "210900", "辽阳市": "211000",
    "盘锦市": "211100", "铁岭市": "211200", "朝阳市": "211300", "葫芦岛市": "211400", "武汉市": "420100",
    "杭州市": "330100", "衢州市": "330800", "通辽市": "150500", "福州市": "350100", "长春市": "220100",
    "吉林市": "220200",
}  # fmt: skip
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志红晓东海燕玉兰"


@dataclass(frozen=True)
class DemoFiles:
    organizations: bytes
    technologies: bytes
    needs: bytes


def _stable_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def _credit_code(name: str, city: str, public_institution: bool) -> str:
    rng = random.Random(_stable_int(name))
    body = ("12" if public_institution else "91") + CITY_CODES.get(city, "210100")
    body += "".join(rng.choice(_ALPHABET) for _ in range(9))
    return make_credit_code(body)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "135", "186", "155", "177")) + f"{rng.randrange(10**8):08d}"


def _domain(name: str) -> str:
    return f"org{_stable_int(name) % 100000:05d}.example.cn"


def load_csl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_dev_needs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def supplier_for(doc: dict) -> str:
    """The fictional organization that lists a CSL abstract: one of those covering its discipline."""
    candidates = [s[0] for s in SUPPLIERS if doc["discipline"] in s[4]]
    if not candidates:
        candidates = [SUPPLIERS[-2][0]]
    return candidates[_stable_int(doc["id"]) % len(candidates)]


def _enterprise_description(e: records.Enterprise) -> str:
    member = f"，{e.group}成员企业" if e.group else ""
    return f"{e.industry}企业{member}（演示数据，虚构单位）"


ORGANIZATION_HEADERS = [
    "编号", "单位名称", "单位类型", "省份", "城市", "所属行业", "统一社会信用代码", "单位简介",
    "投资领域", "投资阶段", "单笔投资下限（万元）", "单笔投资上限（万元）", "投资地区", "投资偏好",
]  # fmt: skip
TECHNOLOGY_HEADERS = [
    "编号", "成果名称", "所属单位", "技术领域", "成果简介", "关键词", "成熟度", "知识产权", "合作方式",
    "价格（万元）", "成果团队", "联系人", "联系电话", "电子邮箱", "状态", "有效期至",
]  # fmt: skip
NEED_HEADERS = [
    "编号", "需求名称", "需求类型", "发布单位", "需求描述", "所属行业", "技术领域", "预算（万元）", "最低成熟度",
    "省份", "城市", "截止日期", "可见范围", "融资金额（万元）", "融资方式", "融资阶段", "资金用途",
    "联系人", "联系电话", "电子邮箱", "状态",
]  # fmt: skip
NO_INVESTMENT = ["", "", "", "", "", ""]  # the investor columns of an organization that is not one


def build_files(*, evaluation: bool = False) -> DemoFiles:
    """The demo's organizations, technologies and needs as import files.

    The demo lists as 科技成果 the CSL abstracts of the allowed disciplines (``shown_in_demo``)
    and the results written for it. ``evaluation=True`` gives the evaluations' corpus instead:
    all 2,000 abstracts under their usual owners and nothing written for the demo, so that what
    the demo shows never moves an evaluation figure."""
    docs = load_csl(dataset("csl/docs.jsonl"))
    written = () if evaluation else records.written_results()
    if not evaluation:
        docs = [doc for doc in docs if shown_in_demo(doc)]
    owners = {supplier_for(doc) for doc in docs} | {r.owner for r in written}
    enterprises = {e.name: e for e in records.enterprises()}
    return DemoFiles(
        organizations=write_csv(ORGANIZATION_HEADERS, organization_rows(owners, enterprises)),
        technologies=write_csv(TECHNOLOGY_HEADERS, technology_rows(docs, written)),
        needs=write_csv(NEED_HEADERS, need_rows(enterprises)),
    )


def organization_rows(
    owners: set[str], enterprises: dict[str, records.Enterprise]
) -> list[list[str]]:
    """The suppliers that list something, the enterprises, the investors and the organizer."""
    rows: list[list[str]] = []
    for i, (name, kind, province, city, _disc, desc) in enumerate(SUPPLIERS, start=1):
        if name not in owners:
            continue  # a university of the humanities lists nothing the demo shows
        university = kind == "university"
        rows.append([
            f"DEMO-S{i:03d}", name, "高校" if university else "科研院所", province, city,
            "高等教育" if university else "科学研究", "", desc + "（演示数据，虚构单位）", *NO_INVESTMENT,
        ])  # fmt: skip
    for i, name in enumerate(sorted(enterprises), start=1):
        e = enterprises[name]
        public = name.endswith(("医院", "医院集团")) or (
            "研究所" in name and "有限公司" not in name
        )
        rows.append([
            f"DEMO-E{i:03d}", name, "企业", e.province, e.city, e.industry,
            _credit_code(name, e.city, public), _enterprise_description(e), *NO_INVESTMENT,
        ])  # fmt: skip
    for i, inv in enumerate(records.investors(), start=1):
        rows.append([
            f"DEMO-I{i:03d}", inv.name, "投资机构", inv.province, inv.city, "投资", "",
            "投资机构（演示数据，虚构单位）", "；".join(inv.fields), "；".join(inv.stages),
            str(inv.ticket_min), str(inv.ticket_max), "；".join(inv.regions), inv.preference,
        ])  # fmt: skip
    rows.append([
        "DEMO-A001", ORGANIZER_NAME, "服务机构", "辽宁省", "沈阳市", "科技服务", "",
        "省级技术转移与成果转化服务机构，组织对接会和揭榜挂帅（演示数据，虚构单位）", *NO_INVESTMENT,
    ])  # fmt: skip
    return rows


class PatentNumbers:
    """Patent numbers whose serials rise across the whole catalog, as issued ones do."""

    def __init__(self) -> None:
        self.serial = 100000

    def draw(self, trng: random.Random) -> list[str]:
        ip: list[str] = []
        for _ in range(trng.choice((1, 1, 2))):
            self.serial += trng.randrange(1, 5000)
            kind_digit = trng.choice("1112")
            ip_type = "发明专利" if kind_digit == "1" else "实用新型"
            ip.append(
                f"{ip_type}:{make_patent_number(trng.randrange(2012, 2025), kind_digit, self.serial)}"
            )
        return ip


def _contact_columns(owner: str, code: str) -> list[str]:
    contact_rng = random.Random(_stable_int("contact" + owner + code))
    return [
        _person(contact_rng) + "老师",
        _phone(contact_rng),
        f"tt{_stable_int(code) % 10000}@{_domain(owner)}",
    ]


def technology_rows(docs: list[dict], written: tuple[records.ResultRecord, ...]) -> list[list[str]]:
    """The CSL abstracts, then the results written for the demo (the patent serials run on)."""
    patents = PatentNumbers()
    rows = [_abstract_row(doc, patents) for doc in docs]
    for r in written:
        trng = random.Random(_stable_int("tech" + r.code))
        valid = TODAY + dt.timedelta(days=trng.randrange(300, 900))
        rows.append([
            r.code, r.title, r.owner, r.field, f"{r.abstract}【{r.source}】", "；".join(r.keywords),
            str(r.trl), "；".join(patents.draw(trng)), "；".join(r.modes), r.price, r.team,
            *_contact_columns(r.owner, r.code), "已发布", valid.isoformat(),
        ])  # fmt: skip
    return rows


def _abstract_row(doc: dict, patents: PatentNumbers) -> list[str]:
    """A CSL abstract as a result: applied disciplines are riper and more often patented."""
    trng = random.Random(_stable_int("tech" + doc["id"]))
    owner = supplier_for(doc)
    applied = doc["discipline"] in APPLIED
    trl = trng.choice((4, 5, 5, 6, 6, 7, 8)) if applied else trng.choice((2, 3, 3, 4))
    if applied:
        modes = trng.sample(
            ["转让", "许可", "技术开发", "作价投资", "技术服务"], k=trng.choice((1, 2, 3))
        )
    else:
        modes = trng.sample(["技术咨询", "技术服务"], k=trng.choice((1, 2)))
    ip = patents.draw(trng) if applied and trng.random() < 0.6 else []
    if DISCIPLINE_FIELDS[doc["discipline"]] == "人工智能与软件" and trng.random() < 0.5:
        ip.append(f"软件著作权:{trng.randrange(2015, 2025)}SR{trng.randrange(10**5, 10**6)}")
    price = (
        "面议"
        if trng.random() < 0.45 or not applied
        else str(trng.choice((20, 30, 50, 80, 100, 150, 200, 300, 500, 800)))
    )
    keywords = doc.get("keywords") or []
    team = (keywords[0] + "课题组") if keywords else ""
    valid = TODAY + dt.timedelta(days=trng.randrange(-30, 900))
    return [
        doc["id"], doc["title"], owner, DISCIPLINE_FIELDS[doc["discipline"]], doc["abstract"],
        "；".join(k.replace("；", " ") for k in keywords), str(trl), "；".join(ip), "；".join(modes), price,
        team[:60], *_contact_columns(owner, doc["id"]), "已发布", valid.isoformat(),
    ]  # fmt: skip


def need_rows(enterprises: dict[str, records.Enterprise]) -> list[list[str]]:
    """Every written need, posted by its enterprise; an evaluation need borrows its dataset's text."""
    rows: list[list[str]] = []
    borrowed: dict[str, dict[str, dict]] = {}
    for need in records.needs():
        org = enterprises.get(need.owner)
        if org is None:
            raise ValueError(f"demo need {need.code}: {need.owner} is not in enterprises.jsonl")
        if need.text_from:
            if need.text_from not in borrowed:
                borrowed[need.text_from] = {
                    row["id"]: row for row in load_dev_needs(dataset(need.text_from))
                }
            description = borrowed[need.text_from][need.code]["query"]
            rows.append(_evaluation_need_row(need, org, description))
        elif need.kind == "tech":
            rows.append(_technology_need_row(need, org))
        else:
            rows.append(_financing_need_row(need, org))
    return rows


def _need_contact(owner: str, key: str) -> list[str]:
    crng = random.Random(_stable_int("need-contact" + owner + key))
    return [_person(crng), _phone(crng), f"contact{_stable_int(key) % 1000}@{_domain(owner)}"]


def _evaluation_need_row(
    need: records.NeedRecord, org: records.Enterprise, description: str
) -> list[str]:
    nrng = random.Random(_stable_int(need.code))
    return [
        need.code, need.title, "技术需求", need.owner, description, org.industry, need.field,
        str(nrng.choice((20, 30, 50, 80, 100, 150, 200))), str(nrng.choice((3, 4, 5, 6))), org.province,
        org.city, (TODAY + dt.timedelta(days=nrng.randrange(60, 400))).isoformat(), "公开", "", "", "", "",
        *_need_contact(need.owner, need.code), "已发布",
    ]  # fmt: skip


def _technology_need_row(need: records.NeedRecord, org: records.Enterprise) -> list[str]:
    nrng = random.Random(_stable_int(need.code))
    roll = nrng.random()
    visibility = "仅组织方" if roll < 0.06 else "注册用户" if roll < 0.2 else "公开"
    if need.source:
        visibility = "公开"  # a flagship need is there to be seen
    return [
        need.code, need.title, "技术需求", need.owner, need.description, org.industry, need.field,
        str(nrng.choice((30, 50, 80, 100, 200, 300, 500))), str(nrng.choice((4, 5, 6, 6, 7))), org.province,
        org.city, (TODAY + dt.timedelta(days=nrng.randrange(30, 500))).isoformat(), visibility, "", "", "", "",
        *_need_contact(need.owner, need.code), "已发布",
    ]  # fmt: skip


def _financing_need_row(need: records.NeedRecord, org: records.Enterprise) -> list[str]:
    nrng = random.Random(_stable_int(need.code))
    visibility = "注册用户" if nrng.random() < 0.3 else "公开"
    return [
        need.code, need.title, "融资需求", need.owner, need.description, org.industry, need.field, "", "",
        org.province, org.city, (TODAY + dt.timedelta(days=nrng.randrange(60, 365))).isoformat(), visibility,
        str(need.amount), "股权" if need.financing_type == "equity" else "债权", need.stage, need.use_of_funds,
        *_need_contact(need.owner, need.code), "已发布",
    ]  # fmt: skip


def load_demo(
    engine: Engine,
    *,
    settings: Settings | None = None,
    evaluation: bool = False,
) -> list[ImportReport]:
    """Import the demo organizations, technologies and needs (idempotent: a second run changes
    nothing); ``evaluation=True`` imports the evaluations' corpus (see ``build_files``)."""
    settings = settings or get_settings()
    files = build_files(evaluation=evaluation)
    demo_settings = settings.model_copy(
        update={"import_max_rows": max(settings.import_max_rows, 10_000)}
    )
    reports = []
    for kind, data in (
        ("organizations", files.organizations),
        ("technologies", files.technologies),
        ("needs", files.needs),
    ):
        reports.append(
            import_catalog(
                engine=engine,
                kind=kind,
                data=data,
                filename=f"demo-{kind}.csv",
                settings=demo_settings,
                is_demo=True,
            )
        )
    return reports
