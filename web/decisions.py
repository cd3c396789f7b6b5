"""The decisions a reviewer can take on an application (审核, 复审, 确认材料): which one this
person may take now, its form, and who the workflow is told is acting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask import abort
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import TextAreaField
from wtforms.validators import Length

from store.models import AppState, Office, Role, User
from workflow.service import Actor

Step = Literal["review", "materials"]
REASON_LIMIT = 2000


class DecisionForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    """通过 or 不通过 (the button pressed, ``decision``), with the reason the unit reads."""

    reason = TextAreaField(
        "不通过原因（单位将看到这一原因）",
        validators=[Length(max=REASON_LIMIT, message=f"原因不能超过 {REASON_LIMIT} 字")],
    )


def actor_of(session: Session, user: User) -> Actor:
    """The workflow's actor for a reviewer: their office by its code, or CONAC."""
    if user.role is Role.OFFICE_REVIEWER and user.office_id is not None:
        office = session.get(Office, user.office_id)
        if office is not None:
            return Actor(Role.OFFICE_REVIEWER, office.code)
    if user.role is Role.CONAC_REVIEWER:
        return Actor(Role.CONAC_REVIEWER, "CONAC")
    abort(404)


@dataclass(frozen=True)
class Decision:
    """A decision offered on the application's page: where it posts and its two buttons."""

    step: Step
    endpoint: str
    approve: str
    reject: str


def decision_for(user: User, state: AppState) -> Decision | None:
    """The decision ``user`` may take on an application in ``state`` (the workflow checks it
    again), or None."""
    if user.role is Role.OFFICE_REVIEWER and state is AppState.SUBMITTED:
        return Decision("review", "offices.review", "审核通过", "审核不通过")
    if user.role is Role.OFFICE_REVIEWER and state is AppState.APPROVED_ONLINE:
        return Decision("materials", "offices.materials", "确认材料", "材料不通过")
    if user.role is Role.CONAC_REVIEWER and state is AppState.OFFICE_APPROVED:
        return Decision("review", "conac.review", "审核通过", "审核不通过")
    return None
