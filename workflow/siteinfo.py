"""网站信息: the facts about a site that its unit or an operator may set after issuance, the
day its domain expires and the footer numbers it registered, checked and stored in one place
for the CLI (``badgewatch sites set``) and the web (the unit's and the operator's forms).

Every field is optional; an empty value clears it. Values are checked all at once and a bad one
is refused with a Chinese message naming the field (``SiteInfoInvalid``), nothing stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from badgewatch.domains import FieldInvalid
from badgewatch.vocabulary import SITE_INFO_LABELS
from store.models import Site
from workflow import fields

FIELDS: tuple[str, ...] = ("expires_on", "site_code", "icp", "psb")


class SiteInfoInvalid(Exception):
    """Some values were refused; ``errors`` maps each field to its message (in Chinese)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(
            "；".join(f"{SITE_INFO_LABELS[name]}：{message}" for name, message in errors.items())
        )


@dataclass(frozen=True)
class Change:
    field: str
    old: date | str | None
    new: date | str | None

    def to_json(self) -> dict[str, str | None]:
        def text(value: date | str | None) -> str | None:
            return value.isoformat() if isinstance(value, date) else value

        return {"field": self.field, "old": text(self.old), "new": text(self.new)}


def _value(name: str, raw: str) -> date | str | None:
    text = raw.strip()
    if not text:
        return None
    fields.plain_text(text)
    if name == "expires_on":
        return fields.expiry_date(text)
    return fields.footer_number(name, text)


def parse(raw: Mapping[str, str | None]) -> dict[str, date | str | None]:
    """The given fields (``None``: not given, left as it is; empty: cleared) in canonical form;
    raises ``SiteInfoInvalid`` naming every bad field."""
    values: dict[str, date | str | None] = {}
    errors: dict[str, str] = {}
    for name in FIELDS:
        given = raw.get(name)
        if given is None:
            continue
        try:
            values[name] = _value(name, given)
        except FieldInvalid as exc:
            errors[name] = exc.message
    if errors:
        raise SiteInfoInvalid(errors)
    return values


def update(site: Site, raw: Mapping[str, str | None]) -> list[Change]:
    """Check and store the given fields on ``site``; the fields that changed (none stored if
    any is refused). The caller owns the transaction (and records who did it)."""
    values = parse(raw)
    changes = []
    for name, new in values.items():
        old: Any = getattr(site, name)
        if old != new:
            changes.append(Change(name, old, new))
            setattr(site, name, new)
    return changes
