"""Import of sites whose badge was issued before badgewatch existed, from an office's CSV file.

The file is UTF-8 (with or without BOM) or GB18030 -- what Excel saves on a Chinese Windows --
with the header ``unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,
notified_on`` (columns matched by name), optionally followed by any of ``site_code,icp,psb``: the
footer numbers the site registered (网站标识码, ICP 备案编号, 公安机关备案编号), which the crawl
compares with each page's footer, and ``expires_on``, the day the domain's registration expires
(YYYY-MM-DD), which the monitor watches; a file without one of these columns leaves it as it is.
The import is all-or-nothing: every line is checked first and every error is reported with its
line number (as a spreadsheet counts rows: the header is line 1) and column; only a file without
errors writes anything. A site is the same site when
both its identifier and its domain match; importing the same file again changes nothing, and a
changed line updates its site (whose source, issued or imported, is kept).

A file is one encoding. Each line is read as UTF-8 when it is valid UTF-8 and as GB18030
otherwise; a file whose lines disagree (some UTF-8, some GBK: pasted together from two sources)
is refused naming the lines of the rarer encoding, since reading it in either encoding would
garble the others; a line that is neither, a UTF-16 file and cells holding control or invisible
characters (NUL, zero-width spaces, U+FFFD) are refused too.

The file is read once, as a stream, and memory does not grow with it: each line's canonical
values are staged in a private temporary SQLite file, where the checks across lines (a domain or
identifier twice, a unit under two offices) run as queries; the checks against the database and
then the writes go through the staged rows in batches. The caller owns the transaction.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session

from badgewatch import domains, localtime
from badgewatch.domains import FieldInvalid
from store.models import Office, Site, SiteSource, Unit
from workflow import fields
from workflow.fields import UNFIT_RE
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
# Optional columns of the header (and optional values): the registered footer numbers.
FOOTER_COLUMNS: tuple[str, ...] = ("site_code", "icp", "psb")
# Optional columns: the footer numbers and the domain's expiry date.
EXTRA_COLUMNS: tuple[str, ...] = (*FOOTER_COLUMNS, "expires_on")
ALL_COLUMNS = COLUMNS + EXTRA_COLUMNS
HEADER_LINE = 1
BATCH = 500  # staged rows per database query or write
MAX_LINE_BYTES = 1 << 20  # a longer line is refused without being held in memory
CHUNK_BYTES = 1 << 16

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
    *EXTRA_COLUMNS,
)
_SAVE_AS = "请在 Excel 中把整个文件另存为“CSV UTF-8”后重新导入"


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
    return ALL_COLUMNS.index(column) if column in ALL_COLUMNS else len(ALL_COLUMNS)


# --- reading: bytes to lines of text, one encoding per file ----------------------------------


class Encoding(IntEnum):
    """What one line of the file turned out to be."""

    ASCII = 0  # valid in both: says nothing
    UTF8 = 1
    GB18030 = 2
    UNKNOWN = 3  # neither
    TOO_LONG = 4


_NAMES = {Encoding.UTF8: "UTF-8", Encoding.GB18030: "GB18030（GBK）"}
_GB18030_BOM = codecs.BOM_UTF8.decode("utf-8").encode("gb18030")


_EOL = re.compile(rb"\r\n|\r|\n")


def _physical_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The lines of a binary stream with their endings (CR LF, CR or LF, as the csv module
    expects them), read in chunks; ``None`` for a line longer than ``MAX_LINE_BYTES``, which is
    skipped rather than held. Neither UTF-8 nor GB18030 uses these two bytes inside a
    character, so splitting before decoding is safe."""
    rest = b""
    skipping = False
    while chunk := stream.read(CHUNK_BYTES):
        data = rest + chunk
        start = 0
        for match in _EOL.finditer(data):
            if match.end() == len(data) and match.group() == b"\r":
                break  # perhaps the first half of a CR LF split between two chunks
            yield None if skipping else data[start : match.end()]
            skipping = False
            start = match.end()
        rest = data[start:]
        if len(rest) > MAX_LINE_BYTES:
            skipping, rest = True, b""
    if rest or skipping:
        yield None if skipping else rest


