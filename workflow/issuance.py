"""Badge issuance: the site identifier, the certificate id and the code a unit pastes.

The identifier has the shape of the real ones (``CA330000000604258890010``): a prefix, nine
region digits (province 2, prefecture 3, county 4), an eight-digit site number and a four-digit
sequence. The script URL repeats the digits in its path, as CONAC's does. Hosts and names all
come from ``[badge]`` configuration.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from badgewatch.config import BadgeConfig
from store.models import Counter, Office, OfficeLevel

BADGE_NUMBER_COUNTER = "badge_number"
CENTRAL_REGION = "330000000"  # CONAC files central bodies under province 33


class IssuanceError(Exception):
    """The badge cannot be issued (for example the office has no usable division code)."""


@dataclass(frozen=True)
class BadgeCode:
    identifier: str
    certificate: str
    script_url: str
    certificate_url: str

    @property
    def region(self) -> str:
        return self.identifier[-21:-12]

    @property
    def number(self) -> str:
        return self.identifier[-12:-4]


def region_digits(office: Office) -> str:
    """Nine region digits from the office's six-digit division code (330106 -> 330010006)."""
    if office.level is OfficeLevel.CENTRAL:
        return CENTRAL_REGION
    code = office.code
    if len(code) != 6 or not code.isdigit():
        raise IssuanceError(f"office {code} has no six-digit division code to build a badge from")
    return f"{code[:2]}{int(code[2:4]):03d}{int(code[4:6]):04d}"


def script_url(badge: BadgeConfig, identifier: str) -> str:
    digits = identifier[-21:]
    parts = (digits[0:2], digits[2:5], digits[5:9], digits[9:17])
    return f"{badge.script_base}/{'/'.join(parts)}/{identifier}.js"


def certificate_url(badge: BadgeConfig, certificate: str) -> str:
    return badge.certificate_url.format(certificate=certificate)


def make_code(badge: BadgeConfig, identifier: str, certificate: str) -> BadgeCode:
    return BadgeCode(
        identifier=identifier,
        certificate=certificate,
        script_url=script_url(badge, identifier),
        certificate_url=certificate_url(badge, certificate),
    )


def next_number(session: Session, start: int, counter: str = BADGE_NUMBER_COUNTER) -> int:
    """The next value of ``counter`` (by default the site number), unique across the deployment.

    The UPDATE locks the counter's row until the transaction ends, so concurrent callers on
    PostgreSQL wait for each other instead of reading the same value.
    """
    bumped = session.execute(
        update(Counter)
        .where(Counter.name == counter)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar_one_or_none()
    if bumped is not None:
        return int(bumped)
    session.execute(insert(Counter).values(name=counter, value=start + 1))
    return start + 1


def issue(
    session: Session,
    badge: BadgeConfig,
    office: Office,
) -> BadgeCode:
    """A new code for a new site: the next site number (a site keeps its code for good)."""
    number = next_number(session, badge.number_start)
    if number > 99_999_999:
        raise IssuanceError("the eight-digit site number range is exhausted")
    identifier = f"{badge.identifier_prefix}{region_digits(office)}{number:08d}0001"
    return make_code(badge, identifier, uuid.uuid4().hex.upper())


def issued_snippet(badge: BadgeConfig, code: BadgeCode) -> str:
    """The escaped ``document.write(unescape(...))`` code, exactly as CONAC issues it."""
    inner = (
        f"<span id='{badge.span_id}' ></span>"
        f"<script src='{code.script_url}' type='text/javascript'></script>"
    )
    escaped = quote(inner, safe="/:.=' _-?&").replace("%20", " ")
    return (
        '<script type="text/javascript">'
        f'document.write(unescape("{escaped}"));</script>'
    )


def decoded_snippet(badge: BadgeConfig, code: BadgeCode) -> str:
    """The same code in plain markup, for templates that cannot hold the escaped form."""
    return (
        f'<span id="{badge.span_id}"></span>'
        f'<script src="{code.script_url}" type="text/javascript"></script>'
    )

