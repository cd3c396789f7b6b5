"""The demo: demo agencies taken through the workflow to issued badges, all on loopback.

It runs on the embedded default (SQLite under ``./var/demo``), answers the demo domains from
its own DNS server, and delivers the email and SMS notices to local SMTP and HTTP servers, so
nothing leaves the machine and nothing keeps running afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from badgewatch.config import Config, load_config
from badgewatch.localdns import LocalDnsServer
from badgewatch.resolver import make_resolver
from badgewatch.runtime import Runtime
from badgewatch.sinks import LocalHttpSink, LocalSmtpSink
from notify.channels import channels_from_config
from notify.outbox import deliver_due
from store.db import transaction
from store.migrate import upgrade
from store.models import Office, OfficeLevel
from workflow.documents import render_form, render_letter
from workflow.fields import display_domain
from workflow.form import parse_form
from workflow.service import Actor, changing

OFFICES = [
    ("100000", "中央机构编制委员会办公室", OfficeLevel.CENTRAL, None),
    ("330000", "浙江省委机构编制委员会办公室", OfficeLevel.PROVINCE, "100000"),
    ("330100", "杭州市委机构编制委员会办公室", OfficeLevel.PREFECTURE, "330000"),
    ("330106", "杭州市西湖区委机构编制委员会办公室", OfficeLevel.COUNTY, "330100"),
]


@dataclass(frozen=True)
class DemoUnit:
    unit: str
    office: str
    org_type: str
    site: str
    domain: str
    ip: str
    story: str  # "straight", "office_rejects", "conac_rejects", "materials_rejected"


UNITS = [
    DemoUnit("浙江省人民政府办公厅", "330000", "政府", "浙江省人民政府门户网站",
             "浙江省人民政府.政务", "127.0.0.11", "straight"),
    DemoUnit("杭州市人民政府办公厅", "330100", "政府", "杭州市人民政府门户网站",
             "杭州市人民政府.政务", "127.0.0.12", "office_rejects"),
    DemoUnit("杭州市西湖区人民政府办公室", "330106", "政府", "西湖区人民政府网站",
             "西湖区人民政府.政务", "127.0.0.13", "conac_rejects"),
    DemoUnit("杭州市西湖区人民法院", "330106", "法院", "西湖区人民法院网",
             "西湖区人民法院.政务", "127.0.0.14", "materials_rejected"),
]


def _form(unit: DemoUnit, n: int) -> dict[str, Any]:
    return {
        "kind": "new",
        "office": unit.office,
        "unit": {
            "name": unit.unit,
            "org_type": unit.org_type,
            "address": f"浙江省杭州市西湖区示范路 {n} 号",
            "functions": "负责本单位政务信息公开和政务服务。",
        },
        "handler": {
            "name": "张经办",
            "landline": "0571-8700000" + str(n),
            "mobile": f"1390571000{n}",
            "email": f"handler{n}@demo.example.cn",
        },
        "principal": {
            "name": "李负责",
            "landline": "0571-8800000" + str(n),
            "mobile": f"1370571000{n}",
            "email": f"principal{n}@demo.example.cn",
        },
        "site": {
            "name": unit.site,
            "domain": unit.domain,
            "english_domain": None,
            "ipv4": unit.ip,
            "ipv6": None,
            "intro": f"{unit.site}是{unit.unit}的官方网站。",
        },
    }


def _demo_config(base: Config, data_dir: Path, dns: str, smtp_port: int, sms_url: str) -> Config:
    return base.model_copy(
        update={
            "database": base.database.model_copy(
                update={"url": f"sqlite:///{data_dir / 'badgewatch.db'}"}
            ),
            "paths": base.paths.model_copy(update={"data_dir": data_dir}),
            "dns": base.dns.model_copy(update={"nameservers": [dns]}),
            "smtp": base.smtp.model_copy(
                update={"host": "127.0.0.1", "port": smtp_port, "username": None,
                        "password": None, "starttls": False}
            ),
            "sms": base.sms.model_copy(update={"kind": "http", "url": sms_url, "token": None}),
        }
    )


def run_demo(out_dir: Path, echo: Callable[[str], None], start: datetime | None = None) -> Path:
    """Walk the demo units through the workflow; returns the demo's data directory."""
    data_dir = out_dir.resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    records = {u.domain: {"A": [u.ip]} for u in UNITS}
    clock = start or datetime(2026, 9, 28, 2, 0, tzinfo=UTC)

    with LocalDnsServer(records) as dns, LocalSmtpSink() as smtp, LocalHttpSink() as sms:
        config = _demo_config(load_config(), data_dir, dns.address, smtp.port, sms.url("/sms"))
        upgrade(config.database.url)
        rt = Runtime(config)
        try:
            _walk(rt, data_dir, clock, echo)
            deliver_due(rt.sessions, channels_from_config(config), now=clock + timedelta(days=30),
                        notify=config.notify)
        finally:
            rt.close()
        echo("")
        echo(f"email received by the local SMTP server: {len(smtp.received)}")
        for mail in smtp.received:
            echo(f"  to {', '.join(mail.recipients)}: {mail.subject}")
        echo(f"SMS received by the local gateway: {len(sms.sms)}")
        for body in sms.sms:
            echo(f"  to {body['phone']}: {body['message'][:60]}…")
    return data_dir


