"""The printable application letter (申请函) and form (申请表), as HTML with print CSS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from badgewatch import localtime
from badgewatch.domains import display_domain
from badgewatch.templating import html_environment
from badgewatch.vocabulary import KIND_LABELS
from store.models import Application, AppState
from workflow import serials
from workflow.errors import NotPrintable
from workflow.fields import display_phone
from workflow.form import ApplicationForm

PRINTABLE = frozenset(
    {AppState.APPROVED_ONLINE, AppState.MATERIALS_CONFIRMED, AppState.ISSUED}
)

_env = html_environment("workflow")
_env.filters["phone"] = display_phone


@dataclass(frozen=True)
class DocumentContext:
    application_id: int
    serial: str | None  # 申请序号; every printable application has been submitted
    kind_label: str
    office_name: str
    form: ApplicationForm
    domain_display: str
    english_domain: str | None
    approved_on: date | None


def _context(application: Application, zone: ZoneInfo) -> DocumentContext:
    if application.state not in PRINTABLE:
        raise NotPrintable(
            f"申请 {serials.shown(application)} 尚未通过编办和 CONAC 的在线审核，"
            "暂不能打印申请函和申请表"
        )
    form = ApplicationForm.from_json(application.form)
    approved = [t.at for t in application.transitions if t.event == "conac_approve"]
    return DocumentContext(
        application_id=application.id,
        serial=application.serial,
        kind_label=KIND_LABELS[application.kind],
        office_name=application.office.name,
        form=form,
        domain_display=display_domain(form.site.domain),
        english_domain=form.site.english_domain,
        approved_on=localtime.today(approved[-1], zone) if approved else None,
    )


def render_letter(application: Application, *, zone: ZoneInfo) -> str:
    """The letter, dated the day CONAC approved in ``zone`` (``[calendar] timezone``)."""
    return _env.get_template("letter.html").render(doc=_context(application, zone))


def render_form(application: Application, *, zone: ZoneInfo) -> str:
    return _env.get_template("form.html").render(doc=_context(application, zone))
