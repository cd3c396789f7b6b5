"""The operator's pages: 首页 with 用户管理 (read-only for now)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template
from sqlalchemy import select

from badgewatch.vocabulary import ROLE_LABELS
from store.db import transaction
from store.models import Office, Role, Unit, User
from web.context import state
from web.permissions import allow

bp = Blueprint("operators", __name__, url_prefix="/operator")


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    login: str
    place: str


@bp.route("/")
@allow(Role.OPERATOR)
def index() -> str:
    with transaction(state().sessions) as db:
        units = {unit.id: unit.name for unit in db.scalars(select(Unit))}
        offices = {o.id: f"{o.code} {o.name}" for o in db.scalars(select(Office))}
        users = [
            UserRow(
                name=user.name,
                role=ROLE_LABELS[user.role],
                login=user.login or "",
                place=units.get(user.unit_id or 0) or offices.get(user.office_id or 0) or "",
            )
            for user in db.scalars(
                select(User).where(User.role != Role.SYSTEM).order_by(User.role, User.name)
            )
        ]
    return render_template("operator_home.html", users=users)