class _Lines:
    """The file's lines as text, each decoded on its own, noting what each line was and
    whether it holds a character no cell may hold; a BOM fixes the encoding of the whole file."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.declared: Encoding | None = None
        self._kinds: list[Encoding] = []  # the lines read since the last record was taken
        self._unfit = False

    def __iter__(self) -> Iterator[str]:
        first = True
        for line in _physical_lines(self._stream):
            if line is None:
                self._kinds.append(Encoding.TOO_LONG)
                yield "\n"
                continue
            raw = self._bom(line) if first else line
            first = False
            text, kind = self._decode(raw)
            self._kinds.append(kind)
            ending = 2 if text.endswith("\r\n") else 1 if text.endswith(("\r", "\n")) else 0
            if UNFIT_RE.search(text, 0, len(text) - ending):
                self._unfit = True
            yield text

    def _bom(self, raw: bytes) -> bytes:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ImportInvalid(
                [
                    LineError(
                        HEADER_LINE,
                        None,
                        "文件是 UTF-16 编码（Excel 的“Unicode 文本”），不是 CSV 文件；" + _SAVE_AS,
                    )
                ]
            )
        if raw.startswith(codecs.BOM_UTF8):
            self.declared = Encoding.UTF8
            return raw[len(codecs.BOM_UTF8) :]
        if raw.startswith(_GB18030_BOM):
            self.declared = Encoding.GB18030
            return raw[len(_GB18030_BOM) :]
        return raw

    def _decode(self, raw: bytes) -> tuple[str, Encoding]:
        if raw.isascii():
            return raw.decode("ascii"), Encoding.ASCII
        if self.declared is not Encoding.GB18030:
            try:
                return raw.decode("utf-8"), Encoding.UTF8
            except UnicodeDecodeError:
                pass
        if self.declared is not Encoding.UTF8:
            try:
                return raw.decode("gb18030"), Encoding.GB18030
            except UnicodeDecodeError:
                pass
        return raw.decode("utf-8", "replace"), Encoding.UNKNOWN

    def take(self) -> tuple[Encoding, bool]:
        """What the lines of the record just read were, together, and whether its cells need
        a look for unfit characters (a cell spanning lines holds a line break)."""
        kinds = set(self._kinds)
        unfit = self._unfit or len(self._kinds) > 1
        self._kinds.clear()
        self._unfit = False
        for worst in (Encoding.TOO_LONG, Encoding.UNKNOWN):
            if worst in kinds:
                return worst, unfit
        kinds.discard(Encoding.ASCII)
        if len(kinds) > 1:
            return Encoding.UNKNOWN, unfit
        return (kinds.pop() if kinds else Encoding.ASCII), unfit


def _unreadable(kind: Encoding, declared: Encoding | None) -> str:
    if kind is Encoding.TOO_LONG:
        return f"本行超过 {MAX_LINE_BYTES // (1 << 20)} MB，不是网站信息；请检查文件是否正确"
    if declared is not None:
        return (
            f"本行不是 {_NAMES[declared]} 编码，而文件开头的字节顺序标记（BOM）表明整个文件是"
            f" {_NAMES[declared]}；" + _SAVE_AS
        )
    return "本行的编码无法识别（既不是 UTF-8 也不是 GB18030/GBK）；" + _SAVE_AS


# --- checking one line -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One line whose every field passed on its own; canonical values. Staged as a tuple in
    this order."""

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
    site_code: str | None = None
    icp: str | None = None
    psb: str | None = None
    expires_on: date | None = None

    def staged(self) -> tuple[Any, ...]:
        return (
            self.line, self.unit, self.office, self.name, self.domain, self.english_domain,
            self.ipv4, self.ipv6, self.identifier, self.certificate,
            self.notified_on.isoformat(), self.placement_due.isoformat(),
            self.site_code, self.icp, self.psb,
            self.expires_on.isoformat() if self.expires_on else None,
        )

    @classmethod
    def from_staged(cls, values: Sequence[Any]) -> _Row:
        line, unit, office, name, domain, english, ipv4, ipv6, identifier, cert = values[:10]
        site_code, icp, psb, expires_on = values[12:16]
        return cls(
            line, unit, office, name, domain, english, ipv4, ipv6, identifier, cert,
            date.fromisoformat(values[10]), date.fromisoformat(values[11]), site_code, icp, psb,
            date.fromisoformat(expires_on) if expires_on else None,
        )


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
    "domain": _required(domains.gov_domain),
    "english_domain": domains.english_domain,
    "ipv4": _required(fields.ipv4),
    "ipv6": fields.ipv6,
    "site_id": _required(fields.identifier),
    "certificate": fields.certificate,
    "site_code": lambda value: fields.footer_number("site_code", value),
    "icp": lambda value: fields.footer_number("icp", value),
    "psb": lambda value: fields.footer_number("psb", value),
    "expires_on": lambda value: fields.expiry_date(value).isoformat(),
}


