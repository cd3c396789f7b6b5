"""Import of sites whose badge was issued before badgewatch existed, from an office's CSV file.

The file is UTF-8 (with or without BOM) or GB18030 -- what Excel saves on a Chinese Windows --
with the header ``unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,
notified_on`` (columns matched by name). The import is all-or-nothing: every line is checked
first and every error is reported with its line number (as a spreadsheet counts rows: the header
is line 1) and column; only a file without errors writes anything. A site is the same site when
both its identifier and its domain match; importing the same file again changes nothing, and a
changed line updates its site (whose source, issued or imported, is kept).

Everything the checks need is loaded once into dictionaries and the rows are written in bulk,
so ten thousand sites take seconds, not minutes. The caller owns the transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from store.models import Office, Site, SiteSource, Unit
from workflow import fields
from workflow.fields import FieldInvalid
from workflow.workdays import UnknownYear, WorkCalendar

COLUMNS: tuple[str, ...] = (
    "unit",
    "office",
    "site_name",
    "domain",
    "english_domain",
    "ipv4",
    "ipv6",
    "site_id",
    "certificate",
    "notified_on",
)
OPTIONAL = frozenset({"english_domain", "ipv6", "certificate"})
HEADER_LINE = 1

# The site columns an import may change; together they decide "unchanged" or "updated".
_COMPARED = (
    "unit_id",
    "office_id",
    "name",
    "english_domain",
    "ipv4",
    "ipv6",
    "certificate",
    "notified_on",
    "placement_due",
)


@dataclass(frozen=True)
class LineError:
    """One problem: the line as a spreadsheet counts it, the column (None: the whole line)."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"第 {self.line} 行 {self.column}" if self.column else f"第 {self.line} 行"
        return f"{where}：{self.message}"


class ImportInvalid(Exception):
    """The file was rejected whole; ``errors`` lists every bad line and field."""

    def __init__(self, errors: Iterable[LineError]) -> None:
        self.errors: tuple[LineError, ...] = tuple(
            sorted(errors, key=lambda e: (e.line, _column_order(e.column)))
        )
        lines = [f"导入失败：发现 {len(self.errors)} 处错误，未导入任何数据。"]
        lines += [str(error) for error in self.errors]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int


def _column_order(column: str | None) -> int:
    if column is None:
        return -1
    return COLUMNS.index(column) if column in COLUMNS else len(COLUMNS)


