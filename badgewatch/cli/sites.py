"""``badgewatch sites``: the monitored sites, and the import of sites approved before badgewatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from badgewatch.cli.main import emit, fail, runtime, translate_errors
from badgewatch.domains import FieldInvalid, display_domain, gov_domain
from badgewatch.runtime import utcnow
from store.db import transaction
from store.models import Office, Site, Unit
from web import audit
from workflow import siteinfo
from workflow.importer import ImportInvalid, import_sites


@click.group("sites")
def command() -> None:
    """Sites whose badge was issued or imported: what the crawler monitors."""


@command.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@translate_errors
def import_(file: Path, as_json: bool) -> None:
    """Import already-approved sites from FILE.csv (UTF-8 or GB18030), all or nothing.

    Header: unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on
    and optionally site_code,icp,psb,expires_on.
    """
    rt = runtime()
    try:
        with file.open("rb") as stream, transaction(rt.sessions) as session:
            report = import_sites(
                session,
                stream,
                calendar=rt.calendar,
                placement_days=rt.config.deadlines.placement_days,
                now=utcnow(),
                zone=rt.config.calendar.zone,
            )
    except FileNotFoundError:
        fail(f"FILE: {file} does not exist", bad_input=True)
    except OSError as exc:
        fail(f"FILE: {file} cannot be read: {exc}", bad_input=True)
    except ImportInvalid as exc:
        fail(str(exc), bad_input=True)
    if as_json:
        emit({"created": report.created, "updated": report.updated, "unchanged": report.unchanged})
        return
    click.echo(
        f"imported: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )


@command.command("set")
@click.argument("site")
@click.option("--expires-on", help="The day the domain expires, YYYY-MM-DD ('' clears it).")
@click.option("--site-code", help="The registered 网站标识码 ('' clears it).")
@click.option("--icp", help="The registered ICP filing number ('' clears it).")
@click.option("--psb", help="The registered public-security filing number ('' clears it).")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@translate_errors
def set_info(site: str, expires_on: str | None, site_code: str | None, icp: str | None,
             psb: str | None, as_json: bool) -> None:
    """Set a site's domain expiry date or registered footer numbers; SITE is its identifier or
    domain. Options not given are left as they are."""
    raw = {"expires_on": expires_on, "site_code": site_code, "icp": icp, "psb": psb}
    if all(value is None for value in raw.values()):
        fail("nothing to set: give --expires-on, --site-code, --icp or --psb", bad_input=True)
    with transaction(runtime().sessions) as session:
        found = _find(session, site)
        try:
            changes = siteinfo.update(found, raw)
        except siteinfo.SiteInfoInvalid as exc:
            fail("\n".join(f"--{name.replace('_', '-')}: {message}"
                           for name, message in exc.errors.items()), bad_input=True)
        if changes:
            audit.record(session, action="site.info", now=utcnow(), user=None, actor="cli",
                         object_type="site", object_id=found.id,
                         detail={"changes": [c.to_json() for c in changes]})
        shown, identifier = display_domain(found.domain), found.identifier
    if as_json:
        emit({"site": identifier, "changes": [c.to_json() for c in changes]})
        return
    if not changes:
        click.echo(f"{shown}: unchanged")
    for change in changes:
        data = change.to_json()
        click.echo(f"{shown}: {change.field} {data['old'] or '-'} -> {data['new'] or '-'}")


def _find(session: Session, site: str) -> Site:
    """A site by its identifier or its domain (as people write it or in ASCII)."""
    try:
        domain: str | None = gov_domain(site)
    except FieldInvalid:
        domain = None
    found = session.scalar(select(Site).where(Site.identifier == site.strip().upper()))
    if found is None and domain is not None:
        found = session.scalar(select(Site).where(Site.domain == domain))
    if found is None:
        fail(f"SITE: no site has the identifier or domain {site}", bad_input=True)
    return found


@command.command("list")
@click.option("--office", "office_code", help="Only the sites of this office (division code).")
@click.option("--json", "as_json", is_flag=True)
def list_sites(office_code: str | None, as_json: bool) -> None:
    """List the sites, by domain."""
    office = aliased(Office)
    query = (
        select(Site, Unit.name, office.code)
        .join(Unit, Site.unit_id == Unit.id)
        .join(office, Site.office_id == office.id)
        .order_by(Site.domain)
    )
    with transaction(runtime().sessions) as session:
        if office_code is not None:
            if session.scalar(select(Office.id).where(Office.code == office_code)) is None:
                fail(f"--office: office {office_code} does not exist", bad_input=True)
            query = query.where(office.code == office_code)
        rows = [_row(site, unit, code) for site, unit, code in session.execute(query)]
    if as_json:
        emit({"sites": rows})
        return
    for row in rows:
        click.echo(
            "\t".join(
                str(row[key] or "")
                for key in ("identifier", "domain_display", "name", "unit", "office")
            )
            + f"\t{row['placement_due'] or ''}"
        )


def _row(site: Site, unit: str, office: str) -> dict[str, Any]:
    return {
        "domain": site.domain,
        "domain_display": display_domain(site.domain),
        "name": site.name,
        "unit": unit,
        "office": office,
        "identifier": site.identifier,
        "certificate": site.certificate,
        "english_domain": site.english_domain,
        "ipv4": site.ipv4,
        "ipv6": site.ipv6,
        "notified_on": site.notified_on.isoformat() if site.notified_on else None,
        "placement_due": site.placement_due.isoformat() if site.placement_due else None,
        "rereviewed_on": site.rereviewed_on.isoformat() if site.rereviewed_on else None,
        "source": site.source.value,
        "expires_on": site.expires_on.isoformat() if site.expires_on else None,
        "site_code": site.site_code,
        "icp": site.icp,
        "psb": site.psb,
    }
