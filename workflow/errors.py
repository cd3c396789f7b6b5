"""The errors of the workflow a person can act on; their messages are in Chinese."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of the errors a person can act on; messages are in Chinese."""


class NotFound(WorkflowError):
    pass


class PermissionDenied(WorkflowError):
    pass


class ReasonRequired(WorkflowError):
    pass


class ConcurrentChange(WorkflowError):
    """Someone else changed the application first; nothing of this attempt was saved."""

    def __init__(self, application_id: int, shown: str | None = None) -> None:
        super().__init__(
            f"申请 {shown or application_id} 已被他人同时处理，本次操作未保存，请刷新后查看最新状态"
        )


class NotPrintable(WorkflowError):
    """The letter and form are printed only after both online approvals."""


class CheckUnavailable(WorkflowError):
    """A check the workflow needs could not be made (the DNS did not answer): our failure,
    never the unit's; nothing was saved and the same request may simply be retried."""