def decode(data: bytes) -> str:
    """UTF-8 (strictly, BOM allowed) first, then GB18030; anything else is refused."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030").removeprefix("\ufeff")
        except UnicodeDecodeError:
            line = data[: utf8_error.start].count(b"\n") + 1
            raise ImportInvalid(
                [
                    LineError(
                        line,
                        None,
                        "文件编码无法识别：请在 Excel 中另存为“CSV UTF-8”"
                        "或 GB18030（GBK）编码的 CSV 文件",
                    )
                ]
            ) from None


@dataclass(frozen=True)
class _Row:
    """One line whose every field passed on its own; canonical values."""

    line: int
    unit: str
    office: str
    name: str
    domain: str
    english_domain: str | None
    ipv4: str
    ipv6: str | None
    identifier: str
    certificate: str | None
    notified_on: date
    placement_due: date


@dataclass(frozen=True)
class _ExistingSite:
    id: int
    domain: str
    identifier: str
    values: tuple[Any, ...]


def _required(validator: Callable[[str], str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        fields.required_text(value, max_length=1000)
        return validator(value)

    return check


def _text(max_length: int) -> Callable[[str], str]:
    return lambda value: fields.required_text(value, max_length=max_length)


_VALIDATORS: dict[str, Callable[[str], str]] = {
    "unit": _text(200),
    "office": _text(12),
    "site_name": _text(200),
    "domain": _required(fields.gov_domain),
    "english_domain": fields.english_domain,
    "ipv4": _required(fields.ipv4),
    "ipv6": fields.ipv6,
    "site_id": _required(fields.identifier),
    "certificate": fields.certificate,
}


class _Checker:
    """Validates the lines one by one, then across lines and against the database."""

    def __init__(
        self,
        session: Session,
        calendar: WorkCalendar,
        placement_days: int,
        today: date,
    ) -> None:
        self.calendar = calendar
        self.placement_days = placement_days
        self.latest_notice = today + timedelta(days=1)  # the clock is UTC, China is ahead
        self.errors: list[LineError] = []
        self.offices: dict[str, int] = dict(session.execute(select(Office.code, Office.id)).all())
        self.office_codes = {office_id: code for code, office_id in self.offices.items()}
        self.units: dict[str, tuple[int, int]] = {
            name: (unit_id, office_id)
            for unit_id, name, office_id in session.execute(
                select(Unit.id, Unit.name, Unit.office_id)
            )
        }
        self.by_domain: dict[str, _ExistingSite] = {}
        self.by_identifier: dict[str, _ExistingSite] = {}
        for row in session.execute(
            select(Site.id, Site.domain, Site.identifier, *_compared_columns())
        ):
            site = _ExistingSite(row[0], row[1], row[2], tuple(row[3:]))
            self.by_domain[site.domain] = site
            self.by_identifier[site.identifier] = site
        self._due: dict[date, date | UnknownYear] = {}

    def error(self, line: int, column: str | None, message: str) -> None:
        self.errors.append(LineError(line, column, message))

    def placement_due(self, notified_on: date) -> date:
        due = self._due.get(notified_on)
        if due is None:
            try:
                due = self.calendar.add_workdays(notified_on, self.placement_days)
            except UnknownYear as exc:
                due = exc
            self._due[notified_on] = due
        if isinstance(due, UnknownYear):
            raise due
        return due

    def header(self, header: list[str]) -> dict[str, int] | None:
        names = [name.strip().lower() for name in header]
        missing = [c for c in COLUMNS if c not in names]
        unknown = [n for n in names if n not in COLUMNS]
        repeated = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
        problems = []
        if missing:
            problems.append("缺少列 " + "、".join(missing))
        if unknown:
            problems.append("未知的列 " + "、".join(n or "（空列名）" for n in unknown))
        if repeated:
            problems.append("重复的列 " + "、".join(repeated))
        if problems:
            self.error(
                HEADER_LINE,
                None,
                "表头不正确（" + "；".join(problems) + "），表头应为：" + ",".join(COLUMNS),
            )
            return None
        return {name: names.index(name) for name in COLUMNS}

    def line(self, number: int, record: list[str], positions: dict[str, int]) -> _Row | None:
        if len(record) != len(COLUMNS):
            self.error(number, None, f"本行有 {len(record)} 列，应为 {len(COLUMNS)} 列")
            return None
        values: dict[str, str | None] = {}
        ok = True
        for column, check in _VALIDATORS.items():
            raw = record[positions[column]]
            if column in OPTIONAL and not raw.strip():
                values[column] = None
                continue
            try:
                values[column] = check(raw)
            except FieldInvalid as exc:
                self.error(number, column, exc.message)
                ok = False
        notified_on, due = self._notice(number, record[positions["notified_on"]])
        office = values.get("office")
        if office is not None and office not in self.offices:
            self.error(number, "office", f"编办代码“{office}”不存在，请先添加该编办")
            ok = False
        if not ok or notified_on is None or due is None:
            return None
        return _Row(
            line=number,
            unit=_str(values["unit"]),
            office=_str(office),
            name=_str(values["site_name"]),
            domain=_str(values["domain"]),
            english_domain=values["english_domain"],
            ipv4=_str(values["ipv4"]),
            ipv6=values["ipv6"],
            identifier=_str(values["site_id"]),
            certificate=values["certificate"],
            notified_on=notified_on,
            placement_due=due,
        )

    def _notice(self, number: int, raw: str) -> tuple[date | None, date | None]:
        text = raw.strip()
        if not text:
            self.error(number, "notified_on", "必填项，不能为空")
            return None, None
        try:
            notified_on = date.fromisoformat(text)
        except ValueError:
            self.error(
                number, "notified_on", f"“{raw}”不是有效的日期，请按 YYYY-MM-DD 填写，如 2024-05-06"
            )
            return None, None
        if notified_on > self.latest_notice:
            self.error(number, "notified_on", f"通知日期 {notified_on} 晚于今天")
            return None, None
        try:
            return notified_on, self.placement_due(notified_on)
        except UnknownYear as exc:
            self.error(
                number,
                "notified_on",
                f"工作日历没有 {exc.year} 年的数据，无法计算标识放置期限；"
                f"请运维人员在 [calendar] extra_file 指定的文件中"
                f"添加 [{exc.year}] 年的节假日和调休安排",
            )
            return None, None

    def across(self, rows: list[_Row]) -> None:
        """Duplicates inside the file, units under two offices, conflicts with the database."""
        first_domain: dict[str, int] = {}
        first_identifier: dict[str, int] = {}
        unit_office: dict[str, tuple[str, int]] = {}
        for row in rows:
            seen = first_domain.setdefault(row.domain, row.line)
            if seen != row.line:
                self.error(
                    row.line,
                    "domain",
                    f"域名“{fields.display_domain(row.domain)}”"
                    f"在第 {seen} 行和第 {row.line} 行重复",
                )
            seen = first_identifier.setdefault(row.identifier, row.line)
            if seen != row.line:
                self.error(
                    row.line,
                    "site_id",
                    f"网站标识代码 {row.identifier} 在第 {seen} 行和第 {row.line} 行重复",
                )
            self._unit(row, unit_office)
            self._existing(row)

    def _unit(self, row: _Row, unit_office: dict[str, tuple[str, int]]) -> None:
        known = self.units.get(row.unit)
        if known is not None and known[1] != self.offices[row.office]:
            self.error(
                row.line,
                "unit",
                f"单位“{row.unit}”已登记在编办 {self.office_codes[known[1]]} 下，"
                f"不能再归入编办 {row.office}",
            )
            return
        office, line = unit_office.setdefault(row.unit, (row.office, row.line))
        if office != row.office:
            self.error(
                row.line,
                "unit",
                f"单位“{row.unit}”在第 {line} 行属于编办 {office}，在第 {row.line} 行却属于编办 "
                f"{row.office}",
            )

    def _existing(self, row: _Row) -> None:
        by_domain = self.by_domain.get(row.domain)
        by_identifier = self.by_identifier.get(row.identifier)
        if by_domain is not None and by_domain.identifier != row.identifier:
            self.error(
                row.line,
                "domain",
                f"域名“{fields.display_domain(row.domain)}”已登记给另一网站"
                f"（网站标识代码 {by_domain.identifier}）",
            )
        if by_identifier is not None and by_identifier.domain != row.domain:
            self.error(
                row.line,
                "site_id",
                f"网站标识代码 {row.identifier} 已登记给另一网站"
                f"（域名“{fields.display_domain(by_identifier.domain)}”）",
            )


def _str(value: str | None) -> str:
    assert value is not None
    return value


def _compared_columns() -> list[Any]:
    return [getattr(Site, name) for name in _COMPARED]


def _read_rows(
    session: Session, text: str, *, calendar: WorkCalendar, placement_days: int, today: date
) -> tuple[_Checker, list[_Row]]:
    """Every line checked; raises ``ImportInvalid`` with all errors found, or returns the rows."""
    checker = _Checker(session, calendar, placement_days, today)
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, None)
    if header is None:
        raise ImportInvalid([LineError(HEADER_LINE, None, "文件是空的，第 1 行应为表头")])
    positions = checker.header(header)
    if positions is None:
        raise ImportInvalid(checker.errors)
    rows: list[_Row] = []
    number = HEADER_LINE
    try:
        for number, record in enumerate(records, start=HEADER_LINE + 1):
            if not any(cell.strip() for cell in record):
                continue  # blank lines, as spreadsheets leave them
            row = checker.line(number, record, positions)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        checker.error(number + 1, None, f"CSV 格式错误：{exc}")
    if not rows and not checker.errors:
        checker.error(HEADER_LINE + 1, None, "文件只有表头，没有数据")
    checker.across(rows)
    if checker.errors:
        raise ImportInvalid(checker.errors)
    return checker, rows


def import_sites(
    session: Session,
    data: bytes,
    *,
    calendar: WorkCalendar,
    placement_days: int,
    now: datetime,
) -> ImportReport:
    """Check the whole file, then create missing units and create or update the sites."""
    checker, rows = _read_rows(
        session,
        decode(data),
        calendar=calendar,
        placement_days=placement_days,
        today=now.date(),
    )
    new_units = {
        row.unit: checker.offices[row.office] for row in rows if row.unit not in checker.units
    }
    if new_units:
        created_units = session.execute(
            insert(Unit).returning(Unit.id, Unit.name),
            [{"name": name, "office_id": office_id} for name, office_id in new_units.items()],
        )
        for unit_id, name in created_units:
            checker.units[name] = (unit_id, new_units[name])

    to_create: list[dict[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    unchanged = 0
    for row in rows:
        values: dict[str, Any] = {
            "unit_id": checker.units[row.unit][0],
            "office_id": checker.offices[row.office],
            "name": row.name,
            "english_domain": row.english_domain,
            "ipv4": row.ipv4,
            "ipv6": row.ipv6,
            "certificate": row.certificate,
            "notified_on": row.notified_on,
            "placement_due": row.placement_due,
        }
        existing = checker.by_identifier.get(row.identifier)
        if existing is None:
            to_create.append(
                values
                | {
                    "domain": row.domain,
                    "identifier": row.identifier,
                    "source": SiteSource.IMPORTED,
                    "monitored": True,
                    "created_at": now,
                }
            )
        elif existing.values == tuple(values[name] for name in _COMPARED):
            unchanged += 1
        else:
            to_update.append(values | {"id": existing.id})
    if to_create:
        # Core, not ORM, insert: the ORM splits rows into one statement per run of rows
        # whose NULL columns differ, which here means nearly one statement per row.
        session.execute(insert(cast(Table, Site.__table__)), to_create)
    if to_update:
        session.execute(update(Site), to_update)
    return ImportReport(created=len(to_create), updated=len(to_update), unchanged=unchanged)
