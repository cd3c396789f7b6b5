"""Re-review (已开办网站复核) on both databases: it names a site of its unit, runs the same steps,
keeps the site's identifier when approved and leaves the site as it was when rejected; and the
claims refused (a new site for a domain with a badge, a re-review of no site, a domain held by
another unit, a second open application), each in words, nothing saved."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from badgewatch.domains import gov_domain
from store.db import make_engine, transaction
from store.migrate import alembic_config, upgrade
from store.models import (
    Application,
    AppState,
    Counter,
    MonitorState,
    Office,
    OutboxMessage,
    Site,
    SiteSource,
    Unit,
)
from tests.factories import form_data
from tests.test_workflow import CONAC, OFFICE, T0, UNIT
from workflow.documents import render_form
from workflow.errors import PermissionDenied
from workflow.form import FormInvalid, parse_form
from workflow.issuance import BADGE_NUMBER_COUNTER
from workflow.service import Actor, Workflow, changing, describe

OTHER_UNIT = Actor.parse("unit:杭州市卫生健康委员会")
T1 = datetime(2026, 11, 18, 17, 30, tzinfo=UTC)  # Thursday 11-19 01:30 in Beijing
DOMAIN = "杭州数据.政务"


def _data(kind: str = "new", unit: str | None = None, **site: Any) -> dict[str, Any]:
    data = form_data(**site)
    data["kind"] = kind
    if unit is not None:
        data["unit"]["name"] = unit
    return data


def _create(sessions, wf: Workflow, data: dict[str, Any], actor: Actor = UNIT) -> int:
    form = parse_form(data, resolver=None)
    with transaction(sessions) as session:
        return wf.create(session, form, actor, T0).id


def _do(sessions, app_id, action, *args, at=T0, **kwargs) -> AppState:
    with changing(sessions, app_id) as session:
        return action(session, app_id, *args, at, **kwargs).state


def _through(sessions, wf: Workflow, app_id: int, actor: Actor = UNIT, at=T0) -> AppState:
    _do(sessions, app_id, wf.submit, actor, at=at)
    _do(sessions, app_id, wf.review, OFFICE, approve=True, at=at)
    _do(sessions, app_id, wf.review, CONAC, approve=True, at=at)
    return _do(sessions, app_id, wf.materials, OFFICE, confirm=True, at=at)


def _issued(sessions, wf: Workflow, domain: str = DOMAIN, actor: Actor = UNIT,
            unit: str | None = None) -> tuple[int, str]:
    """A site issued through the workflow: its id and identifier."""
    app_id = _create(sessions, wf, _data(domain=domain, unit=unit), actor)
    assert _through(sessions, wf, app_id, actor) is AppState.ISSUED
    with transaction(sessions) as session:
        site = session.scalars(select(Site).where(Site.domain == gov_domain(domain))).one()
        return site.id, site.identifier


def _compliant(sessions, site_id: int) -> dict[str, Any]:
    """Mark the site compliant, as the monitor would after a crawl; return what it holds."""
    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        site.state = MonitorState.COMPLIANT
        site.state_since = T0 + timedelta(days=3)
        site.ever_compliant = True
    return _snapshot(sessions, site_id)


def _snapshot(sessions, site_id: int) -> dict[str, Any]:
    with transaction(sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        return {
            key: getattr(site, key)
            for key in ("name", "domain", "ipv4", "identifier", "certificate", "notified_on",
                        "placement_due", "state", "state_since", "rereviewed_on", "monitored")
        }


def _counts(sessions) -> tuple[int, int, int]:
    with transaction(sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(Application)) or 0,
            session.scalar(select(func.count()).select_from(Site)) or 0,
            session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
        )


def _outbox(sessions, prefix: str) -> list[OutboxMessage]:
    with transaction(sessions) as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.key.startswith(prefix))
            .order_by(OutboxMessage.channel)
        ).all()
        session.expunge_all()
        return list(rows)


def _refused(call, *args) -> dict[str, str]:
    with pytest.raises(FormInvalid) as raised:
        call(*args)
    return {error.field: error.message for error in raised.value.errors}


# -- approval -----------------------------------------------------------------------------------


def test_approved_rereview_keeps_the_identifier_and_records_the_day(sessions, wf) -> None:
    site_id, identifier = _issued(sessions, wf)
    before = _compliant(sessions, site_id)
    with transaction(sessions) as session:
        numbers = session.get(Counter, BADGE_NUMBER_COUNTER)
        assert numbers is not None
        counted = numbers.value

    # Named by its domain (Unicode); stored by its identifier.
    app_id = _create(sessions, wf, _data("rereview", name="杭州市数据资源管理局门户网站",
                                         ipv4="127.0.0.22", identifier=DOMAIN))
    with transaction(sessions) as session:
        application = session.get(Application, app_id)
        assert application is not None
        assert application.rereview_site_id == site_id
        assert application.form["site"]["identifier"] == identifier
    assert _through(sessions, wf, app_id, at=T1) is AppState.ISSUED

    after = _snapshot(sessions, site_id)
    # The same badge: no new number, the same certificate; the deadline and the monitor's
    # standing of a compliant site untouched; the details are the form's.
    for key in ("identifier", "certificate", "notified_on", "placement_due", "state",
                "state_since", "domain", "monitored"):
        assert after[key] == before[key], key
    assert after["state"] is MonitorState.COMPLIANT
    assert after["name"] == "杭州市数据资源管理局门户网站"
    assert after["ipv4"] == "127.0.0.22"
    assert after["rereviewed_on"] == date(2026, 11, 19)  # the day in Beijing, not UTC's 18th
    with transaction(sessions) as session:
        numbers = session.get(Counter, BADGE_NUMBER_COUNTER)
        assert numbers is not None and numbers.value == counted
        assert session.scalar(select(func.count()).select_from(Site)) == 1
        data = describe(wf.get(session, app_id), zone=wf.config.calendar.zone)
        printed = render_form(wf.get(session, app_id), zone=wf.config.calendar.zone)
    assert f"复核的已开办网站（网站标识）</th><td>{identifier}<" in printed
    assert "申请类型：已开办网站复核" in printed
    assert data["kind"] == "rereview" and data["rereview_site"] == identifier
    assert data["badge"]["identifier"] == identifier
    assert data["badge"]["rereviewed_on"] == "2026-11-19"

    # 复核通过: one email and one SMS, with the same code.
    email, sms = _outbox(sessions, f"rereview-approved:{app_id}:")
    assert (email.channel, sms.channel) == ("email", "sms")
    assert email.subject is not None and "复核通过" in email.subject
    assert identifier in email.body and f"{identifier}.js" in email.body
    assert "2026年11月19日" in email.body and data["serial"] in email.body
    assert "复核通过" in sms.body and identifier in sms.body
    assert email.recipient == "handler@hz.example.cn" and sms.recipient == "+8613905710001"
    # The issuance notice of the first application is the only other one: nothing issued twice.
    keys = {m.key.split(":")[0] for m in _outbox(sessions, "")}
    assert keys == {"badge-issued", "rereview-approved"}
    assert len(_outbox(sessions, "badge-issued")) == 2


def test_rereview_by_identifier_and_again_later(sessions, wf) -> None:
    """A site may be re-reviewed again once the first re-review is done; the later date wins."""
    site_id, identifier = _issued(sessions, wf)
    first = _create(sessions, wf, _data("rereview", identifier=identifier.lower()))
    _through(sessions, wf, first, at=T0 + timedelta(days=1))
    second = _create(sessions, wf, _data("rereview", identifier=identifier))
    _through(sessions, wf, second, at=T1)
    after = _snapshot(sessions, site_id)
    assert after["identifier"] == identifier and after["rereviewed_on"] == date(2026, 11, 19)
    assert len(_outbox(sessions, "rereview-approved")) == 4


# -- rejection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["office", "conac", "materials"])
def test_rejected_rereview_leaves_the_site(sessions, wf, step: str) -> None:
    site_id, identifier = _issued(sessions, wf)
    before = _compliant(sessions, site_id)
    app_id = _create(sessions, wf, _data("rereview", name="改过的名称", identifier=identifier))
    _do(sessions, app_id, wf.submit, UNIT, at=T1)
    reason = "网站名称与批准的不一致"
    if step == "office":
        state = _do(sessions, app_id, wf.review, OFFICE, approve=False, reason=reason, at=T1)
    else:
        _do(sessions, app_id, wf.review, OFFICE, approve=True, at=T1)
        if step == "conac":
            state = _do(sessions, app_id, wf.review, CONAC, approve=False, reason=reason, at=T1)
        else:
            _do(sessions, app_id, wf.review, CONAC, approve=True, at=T1)
            state = _do(sessions, app_id, wf.materials, OFFICE, confirm=False, reason=reason,
                        at=T1)
    assert state.value.endswith("rejected")
    assert _snapshot(sessions, site_id) == before  # name, badge, deadline, state: as they were
    email, sms = _outbox(sessions, f"app-rejected:{app_id}:")
    assert "已开办网站复核申请" in email.body and "已开办网站复核" in email.body
    assert f"网站现有标识（{identifier}）保持不变" in email.body and reason in email.body
    assert "已开办网站复核" in sms.body and reason in sms.body
    assert not _outbox(sessions, "rereview-approved")
    # The office still has it, and the unit edits and resubmits it (same site).
    with transaction(sessions) as session:
        application = wf.get(session, app_id, OFFICE)
        assert application.rereview_site_id == site_id
        assert application.kind.value == "rereview"
    assert _do(sessions, app_id, wf.submit, UNIT, at=T1) is AppState.SUBMITTED


# -- refusals -----------------------------------------------------------------------------------


def test_new_application_for_a_domain_with_a_badge_suggests_rereview(sessions, wf) -> None:
    _, identifier = _issued(sessions, wf)
    counts = _counts(sessions)
    # In the other spelling of the domain too.
    for domain in (DOMAIN, gov_domain(DOMAIN)):
        errors = _refused(_create, sessions, wf, _data(domain=domain))
        assert set(errors) == {"site.domain"}
        assert f"已发放网站标识（{identifier}）" in errors["site.domain"]
        assert "已开办网站复核" in errors["site.domain"]
    assert _counts(sessions) == counts


def test_new_application_for_a_site_stored_in_unicode_is_refused(sessions, wf) -> None:
    """An imported site whose domain was stored in its Unicode form still holds the domain."""
    with transaction(sessions) as session:
        unit = Unit(name="杭州市卫生健康委员会", office_id=_office_id(session))
        session.add(unit)
        session.flush()
        session.add(Site(unit_id=unit.id, office_id=unit.office_id, name="卫健委网站",
                         domain=DOMAIN, ipv4="127.0.0.21",
                         identifier="CA330010000600099990001", source=SiteSource.IMPORTED,
                         created_at=T0))
    counts = _counts(sessions)
    errors = _refused(_create, sessions, wf, _data())
    assert "已登记在其他单位名下" in errors["site.domain"]
    assert _counts(sessions) == counts


def _office_id(session: Session) -> int:
    office = session.scalars(select(Office).where(Office.code == "330100")).one()
    return office.id


def test_rereview_of_no_site_is_refused(sessions, wf) -> None:
    counts = _counts(sessions)
    for reference in ("CA330010000999999990001", DOMAIN):
        errors = _refused(_create, sessions, wf, _data("rereview", identifier=reference))
        assert "只能复核本单位已发放网站标识的网站" in errors["site.identifier"]
        assert "新开办网站申请" in errors["site.identifier"]
    assert _counts(sessions) == counts


def test_rereview_must_keep_the_sites_domain(sessions, wf) -> None:
    _, identifier = _issued(sessions, wf)
    errors = _refused(_create, sessions, wf,
                      _data("rereview", domain="别的名字.政务", identifier=identifier))
    assert errors == {"site.domain": "复核申请的中文域名应为所复核网站的域名 杭州数据.政务"}


def test_domain_held_by_another_unit(sessions, wf) -> None:
    other = "杭州市卫生健康委员会"
    _, identifier = _issued(sessions, wf, actor=OTHER_UNIT, unit=other)
    counts = _counts(sessions)
    errors = _refused(_create, sessions, wf, _data())
    assert errors["site.domain"].startswith("域名 杭州数据.政务 已登记在其他单位名下")
    # Nor may it re-review the other unit's site, by identifier or domain.
    for reference in (identifier, DOMAIN):
        errors = _refused(_create, sessions, wf, _data("rereview", identifier=reference))
        assert "已登记在其他单位名下" in errors["site.domain"]
        assert "本单位没有" in errors["site.identifier"]
    assert _counts(sessions) == counts


def test_domain_with_an_open_application_of_another_unit(sessions, wf) -> None:
    other = _create(sessions, wf, _data(unit="杭州市卫生健康委员会"), OTHER_UNIT)
    # A draft claims nothing yet: the unit may draft its own.
    mine = _create(sessions, wf, _data())
    _do(sessions, other, wf.submit, OTHER_UNIT)
    counts = _counts(sessions)
    errors = _refused(_create, sessions, wf, _data())
    assert errors == {"site.domain": "域名 杭州数据.政务 正由其他单位申请办理中，不能为本单位申请"}
    # Refused at submit too: the draft stays a draft, without a serial.
    errors = _refused(_do, sessions, mine, wf.submit, UNIT)
    assert "正由其他单位申请办理中" in errors["site.domain"]
    with transaction(sessions) as session:
        application = session.get(Application, mine)
        assert application is not None
        assert (application.state, application.serial) == (AppState.DRAFT, None)
    assert _counts(sessions) == counts


def test_second_open_application_names_the_first(sessions, wf) -> None:
    first = _create(sessions, wf, _data())
    second = _create(sessions, wf, _data(name="第二份申请"))  # two drafts may exist
    _do(sessions, first, wf.submit, UNIT)
    _do(sessions, first, wf.review, OFFICE, approve=False, reason="材料不全")
    with transaction(sessions) as session:
        serial = session.get(Application, first).serial  # type: ignore[union-attr]
    assert serial
    counts = _counts(sessions)
    expected = (f"域名 杭州数据.政务 已有办理中的申请（申请序号 {serial}），不能重复申请；"
                "请修改该申请后重新提交")
    # Rejected and waiting for its resubmission, it still holds the domain: at submit,
    assert _refused(_do, sessions, second, wf.submit, UNIT) == {"site.domain": expected}
    # at create, and at update (in the ASCII spelling too).
    assert _refused(_create, sessions, wf, _data(domain=gov_domain(DOMAIN))) == {
        "site.domain": expected
    }
    with transaction(sessions) as session:
        third = wf.create(session, parse_form(_data(domain="别处.政务"), resolver=None),
                          UNIT, T0).id
    with pytest.raises(FormInvalid) as raised, changing(sessions, third) as session:
        wf.update(session, third, parse_form(_data(), resolver=None), UNIT, T0)
    assert str(raised.value) == f"中文域名（site.domain）：{expected}"
    with transaction(sessions) as session:
        application = session.get(Application, third)
        assert application is not None and application.domain == gov_domain("别处.政务")
        assert session.get(Application, second).state is AppState.DRAFT  # type: ignore[union-attr]
    # The first one itself resubmits fine.
    assert _do(sessions, first, wf.submit, UNIT) is AppState.SUBMITTED
    assert _counts(sessions)[1:] == counts[1:]


def test_messages_quote_the_serial(sessions, wf) -> None:
    app_id = _create(sessions, wf, _data())
    _do(sessions, app_id, wf.submit, UNIT)
    with transaction(sessions) as session:
        serial = session.get(Application, app_id).serial  # type: ignore[union-attr]
    with pytest.raises(PermissionDenied) as raised, changing(sessions, app_id) as session:
        wf.update(session, app_id, parse_form(_data(), resolver=None), UNIT, T0)
    assert str(raised.value).startswith(f"申请 {serial} 当前状态为“待编办审核”，不能修改")
    with pytest.raises(PermissionDenied) as raised, transaction(sessions) as session:
        wf.get(session, app_id, Actor.parse("office:330200"))
    assert f"不是申请 {serial} 的同级机构编制部门" in str(raised.value)


# -- the migration ------------------------------------------------------------------------------

PREVIOUS_HEAD = "a9d4e6b2c710"  # the revision before a9c4e1b7d352


def test_migration_links_stored_rereviews_to_their_site_and_goes_back(empty_db_url: str) -> None:
    upgrade(empty_db_url, PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO offices (id, code, name, level) VALUES (1, '330100', '杭州市委编办',"
            " 'prefecture')"
        ))
        conn.execute(sa.text(
            "INSERT INTO units (id, name, office_id) VALUES (1, '杭州市数据资源管理局', 1),"
            " (2, '杭州市卫生健康委员会', 1)"
        ))
        conn.execute(
            sa.text(
                "INSERT INTO sites (id, unit_id, office_id, name, domain, ipv4, identifier,"
                " source, monitored, created_at, status, state, ever_compliant) VALUES"
                " (1, 1, 1, '网站', :domain, '127.0.0.21', 'CA330010000600000010001',"
                " 'issued', true, :now, 'unchecked', 'unchecked', false)"
            ),
            {"domain": gov_domain(DOMAIN), "now": T0},
        )
        for app_id, unit_id, kind in ((1, 1, "rereview"), (2, 1, "new"), (3, 2, "rereview")):
            conn.execute(
                sa.text(
                    "INSERT INTO applications (id, unit_id, office_id, kind, state, site_name,"
                    " domain, form, created_at, updated_at, version) VALUES"
                    " (:id, :unit, 1, :kind, 'draft', '网站', :domain, '{}', :now, :now, 1)"
                ),
                {"id": app_id, "unit": unit_id, "kind": kind, "domain": gov_domain(DOMAIN),
                 "now": T0},
            )
        # Rows pointing at both tables the downgrade copies on SQLite.
        conn.execute(sa.text("UPDATE applications SET site_id = 1 WHERE id = 2"))
        conn.execute(
            sa.text(
                "INSERT INTO transitions (application_id, event, from_state, to_state, actor,"
                " role, at) VALUES (1, 'submit', 'draft', 'submitted', 'unit:x',"
                " 'unit_handler', :now)"
            ),
            {"now": T0},
        )
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        linked = dict(conn.execute(sa.text(
            "SELECT id, rereview_site_id FROM applications ORDER BY id"
        )).all())
        assert conn.execute(sa.text("SELECT rereviewed_on FROM sites")).scalar_one() is None
    # Only the re-review of the unit's own site is linked.
    assert linked == {1: 1, 2: None, 3: None}
    engine.dispose()
    command.downgrade(alembic_config(empty_db_url), PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("applications")}
    assert "rereview_site_id" not in columns and "serial" in columns
    assert "rereviewed_on" not in {c["name"] for c in sa.inspect(engine).get_columns("sites")}
    with engine.connect() as conn:  # the rows pointing at the copied tables are kept
        assert conn.execute(sa.text("SELECT count(*) FROM transitions")).scalar_one() == 1
        assert conn.execute(sa.text(
            "SELECT site_id FROM applications WHERE id = 2"
        )).scalar_one() == 1
    engine.dispose()
    upgrade(empty_db_url)  # and up again


def test_a_stored_rereview_without_its_site_is_not_approved(sessions, wf) -> None:
    """A re-review stored before re-reviews named their site (the migration found none):
    confirming it issues nothing and says what to do."""
    site_id, _ = _issued(sessions, wf)
    before = _snapshot(sessions, site_id)
    app_id = _create(sessions, wf, _data("rereview", identifier=DOMAIN))
    _do(sessions, app_id, wf.submit, UNIT)
    _do(sessions, app_id, wf.review, OFFICE, approve=True)
    _do(sessions, app_id, wf.review, CONAC, approve=True)
    with transaction(sessions) as session:
        session.get(Application, app_id).rereview_site_id = None  # type: ignore[union-attr]
    with pytest.raises(PermissionDenied) as raised:
        _do(sessions, app_id, wf.materials, OFFICE, confirm=True)
    assert "没有指明本单位所复核的已开办网站" in str(raised.value)
    with transaction(sessions) as session:
        assert session.get(Application, app_id).state is AppState.APPROVED_ONLINE  # type: ignore[union-attr]
    assert _snapshot(sessions, site_id) == before
    assert not _outbox(sessions, "rereview-approved")


@pytest.mark.parametrize("step", ["office", "conac", "materials"])
def test_a_stored_new_application_for_the_units_own_site_is_not_approved(
    sessions, wf, step: str
) -> None:
    """A ``new`` application submitted before such applications were refused at submit, for a
    domain whose site its own unit holds: approving it would replace the live identifier, so
    each approving step refuses it and tells the reviewer to return it; once returned, the unit
    resubmits it as 已开办网站复核 and the site keeps its identifier."""
    site_id, identifier = _issued(sessions, wf)
    before = _snapshot(sessions, site_id)
    app_id = _create(sessions, wf, _data(domain="别处.政务"))
    _do(sessions, app_id, wf.submit, UNIT)
    reached, action, actor, flag = {
        "office": (AppState.SUBMITTED, wf.review, OFFICE, {"approve": True}),
        "conac": (AppState.OFFICE_APPROVED, wf.review, CONAC, {"approve": True}),
        "materials": (AppState.APPROVED_ONLINE, wf.materials, OFFICE, {"confirm": True}),
    }[step]
    with transaction(sessions) as session:  # as such an application was stored, and reviewed
        session.execute(sa.update(Application).where(Application.id == app_id).values(
            domain=gov_domain(DOMAIN), state=reached, version=Application.version + 1,
        ))
        serial = session.get(Application, app_id).serial  # type: ignore[union-attr]
    counts = _counts(sessions)
    with pytest.raises(PermissionDenied) as raised:
        _do(sessions, app_id, action, actor, **flag)
    assert str(raised.value) == (
        f"域名 杭州数据.政务 已发放网站标识（{identifier}），申请 {serial} 是“新开办网站申请”，"
        "通过将替换该网站正在使用的标识，不能通过；请退回该申请，由单位将申请类型改为"
        "“已开办网站复核”并选择该网站后重新提交"
    )
    assert _snapshot(sessions, site_id) == before and _counts(sessions) == counts
    with transaction(sessions) as session:
        assert session.get(Application, app_id).state is reached  # type: ignore[union-attr]
    # Returned (审核不通过), it comes back as a re-review of the site and keeps its identifier.
    reject = {"approve": False} if action == wf.review else {"confirm": False}
    _do(sessions, app_id, action, actor, reason="请改为已开办网站复核", **reject)
    with changing(sessions, app_id) as session:
        wf.update(session, app_id, parse_form(_data("rereview", identifier=identifier),
                                              resolver=None), UNIT, T0)
    assert _through(sessions, wf, app_id) is AppState.ISSUED
    after = _snapshot(sessions, site_id)
    assert (after["identifier"], after["certificate"]) == (identifier, before["certificate"])


def test_a_red_pages_rereview_says_it_is_one(sessions, wf) -> None:
    """A red page is re-reviewed as a red page (its address is the platform's); a re-review
    that does not say so, or says so of a site with its own address, is refused beside that
    field, nothing saved."""
    address = "127.0.0.90"

    def red(kind: str = "new", **site: Any) -> dict[str, Any]:
        return _data(kind, domain="杭州红页.政务", ipv4="", red_page=True, **site)

    def parsed(data: dict[str, Any]) -> Any:
        return parse_form(data, resolver=None, red_page_address=address)

    with transaction(sessions) as session:
        app_id = wf.create(session, parsed(red()), UNIT, T0).id
    assert _through(sessions, wf, app_id) is AppState.ISSUED
    _, own_identifier = _issued(sessions, wf)  # and a site of its own, at 杭州数据.政务
    with transaction(sessions) as session:
        red_site = session.scalars(select(Site).where(Site.ipv4 == address)).one()
        identifier = red_site.identifier
    counts = _counts(sessions)
    plain = _data("rereview", domain="杭州红页.政务", identifier=identifier, ipv4=address)
    with pytest.raises(FormInvalid) as raised, transaction(sessions) as session:
        wf.create(session, parsed(plain), UNIT, T0)
    assert {e.field: e.message for e in raised.value.errors} == {
        "site.red_page":
            "所复核的网站是网络红页：请勾选“无自建网站，开通网络红页”，无需填写 IP 地址"
    }
    wrong = parsed(_data("rereview", identifier=own_identifier, ipv4="", red_page=True))
    with pytest.raises(FormInvalid) as raised, transaction(sessions) as session:
        wf.create(session, wrong, UNIT, T0)
    assert {e.field: e.message for e in raised.value.errors} == {
        "site.red_page": "所复核的网站不是网络红页：请不要勾选此项，并填写网站的 IP 地址"
    }
    assert _counts(sessions) == counts
    with transaction(sessions) as session:
        rereview = wf.create(session, parsed(red("rereview", identifier=identifier)), UNIT, T0).id
    assert _through(sessions, wf, rereview, at=T1) is AppState.ISSUED
    with transaction(sessions) as session:
        site = session.get(Site, red_site.id)
        assert site is not None
        assert (site.identifier, site.rereviewed_on) == (identifier, date(2026, 11, 19))