def _walk(rt: Runtime, data_dir: Path, clock: datetime, echo: Callable[[str], None]) -> None:
    with transaction(rt.sessions) as session:
        by_code: dict[str, Office] = {}
        for code, name, level, parent in OFFICES:
            office = Office(code=code, name=name, level=level,
                            parent=by_code.get(parent) if parent else None)
            session.add(office)
            by_code[code] = office
    echo(f"offices: {', '.join(code for code, *_ in OFFICES)}")
    conac = Actor.parse("conac")
    docs = data_dir / "documents"
    docs.mkdir()

    for n, unit in enumerate(UNITS, start=1):
        _walk_one(
            rt, unit, n=n, now=clock + timedelta(hours=n), conac=conac, docs=docs, echo=echo
        )


@dataclass
class _Steps:
    """Applies workflow steps to one application, a day apart, echoing each new state."""

    rt: Runtime
    app_id: int
    now: datetime
    echo: Callable[[str], None]

    def __call__(self, label: str, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.now += timedelta(days=1)
        with changing(self.rt.sessions, self.app_id) as session:
            state = action(session, self.app_id, *args, self.now, **kwargs).state.value
        self.echo(f"  {label:<28} → {state}")


def _walk_one(
    rt: Runtime,
    unit: DemoUnit,
    *,
    n: int,
    now: datetime,
    conac: Actor,
    docs: Path,
    echo: Callable[[str], None],
) -> None:
    wf = rt.workflow
    actor = Actor.parse(f"unit:{unit.unit}")
    reviewer = Actor.parse(f"office:{unit.office}")
    form = parse_form(_form(unit, n), resolver=make_resolver(rt.config.dns))
    with transaction(rt.sessions) as session:
        app_id = wf.create(session, form, actor, now).id
    echo(f"\n#{app_id} {unit.unit} — {unit.site} ({display_domain(form.site.domain)})")
    step = _Steps(rt, app_id, now, echo)
    step("submit", wf.submit, actor)
    if unit.story == "office_rejects":
        step("office rejects", wf.review, reviewer, approve=False,
             reason="网站简介过于简单，请补充网站主要栏目和服务内容")
        step("unit resubmits", wf.submit, actor)
    step("office approves", wf.review, reviewer, approve=True)
    if unit.story == "conac_rejects":
        step("CONAC rejects", wf.review, conac, approve=False,
             reason="网站名称应与开办主体名称对应，请使用规范名称")
        step("unit resubmits", wf.submit, actor)
        step("office approves", wf.review, reviewer, approve=True)
    step("CONAC approves", wf.review, conac, approve=True)
    with transaction(rt.sessions) as session:
        application = wf.get(session, app_id)
        (docs / f"{app_id}-letter.html").write_text(render_letter(application), "utf-8")
        (docs / f"{app_id}-form.html").write_text(render_form(application), "utf-8")
    echo(f"  printed letter and form to {docs}/{app_id}-*.html")
    if unit.story == "materials_rejected":
        step("office rejects materials", wf.materials, reviewer, confirm=False,
             reason="申请表未加盖单位公章")
        echo("  (the unit must submit the application again)")
        return
    step("office confirms materials", wf.materials, reviewer, confirm=True)
    with transaction(rt.sessions) as session:
        site = wf.get(session, app_id).site
        assert site is not None
        echo(f"  badge {site.identifier}, place by {site.placement_due}")
