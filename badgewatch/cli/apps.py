"""``badgewatch app``: applications through the workflow."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch import localtime
from badgewatch.cli.main import emit, fail, runtime, translate_errors
from badgewatch.domains import display_domain
from badgewatch.resolver import make_resolver
from badgewatch.runtime import utcnow
from badgewatch.vocabulary import APP_STATE_LABELS, RED_PAGE_NAME
from notify.channels import channels_from_config
from notify.outbox import deliver_due, queued_keys
from store.db import transaction
from store.models import Application, Role
from workflow.documents import render_form, render_letter
from workflow.form import LABELS, RED_PAGE, ApplicationForm, parse_form
from workflow.issuance import issued_snippet, make_code
from workflow.serials import application_id
from workflow.service import Actor, Workflow, changing, describe

AS_HELP = "Who acts: unit:NAME, office:CODE, conac or operator."
APP_ID = click.argument("app_key", metavar="APP_ID")


def _app_id(key: str) -> int:
    """APP_ID as typed: the application's id or its 申请序号 (e.g. CA330010006000000010000)."""
    with transaction(runtime().sessions) as session:
        return application_id(session, key)


def _actor(text: str | None) -> Actor | None:
    if text is None:
        return None
    try:
        return Actor.parse(text)
    except ValueError as exc:
        fail(f"--as: {exc}", bad_input=True)


SITE_OPTION = click.option(
    "--site",
    metavar="IDENTIFIER|DOMAIN",
    help="For a re-review (kind rereview): the unit's site it re-reviews, by identifier or "
    "domain; sets the form's site.identifier.",
)


def _read_form(path: Path, site: str | None = None) -> ApplicationForm:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"FILE: {path} does not exist", bad_input=True)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"FILE: {path} is not UTF-8 JSON: {exc}", bad_input=True)
    if not isinstance(data, dict):
        fail(f"FILE: {path} must hold a JSON object", bad_input=True)
    if site is not None and isinstance(data.get("site"), dict):
        data["site"]["identifier"] = site
    rt = runtime()
    return parse_form(data, resolver=make_resolver(rt.config.dns),
                      red_page_address=rt.config.redpages.address)


def deliver_now() -> None:
    """Send what the last transaction queued; failures stay queued for `notify deliver`."""
    rt = runtime()
    report = deliver_due(
        rt.sessions, channels_from_config(rt.config), now=_now(), notify=rt.config.notify
    )
    if report.retrying or report.failed:
        click.echo(
            f"notifications: {report.sent} sent, {report.retrying} will be retried "
            "(badgewatch notify deliver)",
            err=True,
        )


def _now() -> datetime:
    return utcnow()


@click.group("app")
def command() -> None:
    """Applications for a site (new site or re-review of an existing one)."""


@command.command("new")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--as", "as_", required=True, help="unit:NAME, the applying unit.")
@SITE_OPTION
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def new(file: Path, as_: str, site: str | None, as_json: bool) -> None:
    """Create a draft application from FILE.json; prints the new id."""
    actor = _actor(as_)
    assert actor is not None
    form = _read_form(file, site)
    rt = runtime()
    with transaction(rt.sessions) as session:
        application = rt.workflow.create(session, form, actor, _now())
        new_id = application.id
    if as_json:
        emit({"id": new_id, "state": "draft"})
    else:
        click.echo(new_id)


@command.command("update")
@APP_ID
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--as", "as_", required=True, help="unit:NAME, the applying unit.")
@SITE_OPTION
@translate_errors
def update(app_key: str, file: Path, as_: str, site: str | None) -> None:
    """Replace the form of a draft or rejected application."""
    app_id = _app_id(app_key)
    actor = _actor(as_)
    assert actor is not None
    form = _read_form(file, site)
    rt = runtime()
    with changing(rt.sessions, app_id) as session:
        serial = rt.workflow.update(session, app_id, form, actor, _now()).serial
    click.echo(f"application {app_id}{f' ({serial})' if serial else ''} updated")


