"""The application workflow of SPEC §1, declared in one table.

States are ``store.models.AppState`` (the same Enum the database column uses). Each event names
the states it may start from, the state it leads to, the role allowed to fire it and whether a
reason is required. Anything else raises ``TransitionNotAllowed``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from badgewatch.vocabulary import APP_STATE_LABELS
from store.models import AppState, Role


class Event(enum.StrEnum):
    SUBMIT = "submit"
    RESUBMIT = "resubmit"
    OFFICE_APPROVE = "office_approve"
    OFFICE_REJECT = "office_reject"
    CONAC_APPROVE = "conac_approve"
    CONAC_REJECT = "conac_reject"
    CONFIRM_MATERIALS = "confirm_materials"
    REJECT_MATERIALS = "reject_materials"
    ISSUE_BADGE = "issue_badge"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[AppState]
    target: AppState
    role: Role
    needs_reason: bool = False


REJECTED = frozenset(
    {AppState.OFFICE_REJECTED, AppState.CONAC_REJECTED, AppState.MATERIALS_REJECTED}
)

RULES: dict[Event, Rule] = {
    Event.SUBMIT: Rule(frozenset({AppState.DRAFT}), AppState.SUBMITTED, Role.UNIT_HANDLER),
    Event.RESUBMIT: Rule(REJECTED, AppState.SUBMITTED, Role.UNIT_HANDLER),
    Event.OFFICE_APPROVE: Rule(
        frozenset({AppState.SUBMITTED}), AppState.OFFICE_APPROVED, Role.OFFICE_REVIEWER
    ),
    Event.OFFICE_REJECT: Rule(
        frozenset({AppState.SUBMITTED}), AppState.OFFICE_REJECTED, Role.OFFICE_REVIEWER, True
    ),
    Event.CONAC_APPROVE: Rule(
        frozenset({AppState.OFFICE_APPROVED}), AppState.APPROVED_ONLINE, Role.CONAC_REVIEWER
    ),
    Event.CONAC_REJECT: Rule(
        frozenset({AppState.OFFICE_APPROVED}), AppState.CONAC_REJECTED, Role.CONAC_REVIEWER, True
    ),
    Event.CONFIRM_MATERIALS: Rule(
        frozenset({AppState.APPROVED_ONLINE}), AppState.MATERIALS_CONFIRMED, Role.OFFICE_REVIEWER
    ),
    Event.REJECT_MATERIALS: Rule(
        frozenset({AppState.APPROVED_ONLINE}),
        AppState.MATERIALS_REJECTED,
        Role.OFFICE_REVIEWER,
        True,
    ),
    Event.ISSUE_BADGE: Rule(
        frozenset({AppState.MATERIALS_CONFIRMED}), AppState.ISSUED, Role.SYSTEM
    ),
}

# States in which the unit may still change its form.
EDITABLE = frozenset({AppState.DRAFT}) | REJECTED


EVENT_LABELS: dict[Event, str] = {
    Event.SUBMIT: "提交申请",
    Event.RESUBMIT: "重新提交申请",
    Event.OFFICE_APPROVE: "编办审核通过",
    Event.OFFICE_REJECT: "编办审核不通过",
    Event.CONAC_APPROVE: "CONAC 复审通过",
    Event.CONAC_REJECT: "CONAC 复审不通过",
    Event.CONFIRM_MATERIALS: "确认纸质材料",
    Event.REJECT_MATERIALS: "纸质材料不通过",
    Event.ISSUE_BADGE: "发放网站标识",
}

# A recorded step no one fires: the migration that made one open application per domain
# (b3e8f5a2c614) returned the surplus ones to 草稿, saying which one holds the domain.
DUPLICATE_RETURNED = "duplicate_returned"

# Every step an application's history may show, by its stored name.
HISTORY_LABELS: dict[str, str] = {
    **{event.value: label for event, label in EVENT_LABELS.items()},
    DUPLICATE_RETURNED: "重复申请退回草稿",
}


class TransitionNotAllowed(Exception):
    """The event cannot happen in the application's current state."""

    def __init__(self, event: Event, state: AppState) -> None:
        allowed = sorted(e.value for e, rule in RULES.items() if state in rule.sources)
        super().__init__(
            f"“{EVENT_LABELS[event]}”({event.value}) 不能在“{APP_STATE_LABELS[state]}”"
            f"({state.value}) 状态下进行；此状态下可进行：{', '.join(allowed) or '无'}"
        )
        self.event = event
        self.state = state


def next_state(state: AppState, event: Event) -> AppState:
    """The state the event leads to, or ``TransitionNotAllowed``."""
    rule = RULES[event]
    if state not in rule.sources:
        raise TransitionNotAllowed(event, state)
    return rule.target