class _Staging:
    """The checked rows and the encoding of each non-ASCII line, in a private temporary SQLite
    file (deleted when closed) that spills to disk instead of growing in memory."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -8192;
            CREATE TABLE rows (
                line INTEGER PRIMARY KEY, unit TEXT, office TEXT, name TEXT, domain TEXT,
                english_domain TEXT, ipv4 TEXT, ipv6 TEXT, identifier TEXT, certificate TEXT,
                notified_on TEXT, placement_due TEXT, site_code TEXT, icp TEXT, psb TEXT,
                expires_on TEXT);
            CREATE TABLE encodings (line INTEGER PRIMARY KEY, kind INTEGER);
            """
        )
        self._rows: list[tuple[Any, ...]] = []
        self._encodings: list[tuple[int, int]] = []
        self.count = 0

    def row(self, row: _Row) -> None:
        self._rows.append(row.staged())
        self.count += 1
        if len(self._rows) >= BATCH:
            self.flush()

    def encoding(self, line: int, kind: Encoding) -> None:
        self._encodings.append((line, int(kind)))
        if len(self._encodings) >= BATCH:
            self.flush()

    def flush(self) -> None:
        self.db.executemany(f"INSERT INTO rows VALUES ({', '.join('?' * 16)})", self._rows)
        self.db.executemany("INSERT INTO encodings VALUES (?, ?)", self._encodings)
        self._rows.clear()
        self._encodings.clear()

    def index(self) -> None:
        self.flush()
        self.db.executescript(
            """
            CREATE INDEX ix_domain ON rows (domain, line);
            CREATE INDEX ix_identifier ON rows (identifier, line);
            CREATE INDEX ix_unit ON rows (unit, line);
            """
        )

    def query(self, sql: str, *args: Any) -> Iterator[tuple[Any, ...]]:
        cursor = self.db.execute(sql, args)
        while batch := cursor.fetchmany(BATCH):
            yield from batch

    def first_offices(self, units: set[str]) -> dict[str, tuple[str, int]]:
        """Each unit's office on its first line in the file, and that line."""
        if not units:
            return {}
        # SQLite gives a bare column the value of the row that MIN() picked.
        marks = ", ".join("?" * len(units))
        rows = self.query(
            f"SELECT unit, office, MIN(line) FROM rows WHERE unit IN ({marks}) GROUP BY unit",
            *units,
        )
        return {unit: (office, line) for unit, office, line in rows}

    def batches(self) -> Iterator[list[_Row]]:
        """The staged rows in line order, a batch at a time."""
        last = 0
        while True:
            batch = self.db.execute(
                "SELECT * FROM rows WHERE line > ? ORDER BY line LIMIT ?", (last, BATCH)
            ).fetchall()
            if not batch:
                return
            last = batch[-1][0]
            yield [_Row.from_staged(values) for values in batch]

    def close(self) -> None:
        self.db.close()