@command.command("submit")
@APP_ID
@click.option("--as", "as_", help="unit:NAME; defaults to the application's own unit.")
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def submit(app_key: str, as_: str | None, as_json: bool) -> None:
    """Submit (or, after a rejection, resubmit) an application to its office."""
    app_id = _app_id(app_key)
    rt = runtime()
    with changing(rt.sessions, app_id) as session:
        actor = _actor(as_) or Actor(Role.UNIT_HANDLER, rt.workflow.get(session, app_id).unit.name)
        application = rt.workflow.submit(session, app_id, actor, _now())
        due = application.office_review_due
        serial = application.serial
    if as_json:
        emit({"id": app_id, "serial": serial, "state": "submitted", "office_review_due": due})
    else:
        click.echo(f"application {app_id} ({serial}) submitted; office review due {due}")


@dataclass(frozen=True)
class Decided:
    """A reviewer's yes (``agreed``) or no (with ``reason``) on an application."""

    app_id: int
    actor: Actor
    now: datetime
    agreed: bool
    reason: str | None


Step = Callable[[Workflow, Session, Decided], Application]


def _decide(
    app_key: str, as_: str, agreed: bool, reason: str | None, as_json: bool, *, flag: str,
    step: Step, issues: bool,
) -> None:
    """Carry out a reviewer's yes or no (``flag`` or --reject REASON, exactly one) and say the
    new state; with ``issues``, also the badge identifier once one is issued."""
    if agreed == (reason is not None):
        fail(f"give exactly one of {flag} or --reject REASON", bad_input=True)
    app_id = _app_id(app_key)
    actor = _actor(as_)
    assert actor is not None
    rt = runtime()
    with changing(rt.sessions, app_id) as session:
        application = step(rt.workflow, session, Decided(app_id, actor, _now(), agreed, reason))
        state = application.state
        serial = application.serial
        identifier = application.site.identifier if issues and application.site else None
    queued = queued_keys(session)  # after the commit: a rejection's notice is queued at flush
    if as_json:
        shown: dict[str, Any] = {"id": app_id, "state": state.value}
        emit(shown | {"identifier": identifier} if issues else shown)
    else:
        click.echo(f"application {app_id} ({serial}): {state.value} ({APP_STATE_LABELS[state]})")
        if identifier:
            click.echo(f"badge identifier {identifier}")
    if queued:  # the badge issued or a rejection: its notice goes out now
        deliver_now()


def _decision(
    name: str, flag: str, as_help: str, reject_help: str, *, issues: bool = False
) -> Callable[[Step], click.Command]:
    """A reviewer's yes-or-no command: APP_ID, --as, ``flag`` or --reject REASON, --json;
    its help is the step's docstring."""

    def wrap(step: Step) -> click.Command:
        def run(app_key: str, as_: str, reason: str | None, as_json: bool, **yes: bool) -> None:
            (agreed,) = yes.values()
            _decide(app_key, as_, agreed, reason, as_json, flag=flag, step=step, issues=issues)

        run.__doc__ = step.__doc__
        callback = translate_errors(run)
        for option in (
            click.option("--json", "as_json", is_flag=True),
            click.option("--reject", "reason", metavar="REASON", help=reject_help),
            click.option(flag, is_flag=True),
            click.option("--as", "as_", required=True, help=as_help),
            APP_ID,
        ):
            callback = option(callback)
        return command.command(name)(callback)

    return wrap


@_decision("review", "--approve", "office:CODE or conac.",
           "Reject, with the reason the unit reads.")
def review(flow: Workflow, session: Session, d: Decided) -> Application:
    """Online review by the office of the same level, then by CONAC."""
    return flow.review(session, d.app_id, d.actor, d.now, approve=d.agreed, reason=d.reason)


@_decision("materials", "--confirm", "office:CODE.", "Reject the paper materials.", issues=True)
def materials(flow: Workflow, session: Session, d: Decided) -> Application:
    """Confirm the stamped paper materials (issues the badge) or reject them."""
    return flow.materials(session, d.app_id, d.actor, d.now, confirm=d.agreed, reason=d.reason)


