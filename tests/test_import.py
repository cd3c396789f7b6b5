"""CSV import of already-approved sites: all or nothing, every error named, idempotent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.cli.main import cli
from store.db import transaction
from store.models import Site, SiteSource, Unit
from tests.factories import add_offices
from workflow.importer import ImportInvalid, ImportReport, LineError, import_sites
from workflow.workdays import WorkCalendar

HEADER = "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on"
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
BEIJING = ZoneInfo("Asia/Shanghai")
CERT = "0123456789ABCDEF0123456789ABCDEF"

GOOD = "\r\n".join(
    [
        HEADER,
        # Unicode domain, everything filled in.
        f"杭州市数据资源管理局,330100,杭州市数据资源管理局网站,杭州数据.政务,data.hangzhou.example.cn,"
        f"10.0.0.1,2001:DB8::1,CA330000000604258890010,{CERT.lower()},2025-09-30",
        # Punycode domain (西湖.政务), optional fields empty.
        "西湖区人民政府,330106,西湖区人民政府门户网站,XN--N7W729C.xn--zfr164b,,10.0.0.2,,"
        "CA330106000604258890011,,2024-05-06",
        # A second site of the same unit; a quoted name with a comma.
        '杭州市数据资源管理局,330100,"杭州公共数据开放网站,试运行",开放数据.杭州.政务,,10.0.0.3,,'
        "ca330000000604258890012,,2025-01-02",
    ]
)


def _import(sessions: sessionmaker[Session], text: str | bytes) -> ImportReport:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with transaction(sessions) as session:
        return import_sites(
            session, data, calendar=WorkCalendar(), placement_days=5, now=NOW, zone=BEIJING
        )


def _rejected(sessions: sessionmaker[Session], text: str | bytes) -> ImportInvalid:
    with pytest.raises(ImportInvalid) as caught:
        _import(sessions, text)
    return caught.value


def _where(errors: tuple[LineError, ...]) -> set[tuple[int, str | None]]:
    return {(e.line, e.column) for e in errors}


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        sites = session.scalar(select(func.count()).select_from(Site))
        units = session.scalar(select(func.count()).select_from(Unit))
    return sites or 0, units or 0


@pytest.fixture
def offices(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        add_offices(session)


@pytest.fixture
def writes(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE statement sent to the database while the test runs."""
    seen: list[str] = []
    engine = sessions.kw["bind"]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"BADGEWATCH_DATABASE_URL": db_url})


def _listed(db_url: str, *options: str) -> list[dict[str, Any]]:
    result = _cli(db_url, "sites", "list", "--json", *options)
    assert result.exit_code == 0, result.output
    sites: list[dict[str, Any]] = json.loads(result.output)["sites"]
    return sites