class _Checker:
    """Checks the lines one by one as they stream in, then across lines and against the
    database; collects every error."""

    def __init__(
        self,
        session: Session,
        calendar: WorkCalendar,
        placement_days: int,
        today: date,
        staging: _Staging,
    ) -> None:
        self.session = session
        self.calendar = calendar
        self.placement_days = placement_days
        self.today = today
        self.staging = staging
        self.errors: list[LineError] = []
        self.offices: dict[str, int] = dict(session.execute(select(Office.code, Office.id)).all())
        self.office_codes = {office_id: code for code, office_id in self.offices.items()}
        self._due: dict[date, date | UnknownYear] = {}
        self.extra_columns: tuple[str, ...] = ()  # those the file has

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

    # -- the stream ---------------------------------------------------------------------------

    def read(self, stream: IO[bytes]) -> None:
        """Every line checked on its own and staged; nothing is kept in memory but errors."""
        lines = _Lines(stream)
        records = csv.reader(lines)
        positions: dict[str, int] | None = None
        number = 0
        while True:
            try:
                record = next(records)
                problem = None
            except StopIteration:
                break
            except csv.Error as exc:
                record, problem = [], f"CSV 格式错误：{exc}"
            number += 1
            kind, unfit = lines.take()
            if kind in (Encoding.UNKNOWN, Encoding.TOO_LONG):
                self.error(number, None, _unreadable(kind, lines.declared))
                continue
            if kind is not Encoding.ASCII:
                self.staging.encoding(number, kind)
            if problem is not None:
                self.error(number, None, problem)
            elif number == HEADER_LINE:
                positions = self.header(record)
                if positions is None:
                    break
            elif positions is not None and any(cell.strip() for cell in record):
                # Blank lines, as spreadsheets leave them, count but are skipped.
                row = self.line(number, record, positions, unfit=unfit)
                if row is not None:
                    self.staging.row(row)
        if number == 0:
            self.error(HEADER_LINE, None, "文件是空的，第 1 行应为表头")
        elif positions is not None and not self.staging.count and not self.errors:
            self.error(HEADER_LINE + 1, None, "文件只有表头，没有数据")
        self.staging.index()
        self._one_encoding(lines.declared)

    def _one_encoding(self, declared: Encoding | None) -> None:
        """Without a BOM, the lines of the rarer encoding are the ones to name."""
        counts = dict(
            cast(
                Iterable[tuple[int, int]],
                self.staging.query("SELECT kind, COUNT(*) FROM encodings GROUP BY kind"),
            )
        )
        if len(counts) < 2 or declared is not None:
            return
        utf8, gb = counts[Encoding.UTF8], counts[Encoding.GB18030]
        odd, usual = (
            (Encoding.UTF8, Encoding.GB18030) if utf8 < gb else (Encoding.GB18030, Encoding.UTF8)
        )
        message = (
            f"本行是 {_NAMES[odd]} 编码，而文件的其他行是 {_NAMES[usual]} 编码：一个文件只能用"
            "一种编码，混在一起的行无论按哪种编码读取都会变成乱码；" + _SAVE_AS
        )
        for (line,) in self.staging.query(
            "SELECT line FROM encodings WHERE kind = ? ORDER BY line", int(odd)
        ):
            self.error(line, None, message)

    def header(self, header: list[str]) -> dict[str, int] | None:
        names = [name.strip().lower() for name in header]
        missing = [c for c in COLUMNS if c not in names]
        unknown = [n for n in names if n not in ALL_COLUMNS]
        repeated = sorted({n for n in names if n in ALL_COLUMNS and names.count(n) > 1})
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
        self.extra_columns = tuple(c for c in EXTRA_COLUMNS if c in names)
        return {name: names.index(name) for name in (*COLUMNS, *self.extra_columns)}

    def line(
        self, number: int, record: list[str], positions: dict[str, int], *, unfit: bool
    ) -> _Row | None:
        """One record's fields; ``unfit``: some cell holds a character no cell may hold."""
        if len(record) != len(positions):
            self.error(number, None, f"本行有 {len(record)} 列，应为 {len(positions)} 列")
            return None
        values: dict[str, str | None] = dict.fromkeys(EXTRA_COLUMNS)
        refused: set[str] = set()
        for column in positions:
            raw = record[positions[column]]
            try:
                if unfit:
                    fields.plain_text(raw)
                if (column in OPTIONAL or column in EXTRA_COLUMNS) and not raw.strip():
                    values[column] = None
                elif column != "notified_on":
                    values[column] = _VALIDATORS[column](raw)
            except FieldInvalid as exc:
                self.error(number, column, exc.message)
                refused.add(column)
        notified_on, due = None, None
        if "notified_on" not in refused:
            notified_on, due = self._notice(number, record[positions["notified_on"]])
        ok = not refused
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
            site_code=values["site_code"],
            icp=values["icp"],
            psb=values["psb"],
            expires_on=date.fromisoformat(values["expires_on"]) if values["expires_on"] else None,
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
        if notified_on > self.today:
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

    # -- across lines, as queries on the staged rows ------------------------------------------

    def across(self) -> None:
        """The same domain or identifier twice in the file: the later lines name the first."""
        for column, label in (("domain", "域名"), ("identifier", "网站标识代码")):
            for line, value, first in self.staging.query(
                f"SELECT r.line, r.{column}, "  # a column name from the tuple above
                f"(SELECT MIN(f.line) FROM rows f WHERE f.{column} = r.{column}) AS first "
                "FROM rows r WHERE r.line > first ORDER BY r.line"
            ):
                shown = f"“{domains.display_domain(value)}”" if column == "domain" else value
                self.error(
                    line,
                    "domain" if column == "domain" else "site_id",
                    f"{label}{shown}在第 {first} 行和第 {line} 行重复",
                )

    # -- against the database, a batch of staged rows at a time -------------------------------

    def against_database(self) -> None:
        for batch in self.staging.batches():
            names = {row.unit for row in batch}
            units = _units(self.session, names)
            first_office = self.staging.first_offices(names - set(units))
            by_domain, by_identifier = _existing_sites(self.session, batch)
            for row in batch:
                self._unit(row, units, first_office)
                self._existing(row, by_domain, by_identifier)

    def _unit(
        self,
        row: _Row,
        units: dict[str, tuple[int, int]],
        first_office: dict[str, tuple[str, int]],
    ) -> None:
        known = units.get(row.unit)
        if known is not None:
            if known[1] != self.offices[row.office]:
                self.error(
                    row.line,
                    "unit",
                    f"单位“{row.unit}”已登记在编办 {self.office_codes[known[1]]} 下，"
                    f"不能再归入编办 {row.office}",
                )
            return
        office, line = first_office[row.unit]
        if office != row.office:
            self.error(
                row.line,
                "unit",
                f"单位“{row.unit}”在第 {line} 行属于编办 {office}，在第 {row.line} 行却属于编办 "
                f"{row.office}",
            )

    def _existing(
        self,
        row: _Row,
        by_domain: dict[str, _ExistingSite],
        by_identifier: dict[str, _ExistingSite],
    ) -> None:
        domain = by_domain.get(row.domain)
        identifier = by_identifier.get(row.identifier)
        if domain is not None and domain.identifier != row.identifier:
            self.error(
                row.line,
                "domain",
                f"域名“{domains.display_domain(row.domain)}”已登记给另一网站"
                f"（网站标识代码 {domain.identifier}）",
            )
        if identifier is not None and identifier.domain != row.domain:
            self.error(
                row.line,
                "site_id",
                f"网站标识代码 {row.identifier} 已登记给另一网站"
                f"（域名“{domains.display_domain(identifier.domain)}”）",
            )


