"""CSV import of already-approved sites: all or nothing, every error named, idempotent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
        return import_sites(session, data, calendar=WorkCalendar(), placement_days=5, now=NOW)


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
        "source": "imported",
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