@command.command("show")
@APP_ID
@click.option("--as", "as_", help=AS_HELP)
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def show(app_key: str, as_: str | None, as_json: bool) -> None:
    """Show an application with its deadlines and history."""
    rt = runtime()
    zone = rt.config.calendar.zone
    with transaction(rt.sessions) as session:
        app_id = application_id(session, app_key)
        data = describe(rt.workflow.get(session, app_id, _actor(as_)), zone=zone)
    if as_json:
        emit(data)
        return
    serial = f" 申请序号 {data['serial']}" if data["serial"] else ""
    domain = display_domain(data["domain"])
    click.echo(f"#{data['id']}{serial} {data['site_name']} {domain} [{data['state']}]")
    if data["rereview_site"]:
        click.echo(f"  已开办网站复核：网站标识 {data['rereview_site']}")
    if (data["form"].get("site") or {}).get(RED_PAGE) is True:
        click.echo(f"  {RED_PAGE_NAME}：{LABELS['site.' + RED_PAGE]}")
    for step in data["history"]:
        reason = f" — {step['reason']}" if step["reason"] else ""
        at = localtime.text(datetime.fromisoformat(step["at"]), zone)
        click.echo(f"  {at} {step['actor']} {step['event']} → {step['to']}{reason}")


@command.command("list")
@click.option("--as", "as_", help=AS_HELP)
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def list_apps(as_: str | None, as_json: bool) -> None:
    """List applications (a unit sees its own, an office those of its jurisdiction)."""
    actor = _actor(as_)
    rt = runtime()
    with transaction(rt.sessions) as session:
        rows = []
        for application in session.scalars(select(Application).order_by(Application.id)):
            if actor is not None:
                if actor.role is Role.UNIT_HANDLER and application.unit.name != actor.name:
                    continue
                if actor.role is Role.OFFICE_REVIEWER and application.office.code != actor.name:
                    continue
            rows.append(
                {
                    "id": application.id,
                    "serial": application.serial,
                    "kind": application.kind.value,
                    "rereview_site": (application.rereview_site.identifier
                                      if application.rereview_site else None),
                    "red_page": (application.form.get("site") or {}).get(RED_PAGE) is True,
                    "state": application.state.value,
                    "unit": application.unit.name,
                    "office": application.office.code,
                    "site_name": application.site_name,
                    "domain": application.domain,
                }
            )
    if as_json:
        emit({"applications": rows})
        return
    for row in rows:
        serial = row["serial"] or "-"
        rereview = f"\t复核 {row['rereview_site']}" if row["rereview_site"] else ""
        red_page = f"\t{RED_PAGE_NAME}" if row["red_page"] else ""
        click.echo(f"{row['id']}\t{serial}\t{row['state']}\t{row['unit']}\t{row['site_name']}"
                   f"{rereview}{red_page}")


@command.command("print")
@APP_ID
@click.option("--letter", "kind", flag_value="letter", help="The application letter (申请函).")
@click.option("--form", "kind", flag_value="form", help="The application form (申请表).")
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--as", "as_", help=AS_HELP)
@translate_errors
def print_document(app_key: str, kind: str | None, out: Path, as_: str | None) -> None:
    """Write the printable letter or form as HTML."""
    if kind is None:
        fail("give --letter or --form", bad_input=True)
    rt = runtime()
    with transaction(rt.sessions) as session:
        app_id = application_id(session, app_key)
        application = rt.workflow.get(session, app_id, _actor(as_))
        render = render_letter if kind == "letter" else render_form
        html = render(application, zone=rt.config.calendar.zone)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    click.echo(str(out))


@command.command("badge")
@APP_ID
@click.option("--as", "as_", help=AS_HELP)
@translate_errors
def badge(app_key: str, as_: str | None) -> None:
    """Print the issued badge code to paste into every page (for a unit that lost the notice)."""
    rt = runtime()
    with transaction(rt.sessions) as session:
        app_id = application_id(session, app_key)
        application = rt.workflow.get(session, app_id, _actor(as_))
        site = application.site
        if site is None or site.identifier is None or site.certificate is None:
            fail(f"申请 {application.serial or app_id} 尚未发放网站标识，没有可加挂的代码")
        code = make_code(rt.config.badge, site.identifier, site.certificate)
    click.echo(issued_snippet(rt.config.badge, code))
