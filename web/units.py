"""The unit handler's pages: 网站开办审核/资质复核申请 (申请说明, 新增申请, 我的申请), the
application form of seed figures 6-8, the printable letter and form, and 标识管理.

Every action goes through the workflow (``workflow.service``), as the CLI's ``badgewatch app``
does, and is audited; what a unit may see comes from ``web.permissions``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from badgewatch.domains import FieldInvalid, display_domain
from badgewatch.resolver import make_resolver
from badgewatch.vocabulary import RED_PAGE_NOTE, STATE_LABELS
from store.db import transaction
from store.models import Application, RedPage, Role, Site, Unit, User
from web import audit, verification
from web.applyform import KIND_HINTS, SITE_HINT, ApplicationPage, add_error
from web.context import WebState, client_address, state
from web.permissions import allow, application_or_404, visible_applications, visible_sites
from web.printing import printable
from web.rows import listed
from workflow import fields
from workflow.documents import PRINTABLE, render_form, render_letter
from workflow.errors import CheckUnavailable, WorkflowError
from workflow.form import FormInvalid, parse_form
from workflow.machine import EDITABLE, REJECTED
from workflow.service import Actor, Workflow, changing

bp = Blueprint("units", __name__, url_prefix="/unit")

# 申请说明 (seed figure 4): what a unit prepares before 新增申请, and the steps that follow.
GUIDE = (
    "党政机关开办网站，须提交申请，由机构编制部门进行开办审核和资格复核。",
    "点击“新增申请”，认真填报单位基本信息、网站主要负责人信息、申请类型和网站信息；"
    "IP 地址必须填写域名解析时设置的 IP 地址，如不清楚，请联系您的域名注册商索取。"
    "填写后可先保存草稿，核对无误后点击“提交申请”。",
    "同级机构编制部门对单位资质、联系人、网站名称、域名名称等信息进行审核，之后由 CONAC "
    "进行复审。如审核不通过，可在“我的申请”中查看不通过原因，修改后重新提交申请。",
    "同级编办和 CONAC 都在线审核通过后，点击“打印申请函”和“打印申请表”，加盖单位公章，"
    "连同经办人身份证复印件等资料，报送至同级机构编制部门备案。",
    "机构编制部门确认纸质材料后，系统生成网站标识代码，并通过短信和邮件告知单位。单位须在"
    "收到通知之日起 5 个工作日内，在“标识管理”中获取标识代码，复制并粘贴到网站所有页面代码的 "
    "</body> 前，完成挂标。",
)
CODE_PURPOSE = "apply"


@dataclass(frozen=True)
class Action:
    label: str
    url: str


def _workflow(st: WebState) -> Workflow:
    return Workflow(st.config, st.calendar)


def _actor(unit: Unit) -> Actor:
    return Actor(Role.UNIT_HANDLER, unit.name)


def _actions(application: Application) -> list[Action]:
    """查看审核结果 always; 打印 once both online reviews passed; 修改 or 重新提交 while the
    unit may change it."""
    found = [Action("查看审核结果", url_for("applications.show", application_id=application.id))]
    if application.state in PRINTABLE:
        found += [
            Action("打印申请函", url_for("units.letter", application_id=application.id)),
            Action("打印申请表", url_for("units.form", application_id=application.id)),
        ]
    if application.state in EDITABLE:
        label = "重新提交" if application.state in REJECTED else "修改"
        found.append(Action(label, url_for("units.edit", application_id=application.id)))
    return found


def _rejection(application: Application) -> str | None:
    """Why the last review said no, while the application stays rejected."""
    if application.state not in REJECTED or not application.transitions:
        return None
    return application.transitions[-1].reason


@bp.route("/")
@allow(Role.UNIT_HANDLER)
def index() -> str:
    with transaction(state().sessions) as db:
        sites = list(db.scalars(visible_sites(g.user).order_by(Site.name, Site.id)))
        red_pages = set(db.scalars(
            select(RedPage.site_id).where(RedPage.site_id.in_([site.id for site in sites]))
        ))
        applications = list(db.scalars(visible_applications(g.user)))
        actions = {a.id: _actions(a) for a in applications}
        reasons = {a.id: _rejection(a) for a in applications}
    return render_template(
        "unit_home.html",
        guide=GUIDE,
        applications=listed(newest_first=True),
        row_actions=actions,
        reasons=reasons,
        sites=sites,
        domains={site.id: display_domain(site.domain) for site in sites},
        red_pages=red_pages,
        state_names=STATE_LABELS,
    )


def _unit(db: Session) -> Unit:
    unit = db.get(Unit, g.user.unit_id)
    if unit is None:
        abort(404)
    return unit


@bp.route("/applications/new", methods=["GET", "POST"])
@allow(Role.UNIT_HANDLER)
def new() -> str | Response:
    return _form_page(None)


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@allow(Role.UNIT_HANDLER)
def edit(application_id: int) -> str | Response:
    return _form_page(application_id)


def _form_page(application_id: int | None) -> str | Response:
    """GET shows the form (filled from the stored one when editing); POST either sends a
    验证码 (获取验证码), or saves a draft, or saves and submits (提交申请)."""
    st = state()
    form = ApplicationPage()
    with transaction(st.sessions) as db:
        unit = _unit(db)
        office_code = unit.office.code
        sites = _own_sites(db)
        form.offer_sites([
            (identifier, f"{site.domain}（{site.name}，{identifier}）")
            for identifier, site in sites.items()
        ])
        reason = None
        serial = None
        if application_id is not None:
            application = application_or_404(db, g.user, application_id)
            if application.state not in EDITABLE:
                abort(404)
            reason = _rejection(application)
            serial = application.serial
            if request.method == "GET":
                form.fill(application.form)
        elif request.method == "GET":
            _fill_from_account(form, unit, g.user)
    form.unit_name.data = unit.name  # a unit applies for itself only
    problems: list[str] = []
    if request.method == "POST":
        if form.kind.data == "rereview":
            _fill_chosen(form, sites.get(form.site_identifier.data or ""))
        action = request.form.get("action", "draft")
        if action == "code":
            _send_code(form, st)
        else:
            done = _save(form, st, office_code, application_id, problems, submit=action == "submit")
            if done is not None:
                return done
    return render_template(
        "apply.html",
        form=form,
        kind_hints=KIND_HINTS,
        site_hint=SITE_HINT,
        problems=problems,
        reason=reason,
        editing=application_id,
        serial=serial,
        red_page_note=_red_page_note(st),
    )


@dataclass(frozen=True)
class OwnSite:
    """One of the unit's sites, as a re-review may choose it."""

    domain: str  # as people read it
    name: str
    red_page: bool


