"""``badgewatch sites``: the monitored sites, and the import of sites approved before badgewatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import aliased

from badgewatch.cli.main import emit, fail, runtime, translate_errors
from badgewatch.domains import display_domain
from badgewatch.runtime import utcnow
from store.db import transaction
from store.models import Office, Site, Unit
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
    }
