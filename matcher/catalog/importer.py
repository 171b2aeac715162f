"""Validate a whole catalog file, then write all of it or nothing.

Every row is parsed and validated before anything is written; one bad row rejects the file with
every problem listed (row, column, Chinese message). A row with an 编号 updates the record with
that code; without one, the natural key (单位名称, or 所属单位 + 名称) decides, so importing the
same file twice changes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from matcher import listings, services
from matcher.catalog.columns import (
    Column,
    columns_for,
    header_index,
    is_example_row,
    normalize_header,
)
from matcher.catalog.reader import read_table
from matcher.config import Settings, get_settings
from matcher.db import session_scope
from matcher.errors import Conflict, ImportRejected, RowProblem
from matcher.models import (
    InvestorProfileIn,
    Need,
    NeedCreate,
    Organization,
    OrganizationCreate,
    Technology,
    TechnologyCreate,
    utcnow,
)
from matcher.validation import zh_errors

LISTING_KIND = {"technologies": "technology", "needs": "need"}

INVESTOR_ATTRS = ("fields", "stages", "ticket_min", "ticket_max", "regions", "preference")
ACTION_LABELS = {"create": "新增", "update": "更新", "unchanged": "不变"}


@dataclass
class RowResult:
    row: int
    key: str
    action: str  # create / update / unchanged
    values: dict[str, Any]


@dataclass
class ImportReport:
    kind: str
    filename: str
    encoding: str = ""
    rows: list[RowResult] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped_examples: int = 0  # the template's 【示例】 rows, left out

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def created(self) -> int:
        return self.count("create")

    @property
    def updated(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    def summary(self) -> str:
        return (
            f"{self.filename}：共 {len(self.rows)} 行，新增 {self.created}，"
            f"更新 {self.updated}，不变 {self.unchanged}"
        )


@dataclass
class _Planned:
    row: int
    key: str
    create: Any  # OrganizationCreate / TechnologyCreate / NeedCreate
    investor: InvestorProfileIn | None
    owner_id: int | None
    existing_id: int | None


def _map_headers(
    kind: str, headers: list[str], *, owner_fixed: bool
) -> tuple[list[Column | None], list[RowProblem]]:
    index = header_index(kind)
    problems: list[RowProblem] = []
    mapped: list[Column | None] = []
    seen: dict[str, str] = {}
    for raw in headers:
        name = normalize_header(raw)
        if not name:
            mapped.append(None)
            continue
        col = index.get(name)
        if col is None:
            known = "、".join(c.header for c in columns_for(kind))
            problems.append(RowProblem(1, raw, f"未知的列名「{raw}」（可用列：{known}）"))
            mapped.append(None)
            continue
        if col.header in seen:
            problems.append(
                RowProblem(1, raw, f"列「{col.header}」重复出现（与「{seen[col.header]}」）")
            )
        seen[col.header] = raw
        mapped.append(col)
    for col in columns_for(kind):
        if col.required and col.header not in seen and not (owner_fixed and col.attr == "owner"):
            problems.append(RowProblem(1, col.header, f"缺少必填列「{col.header}」"))
    return mapped, problems


def _natural_key(kind: str, values: dict[str, Any], owner_id: int | None) -> str:
    if values.get("code"):
        return (
            f"code:{values['code']}"
            if kind == "organizations"
            else f"code:{owner_id}:{values['code']}"
        )
    if kind == "organizations":
        return f"name:{values.get('name', '')}"
    return f"owner:{owner_id}:title:{values.get('title', '')}"


def _find_existing(
    session: Session, kind: str, values: dict[str, Any], owner_id: int | None
) -> Any:
    model: Any = {"organizations": Organization, "technologies": Technology, "needs": Need}[kind]
    code = values.get("code")
    if code:
        # A listing's code is its owner's own reference: looked up within the owner only, so a
        # file never touches — nor learns of — another organization's records.
        stmt = select(model).where(model.code == code)
        if kind != "organizations":
            stmt = stmt.where(model.owner_id == owner_id)
        found = session.exec(stmt).first()
        if found is not None:
            return found
    if kind == "organizations":
        return session.exec(
            select(Organization).where(Organization.name == values.get("name"))
        ).first()
    return session.exec(
        select(model)
        .where(model.owner_id == owner_id, model.title == values.get("title"))
        .order_by(model.id)
    ).first()


def _same(existing: Any, create: Any, investor: InvestorProfileIn | None, session: Session) -> bool:
    for key, value in create.model_dump().items():
        if getattr(existing, key, None) != value:
            return False
    if investor is not None and isinstance(existing, Organization) and existing.id is not None:
        profile = services.investor_profile(session=session, organization_id=existing.id)
        if profile is None:
            return False
        for key, value in investor.model_dump().items():
            if getattr(profile, key) != value:
                return False
    return True


def _plan(
    session: Session,
    kind: str,
    data: bytes,
    filename: str,
    *,
    owner_id: int | None,
    settings: Settings,
) -> tuple[ImportReport, list[_Planned]]:
    table = read_table(
        data,
        filename,
        max_bytes=settings.max_upload_mb * 1024 * 1024,
        max_rows=settings.import_max_rows,
    )
    report = ImportReport(kind=kind, filename=filename, encoding=table.encoding)
    mapped, header_problems = _map_headers(kind, table.headers, owner_fixed=owner_id is not None)
    if header_problems:
        report.problems = header_problems + table.problems
        return report, []
    if not table.rows:
        report.problems = [
            RowProblem(0, "", "文件没有数据行：第一行为列名，从第二行起每行一条记录"),
            *table.problems,
        ]
        return report, []

    problems = list(table.problems)
    planner = _RowPlanner(session, kind, owner_id)
    planned: list[_Planned] = []
    for row_number, cells in table.rows:
        if is_example_row(mapped, cells):
            report.skipped_examples += 1
            continue
        row_problems, plan = planner.plan(row_number, mapped, cells)
        if plan is not None:
            report.rows.append(plan.result)
            planned.append(plan.planned)
        problems.extend(row_problems)
    if report.skipped_examples and not planned and not problems:
        # the untouched template: its 【示例】 row is not data
        problems.append(RowProblem(0, "", "文件没有数据行：第一行为列名，从第二行起每行一条记录"))
    report.problems = sorted(problems, key=lambda p: (p.row, p.column))
    return report, planned


@dataclass
class _RowPlan:
    result: RowResult
    planned: _Planned


class _RowPlanner:
    """One file's rows, one at a time: parse the cells, find the owner, validate, then check the
    row against the file so far and the database. Every problem of a row is reported in one pass."""

    def __init__(self, session: Session, kind: str, owner_id: int | None) -> None:
        self.session, self.kind = session, kind
        self.attr_header = {c.attr: c.header for c in columns_for(kind)}
        self.fixed_owner = session.get(Organization, owner_id) if owner_id is not None else None
        self.owners: dict[str, Organization | None] = {}
        self.keys_seen: dict[str, int] = {}
        self.credit_seen: dict[str, int] = {}

    def plan(
        self, row_number: int, mapped: list[Any], cells: list[str]
    ) -> tuple[list[RowProblem], _RowPlan | None]:
        values, problems = self._parse(row_number, mapped, cells)
        row_owner_id = self._owner(row_number, values, problems)
        flagged = {p.column for p in problems}
        # Validate what did parse, so one pass reports every problem in the row.
        values = {k: v for k, v in values.items() if self.attr_header.get(k) not in flagged}
        create, investor = None, None
        if values or not problems:
            create, investor = self._validate(row_number, values, problems, flagged)
        if problems or create is None:
            return problems, None
        key = _natural_key(self.kind, values, row_owner_id)
        self._check_repeat(row_number, key, problems)
        existing = _find_existing(self.session, self.kind, values, row_owner_id)
        if existing is not None and create.code is None and existing.code:
            create.code = existing.code  # a file without 编号 keeps the code a record has
        if self.kind == "organizations":
            self._check_organization(row_number, create, existing, problems)
        else:
            self._set_status(row_number, create, existing, "status" in values, problems)
        if problems:
            return problems, None
        action = "create"
        if existing is not None:
            action = "unchanged" if _same(existing, create, investor, self.session) else "update"
        existing_id = existing.id if existing is not None else None
        return problems, _RowPlan(
            RowResult(row_number, key, action, create.model_dump(mode="json")),
            _Planned(row_number, key, create, investor, row_owner_id, existing_id),
        )

    def _parse(
        self, row_number: int, mapped: list[Any], cells: list[str]
    ) -> tuple[dict[str, Any], list[RowProblem]]:
        problems: list[RowProblem] = []
        values: dict[str, Any] = {}
        for col, raw in zip(mapped, cells, strict=False):
            if col is None:
                continue
            raw = _unneutralize(raw)
            if raw == "":
                continue
            try:
                values[col.attr] = col.parse(raw)
            except ValueError as exc:
                problems.append(RowProblem(row_number, col.header, str(exc)))
        for col in columns_for(self.kind):
            missing = col.required and col.attr not in values
            exempt = col.attr == "owner" and self.fixed_owner is not None
            already = any(p.column == col.header for p in problems)
            if missing and not exempt and not already:
                problems.append(RowProblem(row_number, col.header, "必填项为空"))
        return values, problems

    def _owner(
        self, row_number: int, values: dict[str, Any], problems: list[RowProblem]
    ) -> int | None:
        if self.kind == "organizations":
            return None
        owner_name = values.pop("owner", None)
        header = self.attr_header["owner"]
        if self.fixed_owner is not None:
            if owner_name and owner_name != self.fixed_owner.name:
                problems.append(
                    RowProblem(
                        row_number,
                        header,
                        f"只能导入本单位（{self.fixed_owner.name}）的数据，实际为「{owner_name}」",
                    )
                )
            return self.fixed_owner.id
        if not owner_name:
            return None
        if owner_name not in self.owners:
            self.owners[owner_name] = services.organization_by_name(
                session=self.session, name=owner_name
            )
        org = self.owners[owner_name]
        if org is None:
            problems.append(
                RowProblem(row_number, header, f"单位「{owner_name}」不存在：请先导入单位目录")
            )
            return None
        return org.id

    def _validate(
        self,
        row_number: int,
        values: dict[str, Any],
        problems: list[RowProblem],
        flagged: set[str],
    ) -> tuple[Any, InvestorProfileIn | None]:
        investor: InvestorProfileIn | None = None
        try:
            if self.kind == "organizations":
                inv_values = {k: values.pop(k) for k in INVESTOR_ATTRS if k in values}
                create: Any = OrganizationCreate(**values)
                if create.kind == "investor":
                    investor = InvestorProfileIn(**inv_values)
                elif inv_values:
                    first = self.attr_header[next(iter(inv_values))]
                    problems.append(RowProblem(row_number, first, "只有投资机构可以填写投资偏好"))
            elif self.kind == "technologies":
                create = TechnologyCreate(**values)
            else:
                create = NeedCreate(**values)
        except ValidationError as exc:
            for attr, message in zh_errors(exc):
                column = self.attr_header.get(attr, "")
                if column in flagged:
                    continue
                problems.append(RowProblem(row_number, column, message))
                flagged.add(column)
            return None, None
        return create, investor

    def _check_repeat(self, row_number: int, key: str, problems: list[RowProblem]) -> None:
        if key not in self.keys_seen:
            self.keys_seen[key] = row_number
            return
        header = self.attr_header
        column = (
            header["code"]
            if key.startswith("code:")
            else header.get("name", header.get("title", ""))
        )
        problems.append(RowProblem(row_number, column, f"与第 {self.keys_seen[key]} 行重复"))

    def _check_organization(
        self, row_number: int, create: Any, existing: Any, problems: list[RowProblem]
    ) -> None:
        if create.credit_code:
            header = self.attr_header["credit_code"]
            if create.credit_code in self.credit_seen:
                problems.append(
                    RowProblem(
                        row_number,
                        header,
                        f"统一社会信用代码与第 {self.credit_seen[create.credit_code]} 行重复",
                    )
                )
            self.credit_seen[create.credit_code] = row_number
            holder = self.session.exec(
                select(Organization).where(Organization.credit_code == create.credit_code)
            ).first()
            if holder is not None and (existing is None or holder.id != existing.id):
                problems.append(
                    RowProblem(row_number, header, f"统一社会信用代码已被「{holder.name}」使用")
                )
        if existing is not None and existing.name != create.name:
            clash = services.organization_by_name(session=self.session, name=create.name)
            if clash is not None and clash.id != existing.id:
                problems.append(
                    RowProblem(
                        row_number,
                        self.attr_header["name"],
                        f"单位名称「{create.name}」已被其他单位使用",
                    )
                )

    def _set_status(
        self,
        row_number: int,
        create: Any,
        existing: Any,
        status_given: bool,
        problems: list[RowProblem],
    ) -> None:
        if existing is not None and not status_given:
            create.status = existing.status  # a file without 状态 keeps the state
        elif self.fixed_owner is not None:
            # an organization's own import follows the same rules as its pages
            try:
                create.status = listings.owner_status(
                    LISTING_KIND[self.kind], existing.status if existing else None, create.status
                )
            except Conflict as exc:
                problems.append(
                    RowProblem(row_number, self.attr_header.get("status", ""), exc.message)
                )


def _unneutralize(raw: str) -> str:
    """Undo the apostrophe our exports put before = + - @ so a round trip keeps the text."""
    if len(raw) > 1 and raw[0] == "'" and raw[1] in "=+-@\t\r":
        return raw[1:]
    return raw


def preview_catalog(
    *,
    engine: Engine,
    kind: str,
    data: bytes,
    filename: str,
    owner_id: int | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Validate without writing; the report lists each row's action and every problem."""
    columns_for(kind)
    try:
        with session_scope(engine, write=False) as session:
            report, _ = _plan(
                session,
                kind,
                data,
                filename,
                owner_id=owner_id,
                settings=settings or get_settings(),
            )
    except ImportRejected as exc:
        return ImportReport(kind=kind, filename=filename, problems=exc.problems)
    return report