def _own_sites(db: Session) -> dict[str, OwnSite]:
    """The unit's sites by identifier, in the order the form offers them."""
    sites = list(db.scalars(visible_sites(g.user).order_by(Site.name, Site.id)))
    red = set(db.scalars(select(RedPage.site_id).where(RedPage.site_id.in_([s.id for s in sites]))))
    return {site.identifier: OwnSite(display_domain(site.domain), site.name, site.id in red)
            for site in sites}


def _fill_chosen(form: ApplicationPage, site: OwnSite | None) -> None:
    """A re-review's chosen site gives what was left empty (its name and domain); a red page's
    re-review is a red page's (its addresses are the platform's)."""
    if site is None:
        return
    if not (form.site_domain.data or "").strip():
        form.site_domain.data = site.domain
    if not (form.site_name.data or "").strip():
        form.site_name.data = site.name
    if site.red_page:
        form.site_red_page.data = True


def _red_page_note(st: WebState) -> str | None:
    """The form offers 网络红页 only where the deployment serves red pages."""
    address = st.config.redpages.address
    return RED_PAGE_NOTE.format(address=address) if address is not None else None


def _fill_from_account(form: ApplicationPage, unit: Unit, user: User) -> None:
    """A new form starts with what the unit and its handler already told us."""
    form.unit_org_type.data = unit.org_type
    form.unit_address.data = unit.address or ""
    form.unit_functions.data = unit.functions or ""
    form.handler_name.data = user.name
    form.handler_mobile.data = fields.display_phone(user.mobile) if user.mobile else ""
    form.handler_email.data = user.email or ""
    form.kind.data = "new"