@pytest.mark.usefixtures("offices")
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
def test_good_file_imported_and_listed(db_url: str, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes(GOOD.encode(encoding))

    result = _cli(db_url, "sites", "import", str(path))

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "imported: 3 created, 0 updated, 0 unchanged"
    sites = {s["identifier"]: s for s in _listed(db_url)}
    assert sites["CA330000000604258890010"] == {
        "domain": "xn--6rtt7jbwbe2c.xn--zfr164b",
        "domain_display": "杭州数据.政务",
        "name": "杭州市数据资源管理局网站",
        "unit": "杭州市数据资源管理局",
        "office": "330100",
        "identifier": "CA330000000604258890010",
        "certificate": CERT,
        "english_domain": "data.hangzhou.example.cn",
        "ipv4": "10.0.0.1",
        "ipv6": "2001:db8::1",
        "notified_on": "2025-09-30",
        "placement_due": "2025-10-14",  # National Day and Mid-Autumn holidays, 11 Oct worked
        "rereviewed_on": None,
        "source": "imported",
        "expires_on": None,
        "site_code": None,
        "icp": None,
        "psb": None,
    }
    xihu = sites["CA330106000604258890011"]
    assert (xihu["domain"], xihu["domain_display"]) == ("xn--n7w729c.xn--zfr164b", "西湖.政务")
    assert (xihu["english_domain"], xihu["ipv6"], xihu["certificate"]) == (None, None, None)
    assert xihu["placement_due"] == "2024-05-11"  # Saturday 11 May 2024 was a working day
    opendata = sites["CA330000000604258890012"]
    assert opendata["name"] == "杭州公共数据开放网站,试运行"
    assert opendata["domain_display"] == "开放数据.杭州.政务"
    assert [s["identifier"] for s in _listed(db_url, "--office", "330106")] == [
        "CA330106000604258890011"
    ]


@pytest.mark.usefixtures("offices")
def test_import_json_and_units_created_once(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes(GOOD.encode("gb18030"))
    result = _cli(db_url, "sites", "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"created": 3, "updated": 0, "unchanged": 0}
    with sessions() as session:
        units = {u.name: u.office.code for u in session.scalars(select(Unit))}
        sources = set(session.scalars(select(Site.source)))
        monitored = set(session.scalars(select(Site.monitored)))
    assert units == {"杭州市数据资源管理局": "330100", "西湖区人民政府": "330106"}
    assert sources == {SiteSource.IMPORTED}
    assert monitored == {True}


@pytest.mark.usefixtures("offices")
def test_reimport_changes_nothing(
    db_url: str, sessions: sessionmaker[Session], writes: list[str], tmp_path: Path
) -> None:
    assert _import(sessions, GOOD) == ImportReport(created=3, updated=0, unchanged=0)
    before = _listed(db_url)
    writes.clear()

    # The same sites, in the other encoding and with the domains in the other form.
    again = (
        GOOD.replace("杭州数据.政务", "xn--6rtt7jbwbe2c.xn--zfr164b")
        .replace("XN--N7W729C.xn--zfr164b", "西湖.政务")
        .encode("gb18030")
    )
    assert _import(sessions, again) == ImportReport(created=0, updated=0, unchanged=3)
    assert writes == []
    path = tmp_path / "sites.csv"
    path.write_bytes(GOOD.encode("utf-8"))
    result = _cli(db_url, "sites", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "imported: 0 created, 0 updated, 3 unchanged"
    assert writes == []
    assert _listed(db_url) == before


@pytest.mark.usefixtures("offices")
def test_changed_row_updates_its_site(db_url: str, sessions: sessionmaker[Session]) -> None:
    _import(sessions, GOOD)
    changed = GOOD.replace("10.0.0.2,,", "10.0.0.9,::1,").replace(
        "西湖区人民政府门户网站", "西湖区政府网"
    )

    assert _import(sessions, changed) == ImportReport(created=0, updated=1, unchanged=2)

    xihu = {s["identifier"]: s for s in _listed(db_url)}["CA330106000604258890011"]
    assert (xihu["name"], xihu["ipv4"], xihu["ipv6"]) == ("西湖区政府网", "10.0.0.9", "::1")
    assert _counts(sessions) == (3, 2)


@pytest.mark.usefixtures("offices")
def test_bad_lines_reject_the_whole_file(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = "\n".join(
        [
            HEADER,
            "好单位,330100,好网站,好.政务,,10.0.0.1,,CA330000000604258890020,,2025-03-03",
            "单位甲,330100,网站甲,example.com,www example,10.0.0.256,not-v6,CA33,XYZ,2025-02-30",
            ",330100,,乙.政务,,10.0.0.3,,CA330000000604258890022,,",
            "",  # a blank line still counts, as in a spreadsheet
            "单位丙,999999,网站丙,丙.政务,,10.0.0.4,,CA330000000604258890023,,2099-01-05",
            "单位丁,330100,网站丁,丁.政务,,10.0.0.5,,CA330000000604258890024,,2025-03-03,extra",
            "单位戊,330100,网站戊,http://戊.政务/,,,,CA330000000604258890025,,2030-01-01",
        ]
    )
    error = _rejected(sessions, text)

    assert _where(error.errors) == {
        (3, "domain"),
        (3, "english_domain"),
        (3, "ipv4"),
        (3, "ipv6"),
        (3, "site_id"),
        (3, "certificate"),
        (3, "notified_on"),
        (4, "unit"),
        (4, "site_name"),
        (4, "notified_on"),
        (6, "office"),
        (6, "notified_on"),
        (7, None),
        (8, "domain"),
        (8, "ipv4"),
        (8, "notified_on"),
    }
    messages = {(e.line, e.column): e.message for e in error.errors}
    assert "政务" in messages[(3, "domain")]
    assert "IPv4" in messages[(3, "ipv4")]
    assert messages[(4, "unit")] == "必填项，不能为空"
    assert "999999" in messages[(6, "office")]
    assert "2099" in messages[(6, "notified_on")]
    assert "11 列" in messages[(7, None)]
    assert "晚于今天" in messages[(8, "notified_on")]
    assert _counts(sessions) == (0, 0)

    lines = str(error).splitlines()
    assert "16 处错误" in lines[0]
    assert lines[1].startswith("第 3 行 domain：")
    assert "第 7 行：本行有 11 列，应为 10 列" in lines

    path = tmp_path / "bad.csv"
    path.write_bytes(text.encode("gb18030"))
    result = _cli(db_url, "sites", "import", str(path))
    assert result.exit_code == 2
    assert "第 3 行 ipv4：" in result.output
    assert "第 6 行 office：" in result.output
    assert _counts(sessions) == (0, 0)


@pytest.mark.usefixtures("offices")
@pytest.mark.parametrize(
    ("header", "named"),
    [
        (
            "unit,office,site_name,domain,english_domain,ipv4,ipv6,certificate,notified_on",
            ["缺少列 site_id"],
        ),
        (HEADER.replace("ipv6", "ip6") + ",remark", ["缺少列 ipv6", "未知的列 ip6、remark"]),
        (HEADER + ",unit", ["重复的列 unit"]),
    ],
)
def test_bad_header(sessions: sessionmaker[Session], header: str, named: list[str]) -> None:
    line = "单位,330100,网站,好.政务,,10.0.0.1,,CA330000000604258890020,,2025-03-03"
    error = _rejected(sessions, f"{header}\n{line}\n")
    assert _where(error.errors) == {(1, None)}
    for text in named:
        assert text in error.errors[0].message
    assert _counts(sessions) == (0, 0)


def test_empty_and_undecodable_files(sessions: sessionmaker[Session]) -> None:
    assert _where(_rejected(sessions, b"").errors) == {(1, None)}
    assert _where(_rejected(sessions, HEADER + "\n").errors) == {(2, None)}
    garbage = (HEADER + "\n").encode() + b"\xff\xfe\x00\x81\x30\n"
    error = _rejected(sessions, garbage)
    assert _where(error.errors) == {(2, None)}
    assert "编码" in error.errors[0].message


@pytest.mark.usefixtures("offices")
def test_duplicates_within_the_file_name_both_lines(sessions: sessionmaker[Session]) -> None:
    text = "\n".join(
        [
            HEADER,
            "单位甲,330100,网站甲,甲.政务,,10.0.0.1,,CA330000000604258890030,,2025-03-03",
            "单位乙,330100,网站乙,乙.政务,,10.0.0.2,,CA330000000604258890031,,2025-03-03",
            # 甲.政务 again, in punycode; the site id of line 3 in lower case.
            "单位丙,330100,网站丙,XN--TNY.xn--zfr164b,,10.0.0.3,,ca330000000604258890031,,"
            "2025-03-03",
        ]
    )
    error = _rejected(sessions, text)
    assert _where(error.errors) == {(4, "domain"), (4, "site_id")}
    for item in error.errors:
        assert "第 2 行" in item.message or "第 3 行" in item.message
        assert "第 4 行" in item.message
    assert _counts(sessions) == (0, 0)


@pytest.mark.usefixtures("offices")
def test_unknown_office(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    text = f"{HEADER}\n单位,339999,网站,好.政务,,10.0.0.1,,CA330000000604258890020,,2025-03-03\n"
    error = _rejected(sessions, text)
    assert _where(error.errors) == {(2, "office")}
    assert "339999" in error.errors[0].message
    path = tmp_path / "sites.csv"
    path.write_text(text, encoding="utf-8")
    result = _cli(db_url, "sites", "import", str(path))
    assert result.exit_code == 2
    assert "第 2 行 office：" in result.output
    assert _counts(sessions) == (0, 0)


@pytest.mark.usefixtures("offices")
def test_unit_belongs_to_one_office(sessions: sessionmaker[Session]) -> None:
    _import(sessions, GOOD)
    text = "\n".join(
        [
            HEADER,
            # Exists already under 330100.
            "杭州市数据资源管理局,330200,网站,新.政务,,10.0.0.1,,CA330000000604258890040,,2025-03-03",
            # New, but given two offices inside the file.
            "新单位,330100,网站甲,甲.政务,,10.0.0.2,,CA330000000604258890041,,2025-03-03",
            "新单位,330106,网站乙,乙.政务,,10.0.0.3,,CA330000000604258890042,,2025-03-03",
        ]
    )
    error = _rejected(sessions, text)
    assert _where(error.errors) == {(2, "unit"), (4, "unit")}
    messages = {e.line: e.message for e in error.errors}
    assert "330100" in messages[2]
    assert "第 3 行" in messages[4] and "第 4 行" in messages[4]
    assert _counts(sessions) == (3, 2)


@pytest.mark.usefixtures("offices")
def test_site_id_or_domain_of_another_site(sessions: sessionmaker[Session]) -> None:
    _import(sessions, GOOD)
    text = "\n".join(
        [
            HEADER,
            # The id of 杭州数据.政务 with another domain.
            "杭州市数据资源管理局,330100,网站,别的.政务,,10.0.0.1,,CA330000000604258890010,,"
            "2025-03-03",
            # The domain of 西湖.政务 with another id.
            "西湖区人民政府,330106,网站,西湖.政务,,10.0.0.2,,CA330106000604258890099,,2025-03-03",
        ]
    )
    error = _rejected(sessions, text)
    assert _where(error.errors) == {(2, "site_id"), (3, "domain")}
    messages = {e.line: e.message for e in error.errors}
    assert "杭州数据.政务" in messages[2]
    assert "CA330106000604258890011" in messages[3]
    assert _counts(sessions) == (3, 2)


def test_list_unknown_office_is_bad_input(db_url: str) -> None:
    result = _cli(db_url, "sites", "list", "--office", "999999")
    assert result.exit_code == 2
    assert "999999" in result.output


# -- one file, one encoding; no invisible characters; streamed --------------------------------


def _line(n: int, unit: str = "单位", name: str = "网站", domain: str | None = None) -> str:
    return (
        f"{unit}{n},330100,{name}{n},{domain or f'站点{n}.政务'},,10.0.{n // 256}.{n % 256},,"
        f"CA3300000006042588{n:05d},,2025-03-03"
    )


def _mixed(lines: list[tuple[str, str]]) -> bytes:
    """A file whose lines are each in their own encoding: (text, encoding)."""
    return b"".join((text + "\r\n").encode(encoding) for text, encoding in lines)


@pytest.mark.usefixtures("offices")
@pytest.mark.parametrize(
    ("lines", "named"),
    [
        # Mostly UTF-8, one line pasted from a GBK file: read as GB18030, the UTF-8 lines
        # would all be garbled.
        (
            [(HEADER, "ascii")]
            + [(_line(n), "utf-8") for n in range(1, 6)]
            + [(_line(6), "gbk")],
            {7},
        ),
        # Mostly GBK (Excel on a Chinese Windows), two lines from a UTF-8 source.
        (
            [(HEADER, "ascii")]
            + [(_line(n), "utf-8" if n in (2, 5) else "gbk") for n in range(1, 9)],
            {3, 6},
        ),
        # A UTF-8 BOM says the whole file is UTF-8: the one GBK line is named.
        (
            [("\ufeff" + HEADER, "utf-8"), (_line(1), "gbk"), (_line(2), "utf-8")],
            {2},
        ),
    ],
    ids=["utf8-with-gbk-line", "gbk-with-utf8-lines", "utf8-bom-with-gbk-line"],
)
def test_mixed_encodings_are_refused_whole_naming_the_lines(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, lines, named: set[int]
) -> None:
    data = _mixed(lines)
    error = _rejected(sessions, data)
    encoding_errors = {e.line for e in error.errors if "编码" in e.message}
    assert encoding_errors == named
    assert all(e.column is None for e in error.errors if e.line in named)
    assert _counts(sessions) == (0, 0)

    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    result = _cli(db_url, "sites", "import", str(path))
    assert result.exit_code == 2, result.output
    for line in named:
        assert f"第 {line} 行：" in result.output
    assert _counts(sessions) == (0, 0)


@pytest.mark.usefixtures("offices")
def test_every_line_in_no_known_encoding_is_named(sessions: sessionmaker[Session]) -> None:
    lines = [HEADER.encode(), _line(1).encode(), b"\xff\xfe" + _line(2).encode()]
    lines += [_line(3).encode(), _line(4).encode() + b"\x80\x80\xff", _line(5).encode()]
    error = _rejected(sessions, b"\n".join(lines) + b"\n")
    assert {(e.line, e.column) for e in error.errors if "编码" in e.message} == {
        (3, None),
        (5, None),
    }
    assert _counts(sessions) == (0, 0)


def test_utf16_file_is_refused_with_what_to_do(sessions: sessionmaker[Session]) -> None:
    error = _rejected(sessions, (HEADER + "\r\n" + _line(1) + "\r\n").encode("utf-16"))
    assert _where(error.errors) == {(1, None)}
    assert "UTF-16" in error.errors[0].message and "CSV UTF-8" in error.errors[0].message


@pytest.mark.usefixtures("offices")
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_control_and_invisible_characters_in_cells_are_refused(
    sessions: sessionmaker[Session], encoding: str
) -> None:
    text = "\r\n".join(
        [
            HEADER,
            _line(1, unit="单位\x00"),  # a NUL byte
            _line(2, name="网站\x01"),
            _line(3, domain="站\u200b点3.政务"),  # a zero-width space inside the domain
            _line(4, unit="单\ufffd位"),  # already garbled by an earlier conversion
            _line(5).replace("CA", "\x1bCA"),
            _line(6).replace("网站6", '"网站\r\n6"'),  # a line break inside a quoted cell
            _line(7, unit="单位\u202e"),  # a right-to-left override
            _line(8),
        ]
    )
    error = _rejected(sessions, text.encode(encoding))
    # A cell with a line break spans two lines of the file, but one line of the spreadsheet.
    assert _where(error.errors) == {
        (2, "unit"),
        (3, "site_name"),
        (4, "domain"),
        (5, "unit"),
        (6, "site_id"),
        (7, "site_name"),
        (8, "unit"),
    }
    messages = {e.line: e.message for e in error.errors}
    assert "U+0000" in messages[2] and "U+200B" in messages[4] and "U+FFFD" in messages[5]
    assert _counts(sessions) == (0, 0)


@pytest.mark.usefixtures("offices")
def test_a_large_file_is_all_or_nothing_with_every_bad_line_named(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = [(HEADER, "ascii")] + [(_line(n), "utf-8") for n in range(1, 20_001)]
    lines[2] = (_line(2, unit="单位\x00"), "utf-8")
    lines[-1] = (_line(20_000), "gbk")
    path = tmp_path / "big.csv"
    path.write_bytes(_mixed(lines))
    with (
        path.open("rb") as stream,
        pytest.raises(ImportInvalid) as caught,
        transaction(sessions) as session,
    ):
        import_sites(
            session, stream, calendar=WorkCalendar(), placement_days=5, now=NOW, zone=BEIJING
        )
    assert _where(caught.value.errors) == {(3, "unit"), (20_001, None)}
    assert _counts(sessions) == (0, 0)

    lines[2], lines[-1] = (_line(2), "utf-8"), (_line(20_000), "utf-8")
    path.write_bytes(_mixed(lines))
    with path.open("rb") as stream, transaction(sessions) as session:
        report = import_sites(
            session, stream, calendar=WorkCalendar(), placement_days=5, now=NOW, zone=BEIJING
        )
    assert report == ImportReport(created=20_000, updated=0, unchanged=0)
    assert _counts(sessions) == (20_000, 20_000)


@pytest.mark.usefixtures("offices")
@pytest.mark.parametrize(
    ("now", "latest_notice"),
    [
        # 23:30 in Beijing on 2 November is still 15:30 UTC on 2 November.
        (datetime(2026, 11, 2, 15, 30, tzinfo=UTC), "2026-11-02"),
        # 00:30 in Beijing on 3 November is 16:30 UTC on 2 November.
        (datetime(2026, 11, 2, 16, 30, tzinfo=UTC), "2026-11-03"),
    ],
    ids=["23:30-beijing", "00:30-beijing"],
)
def test_a_notice_may_be_dated_today_in_beijing_not_tomorrow(
    sessions: sessionmaker[Session], now: datetime, latest_notice: str
) -> None:
    day = date.fromisoformat(latest_notice)
    text = "\n".join(
        [HEADER, _line(1).replace("2025-03-03", str(day)),
         _line(2).replace("2025-03-03", str(day + timedelta(days=1)))]
    )
    with pytest.raises(ImportInvalid) as caught, transaction(sessions) as session:
        import_sites(
            session, text.encode(), calendar=WorkCalendar(), placement_days=5, now=now,
            zone=BEIJING,
        )
    assert _where(caught.value.errors) == {(3, "notified_on")}
    assert "晚于今天" in caught.value.errors[0].message


@pytest.mark.usefixtures("offices")
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"], ids=["cr", "lf", "crlf"])
def test_any_line_ending(sessions: sessionmaker[Session], encoding: str, ending: str) -> None:
    text = ending.join([HEADER, _line(1), _line(2, name="网站,甲"), _line(3)]) + ending
    text = text.replace("网站,甲2", '"网站,甲2"')
    assert _import(sessions, text.encode(encoding)) == ImportReport(3, 0, 0)
    assert {s["name"] for s in _listed_names(sessions)} == {"网站1", "网站,甲2", "网站3"}


def _listed_names(sessions: sessionmaker[Session]) -> list[dict[str, str]]:
    with sessions() as session:
        return [{"name": name} for name in session.scalars(select(Site.name))]


@pytest.mark.usefixtures("offices")
def test_huge_lines_and_cells_are_named_and_the_lines_after_them_still_checked(
    sessions: sessionmaker[Session],
) -> None:
    text = "\n".join(
        [
            HEADER,
            _line(1),
            _line(2, name="网" * 200_000),  # a cell beyond the csv module's field limit
            _line(3).replace("单位3", ""),
            _line(4, name="站" * 1_000_000),  # a line of 3 MB
            _line(5).replace("单位5", ""),
            _line(6),
        ]
    )
    error = _rejected(sessions, text.encode())
    assert _where(error.errors) == {(3, None), (4, "unit"), (5, None), (6, "unit")}
    assert _counts(sessions) == (0, 0)


# --- the optional footer columns: site_code, icp, psb ---------------------------------------

FOOTER_HEADER = HEADER + ",site_code,icp,psb"
FOOTER_LINE = (
    "西湖区人民政府,330106,西湖区人民政府门户网站,西湖.政务,,10.0.0.2,,"
    "CA330106000604258890011,,2024-05-06"
)


def _footers(sessions: sessionmaker[Session]) -> tuple[str | None, str | None, str | None]:
    with sessions() as session:
        site = session.scalars(select(Site)).one()
        return site.site_code, site.icp, site.psb


@pytest.mark.usefixtures("offices")
def test_footer_columns_imported_canonical(sessions: sessionmaker[Session]) -> None:
    text = "\r\n".join(
        [FOOTER_HEADER,
         FOOTER_LINE + ",BM06000004,京ICP备 05022684号-3,京公网安备 11010202007232号"]
    )
    assert _import(sessions, text) == ImportReport(created=1, updated=0, unchanged=0)
    expected = ("bm06000004", "京ICP备05022684号-3", "京公网安备11010202007232号")
    assert _footers(sessions) == expected
    # the same file again: unchanged; a file without the columns leaves them as they are
    assert _import(sessions, text) == ImportReport(created=0, updated=0, unchanged=1)
    assert _import(sessions, HEADER + "\r\n" + FOOTER_LINE).unchanged == 1
    assert _footers(sessions) == expected
    # a column present and empty clears its value; columns in any order, some only
    cleared = "\r\n".join([HEADER + ",psb,site_code", FOOTER_LINE + ",,1300000065"])
    assert _import(sessions, cleared).updated == 1
    assert _footers(sessions) == ("1300000065", "京ICP备05022684号-3", None)


@pytest.mark.usefixtures("offices")
def test_footer_columns_refused_naming_line_and_column(sessions: sessionmaker[Session]) -> None:
    text = "\r\n".join(
        [
            FOOTER_HEADER,
            FOOTER_LINE + ",86868686,京ICP备05022684号-3,",
            FOOTER_LINE.replace("西湖.政务", "东湖.政务").replace("11,,", "12,,")
            + ",1300000065,05022684,京公网安备110102",
        ]
    )
    error = _rejected(sessions, text)
    assert _where(error.errors) == {(2, "site_code"), (3, "icp"), (3, "psb")}
    assert "第 2 行 site_code：网站标识码应为 10 位数字" in str(error)
    assert "第 3 行 psb：公安机关备案编号格式不正确" in str(error)
    assert _counts(sessions) == (0, 0)
    # a line shorter than its header
    short = _rejected(sessions, "\r\n".join([FOOTER_HEADER, FOOTER_LINE + ",1300000065"]))
    assert "第 2 行：本行有 11 列，应为 13 列" in str(short)


def _expiry(sessions: sessionmaker[Session]) -> date | None:
    with sessions() as session:
        return session.scalars(select(Site)).one().expires_on


@pytest.mark.usefixtures("offices")
def test_expires_on_column_imported_kept_and_cleared(sessions: sessionmaker[Session]) -> None:
    text = "\r\n".join([HEADER + ",expires_on", FOOTER_LINE + ", 2027-03-31 "])
    assert _import(sessions, text).created == 1
    assert _expiry(sessions) == date(2027, 3, 31)
    assert _import(sessions, text).unchanged == 1
    # a file without the column leaves the date as it is
    assert _import(sessions, HEADER + "\r\n" + FOOTER_LINE).unchanged == 1
    assert _expiry(sessions) == date(2027, 3, 31)
    # with the footer columns, in any order; an empty cell clears the date
    both = "\r\n".join([HEADER + ",expires_on,site_code", FOOTER_LINE + ",,1300000065"])
    assert _import(sessions, both).updated == 1
    assert _expiry(sessions) is None


@pytest.mark.usefixtures("offices")
def test_a_bad_expiry_date_is_refused_naming_line_and_column(
    sessions: sessionmaker[Session],
) -> None:
    second = FOOTER_LINE.replace("西湖.政务", "东湖.政务").replace("11,,", "12,,")
    text = "\r\n".join([HEADER + ",expires_on", FOOTER_LINE + ",2027-02-30",
                        second + ",2027-05-06", FOOTER_LINE.replace("西湖.政务", "北湖.政务")
                        .replace("11,,", "13,,") + ",明年"])
    error = _rejected(sessions, text)
    assert _where(error.errors) == {(2, "expires_on"), (4, "expires_on")}
    assert ("第 2 行 expires_on：“2027-02-30”不是有效的日期，请按 YYYY-MM-DD 填写，如 2027-05-06"
            in str(error))
    assert "第 4 行 expires_on：“明年”不是有效的日期" in str(error)
    assert _counts(sessions) == (0, 0)  # nothing saved, not even the good line