def import_catalog(
    *,
    engine: Engine,
    kind: str,
    data: bytes,
    filename: str,
    owner_id: int | None = None,
    actor_id: int | None = None,
    settings: Settings | None = None,
    is_demo: bool = False,
) -> ImportReport:
    """Import the whole file in one transaction, or raise ImportRejected and write nothing."""
    columns_for(kind)
    settings = settings or get_settings()
    with session_scope(engine, write=True) as session:
        report, planned = _plan(session, kind, data, filename, owner_id=owner_id, settings=settings)
        if report.problems:
            raise ImportRejected(problems=report.problems, filename=filename)
        actions = {r.row: r.action for r in report.rows}
        for item in planned:
            if actions[item.row] == "unchanged":
                continue
            # an organization's own import waits in the review queue; the operators' CLI is trusted
            _apply(
                session, kind, item, is_demo=is_demo, actor_id=actor_id, reviewed=owner_id is None
            )
        services.audit(
            session=session,
            action="catalog.import",
            actor_id=actor_id,
            object_type=kind,
            detail={
                "file": filename,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
        )
    return report


def _apply(
    session: Session,
    kind: str,
    item: _Planned,
    *,
    is_demo: bool,
    actor_id: int | None = None,
    reviewed: bool = True,
) -> None:
    if kind == "organizations":
        existing = session.get(Organization, item.existing_id) if item.existing_id else None
        services.save_organization(
            session=session,
            data=item.create,
            investor=item.investor,
            existing=existing,
            is_demo=is_demo,
        )
    elif kind == "technologies":
        assert item.owner_id is not None
        tech = session.get(Technology, item.existing_id) if item.existing_id else None
        saved = services.save_technology(
            session=session, data=item.create, owner_id=item.owner_id, existing=tech
        )
        if tech is None:
            saved.created_by = actor_id
        saved.reviewed_at = utcnow() if reviewed else None
    else:
        assert item.owner_id is not None
        need = session.get(Need, item.existing_id) if item.existing_id else None
        saved_need = services.save_need(
            session=session, data=item.create, owner_id=item.owner_id, existing=need
        )
        if need is None:
            saved_need.created_by = actor_id
        saved_need.reviewed_at = utcnow() if reviewed else None