def _send_code(form: ApplicationPage, st: WebState) -> None:
    """获取验证码 for the handler's mobile as typed; the rest of the form is kept as typed."""
    try:
        mobile = fields.mobile(form.handler_mobile.data or "")
    except FieldInvalid as exc:
        add_error(form.handler_mobile, exc.message)
        return
    try:
        flash(verification.request_code(st, purpose=CODE_PURPOSE, mobile=mobile, user=g.user))
    except verification.CodeRefused as exc:
        add_error(form.code, exc.message)


def _save(
    form: ApplicationPage,
    st: WebState,
    office_code: str,
    application_id: int | None,
    problems: list[str],
    *,
    submit: bool,
) -> Response | None:
    """The workflow's parse (and DNS check) of what was typed, then create or update, and
    submit: all in one transaction. None (errors put on ``form`` and ``problems``) when
    nothing was saved."""
    try:
        parsed = parse_form(form.workflow_data(office_code), resolver=make_resolver(st.config.dns),
                            red_page_address=st.config.redpages.address)
    except FormInvalid as exc:
        problems.extend(form.show_errors(exc.errors))
        return None
    except CheckUnavailable as exc:
        problems.append(str(exc))  # our resolver's failure: said as ours, nothing saved
        return None
    now = st.now()
    code_id = None
    if parsed.handler.mobile != g.user.mobile:
        checked = verification.check(st.sessions, purpose=CODE_PURPOSE,
                                     mobile=parsed.handler.mobile,
                                     typed=form.code.data or "", now=now)
        if checked.problem is not None:
            add_error(form.code, checked.problem)
            return None
        code_id = checked.code_id
    workflow = _workflow(st)
    address = client_address()
    try:
        with changing(st.sessions, application_id or 0) as db:
            unit = _unit(db)
            actor = _actor(unit)
            if application_id is None:
                application = workflow.create(db, parsed, actor, now)
                action = "application.create"
            else:
                application_or_404(db, g.user, application_id)
                application = workflow.update(db, application_id, parsed, actor, now)
                action = "application.update"
            audit.record(db, action=action, now=now, user=g.user, address=address,
                         object_type="application", object_id=application.id)
            if submit:
                workflow.submit(db, application.id, actor, now)
                audit.record(db, action="application.submit", now=now, user=g.user,
                             address=address, object_type="application",
                             object_id=application.id)
            if code_id is not None and not verification.use(db, code_id, now):
                raise WorkflowError("验证码已被使用，请重新获取。")
            saved_id = application.id
            serial = application.serial
    except FormInvalid as exc:  # the domain is not the unit's to claim (workflow.claims)
        problems.extend(form.show_errors(exc.errors))
        return None
    except WorkflowError as exc:
        problems.append(str(exc))
        return None
    flash(f"申请 {serial} 已提交，请等待同级编办审核。" if submit
          else f"申请 {saved_id} 已保存为草稿，核对无误后请提交申请。")
    return redirect(url_for("units.index"))


@bp.route("/applications/<int:application_id>/letter")
@allow(Role.UNIT_HANDLER)
def letter(application_id: int) -> Response:
    """打印申请函: the same document as ``badgewatch app print --letter``."""
    return _document(application_id, letter=True)


@bp.route("/applications/<int:application_id>/form")
@allow(Role.UNIT_HANDLER)
def form(application_id: int) -> Response:
    """打印申请表: the same document as ``badgewatch app print --form``."""
    return _document(application_id, letter=False)


def _document(application_id: int, *, letter: bool) -> Response:
    st = state()
    with transaction(st.sessions) as db:
        application = application_or_404(db, g.user, application_id)
        if application.state not in PRINTABLE:
            abort(404)
        render = render_letter if letter else render_form
        html = render(application, zone=st.zone)
    return printable(html)