def _str(value: str | None) -> str:
    assert value is not None
    return value


def _units(session: Session, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Existing units by name: (id, office id)."""
    return {
        name: (unit_id, office_id)
        for unit_id, name, office_id in session.execute(
            select(Unit.id, Unit.name, Unit.office_id).where(Unit.name.in_(list(names)))
        )
    }


def _existing_sites(
    session: Session, batch: list[_Row]
) -> tuple[dict[str, _ExistingSite], dict[str, _ExistingSite]]:
    """The stored sites that share a domain or an identifier with the batch."""
    compared = [getattr(Site, name) for name in _COMPARED]
    by_domain: dict[str, _ExistingSite] = {}
    by_identifier: dict[str, _ExistingSite] = {}
    query = select(Site.id, Site.domain, Site.identifier, *compared).where(
        or_(
            Site.domain.in_([row.domain for row in batch]),
            Site.identifier.in_([row.identifier for row in batch]),
        )
    )
    for values in session.execute(query):
        site = _ExistingSite(values[0], values[1], values[2], tuple(values[3:]))
        by_domain[site.domain] = site
        by_identifier[site.identifier] = site
    return by_domain, by_identifier


def _write(session: Session, checker: _Checker, now: datetime) -> ImportReport:
    """Create missing units and create or update the sites, a batch of staged rows at a time."""
    created = updated = unchanged = 0
    for batch in checker.staging.batches():
        units = _units(session, {row.unit for row in batch})
        new_units = {
            row.unit: checker.offices[row.office] for row in batch if row.unit not in units
        }
        if new_units:
            rows = session.execute(
                insert(Unit).returning(Unit.id, Unit.name),
                [{"name": name, "office_id": office_id} for name, office_id in new_units.items()],
            )
            units.update((name, (unit_id, new_units[name])) for unit_id, name in rows)
        _, existing = _existing_sites(session, batch)
        to_create: list[dict[str, Any]] = []
        to_update: list[dict[str, Any]] = []
        for row in batch:
            values: dict[str, Any] = {
                "unit_id": units[row.unit][0],
                "office_id": checker.offices[row.office],
                "name": row.name,
                "english_domain": row.english_domain,
                "ipv4": row.ipv4,
                "ipv6": row.ipv6,
                "certificate": row.certificate,
                "notified_on": row.notified_on,
                "placement_due": row.placement_due,
                "site_code": row.site_code,
                "icp": row.icp,
                "psb": row.psb,
                "expires_on": row.expires_on,
            }
            site = existing.get(row.identifier)
            for name in EXTRA_COLUMNS:
                if name not in checker.extra_columns:  # not in the file: left as it is
                    values[name] = None if site is None else site.values[_COMPARED.index(name)]
            if site is None:
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
            elif site.values == tuple(values[name] for name in _COMPARED):
                unchanged += 1
            else:
                to_update.append(values | {"id": site.id})
        if to_create:
            # Core, not ORM, insert: the ORM splits rows into one statement per run of rows
            # whose NULL columns differ, which here means nearly one statement per row.
            session.execute(insert(cast(Table, Site.__table__)), to_create)
        if to_update:
            session.execute(update(Site), to_update)
        created += len(to_create)
        updated += len(to_update)
    return ImportReport(created=created, updated=updated, unchanged=unchanged)


def import_sites(
    session: Session,
    source: IO[bytes] | bytes,
    *,
    calendar: WorkCalendar,
    placement_days: int,
    now: datetime,
    zone: ZoneInfo,
) -> ImportReport:
    """Check the whole file (bytes or a binary stream, read once), then create missing units
    and create or update the sites. No notice may be dated after today in ``zone`` (``[calendar]
    timezone``). Raises ``ImportInvalid`` with every error, having written nothing."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with closing(_Staging()) as staging:
        checker = _Checker(
            session, calendar, placement_days, localtime.today(now, zone), staging
        )
        checker.read(stream)
        checker.across()
        checker.against_database()
        if checker.errors:
            raise ImportInvalid(checker.errors)
        return _write(session, checker, now)
