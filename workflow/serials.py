"""The 申请序号: the serial a unit, its office and CONAC quote for one application.

It reads like the seed's (``CA100000000603796070001``) and like a site identifier: the
``[badge] identifier_prefix``, the nine region digits of the application's office
(``issuance.region_digits``), an eight-digit sequence counted across the deployment, and the
four digits ``0000``. A site identifier's last four digits start at ``0001``, so a serial never
reads as a badge. The serial is given at the first submit and kept on every resubmit; a draft
has none. The sequence is the ``application_serial`` counter, whose row the UPDATE locks, and the
column is unique, so concurrent submits cannot share one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch.config import BadgeConfig
from store.models import Application, Office
from workflow.errors import NotFound
from workflow.issuance import IssuanceError, next_number, region_digits

SERIAL_COUNTER = "application_serial"
SERIAL_TAIL = "0000"


def format_serial(prefix: str, region: str, sequence: int) -> str:
    """``CA`` + ``330010006`` + ``00000001`` + ``0000``."""
    if sequence > 99_999_999:
        raise IssuanceError("the eight-digit application sequence is exhausted")
    return f"{prefix}{region}{sequence:08d}{SERIAL_TAIL}"


def new_serial(session: Session, badge: BadgeConfig, office: Office) -> str:
    """The next serial for an application to ``office``."""
    sequence = next_number(session, 0, counter=SERIAL_COUNTER)
    return format_serial(badge.identifier_prefix, region_digits(office), sequence)


def shown(application: Application) -> str:
    """How messages name an application: its 申请序号, or for a draft (which has none) its id."""
    return application.serial or f"{application.id}（草稿）"


def application_id(session: Session, key: str) -> int:
    """The id of the application named by ``key``: its id (digits) or its 申请序号."""
    key = key.strip()
    if key.isdigit():
        return int(key)
    found = session.scalar(select(Application.id).where(Application.serial == key.upper()))
    if found is None:
        raise NotFound(f"申请序号 {key} 不存在")
    return found
