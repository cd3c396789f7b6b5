"""The operator's pages: 用户管理 (add, reset a password, 停用), 编办管理 (list, add), 网站导入
(the CSV import of ``workflow.importer``: all or nothing, every bad line named) and 监测状态
(what ``badgewatch monitor status`` shows). Every change is audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from badgewatch.localtime import cn_date
from badgewatch.vocabulary import CRAWL_KIND_LABELS, ENGINE_LABELS, LEVEL_LABELS, ROLE_LABELS
from monitor.engine import engine_status
from monitor.watchdog import health
from store.db import transaction
from store.models import Office, OfficeLevel, Role, Unit, User
from web import accounts, audit, sessions
from web.context import client_address, state
from web.permissions import allow, person_or_404, visible_people
from workflow.importer import ImportInvalid, LineError, import_sites

bp = Blueprint("operators", __name__, url_prefix="/operator")

PEOPLE_ROLES = (Role.UNIT_HANDLER, Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER, Role.OPERATOR)
# The level an office's parent has (the CLI's ``office add`` keeps the same rule).
PARENT_LEVELS = {
    OfficeLevel.PROVINCE: OfficeLevel.CENTRAL,
    OfficeLevel.PREFECTURE: OfficeLevel.PROVINCE,
    OfficeLevel.COUNTY: OfficeLevel.PREFECTURE,
}


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    login: str
    place: str
    disabled: bool


def _new_password(form: FlaskForm, field: PasswordField) -> None:
    if not accounts.password_long_enough(field.data or ""):
        raise ValidationError(accounts.password_rule_text())


class UserForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    name = StringField("姓名", validators=[DataRequired("请输入姓名"), Length(max=200)])
    role = SelectField(
        "角色", choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in PEOPLE_ROLES]
    )
    unit = SelectField("所属单位（单位经办人）", choices=[], validate_choice=False)
    office = SelectField("所属编办（编办审核人员）", choices=[], validate_choice=False)
    login = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("初始密码", validators=[DataRequired("请输入初始密码"), _new_password])
    email = EmailField("电子邮箱", validators=[Optional(), Email("电子邮箱格式不正确")])
    mobile = StringField("手机", validators=[Optional(), Length(max=32)])


class ResetForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("新密码", validators=[DataRequired("请输入新密码"), _new_password])


class DisableForm(FlaskForm):  # type: ignore[misc]
    """停用: nothing to fill in but the CSRF token."""


class OfficeForm(FlaskForm):  # type: ignore[misc]
    code = StringField("编办代码", validators=[DataRequired("请输入编办代码")])
    name = StringField("编办名称", validators=[DataRequired("请输入编办名称"), Length(max=200)])
    level = SelectField(
        "层级", choices=[SelectChoice(lv.value, LEVEL_LABELS[lv]) for lv in OfficeLevel]
    )
    parent = SelectField("上级编办", choices=[], validate_choice=False)
    email = EmailField("电子邮箱（每日汇总发往此处）",
                       validators=[Optional(), Email("电子邮箱格式不正确")])


class ImportForm(FlaskForm):  # type: ignore[misc]
    file = FileField("网站清单（CSV 文件）", validators=[FileRequired("请选择要导入的 CSV 文件")])


def _place_names(db: Session) -> tuple[dict[int, str], dict[int, str]]:
    units = {unit.id: unit.name for unit in db.scalars(select(Unit).order_by(Unit.name))}
    offices = {o.id: f"{o.code} {o.name}" for o in db.scalars(select(Office).order_by(Office.code))}
    return units, offices


def _user_rows(db: Session) -> list[UserRow]:
    units, offices = _place_names(db)
    return [
        UserRow(
            id=user.id,
            name=user.name,
            role=ROLE_LABELS[user.role],
            login=user.login or "",
            place=units.get(user.unit_id or 0) or offices.get(user.office_id or 0) or "",
            disabled=user.disabled_at is not None,
        )
        for user in db.scalars(visible_people(g.user).order_by(User.role, User.name))
    ]


def _record(db: Session, action: str, object_type: str, object_id: object,
            detail: dict[str, Any] | None = None) -> None:
    audit.record(db, action=action, now=state().now(), user=g.user, address=client_address(),
                 object_type=object_type, object_id=object_id, detail=detail)


def _choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """A select's options: none chosen ("—"), then each (value, label)."""
    return [SelectChoice("", "—"), *(SelectChoice(value, label) for value, label in pairs)]


@bp.route("/")
@allow(Role.OPERATOR)
def index() -> str:
    with transaction(state().sessions) as db:
        users = _user_rows(db)
    return render_template("operator_home.html", users=users)


@bp.route("/users/new", methods=["GET", "POST"])
@allow(Role.OPERATOR)
def add_user() -> str | Response:
    form = UserForm()
    with transaction(state().sessions) as db:
        units, offices = _place_names(db)
        form.unit.choices = _choices((str(k), v) for k, v in units.items())
        form.office.choices = _choices((str(k), v) for k, v in offices.items())
        valid = form.validate_on_submit()
        if form.is_submitted() and _check_user(db, form, units, offices) and valid:
            login = accounts.normal_login(form.login.data)
            user = User(
                name=form.name.data.strip(), role=Role(form.role.data), login=login,
                password_hash=accounts.hash_password(form.password.data),
                unit_id=int(form.unit.data) if form.role.data == Role.UNIT_HANDLER else None,
                office_id=(int(form.office.data)
                           if form.role.data == Role.OFFICE_REVIEWER else None),
                email=form.email.data or None, mobile=form.mobile.data or None,
            )
            db.add(user)
            db.flush()
            _record(db, "user.add", "user", user.id, {"login": login, "role": user.role.value})
            flash(f"已添加用户 {user.name}（{login}）。")
            return redirect(url_for("operators.index"))
    return render_template("operator_user_new.html", form=form, rule=accounts.password_rule_text())


def _check_user(db: Session, form: UserForm, units: dict[int, str],
                offices: dict[int, str]) -> bool:
    """The checks across fields and against the database; errors beside their fields."""
    ok = True
    login = accounts.normal_login(form.login.data or "")
    if not accounts.valid_login(login):
        form.login.errors.append("用户名为 3 至 64 个字母、数字或 . _ @ -，以字母或数字开头")
        ok = False
    elif db.scalar(select(User.id).where(User.login == login)) is not None:
        form.login.errors.append("该用户名已被使用")
        ok = False
    role = Role(form.role.data)
    places = (
        (Role.UNIT_HANDLER, form.unit, units, "单位经办人须选择所属单位", "所选单位不存在"),
        (Role.OFFICE_REVIEWER, form.office, offices, "编办审核人员须选择所属编办",
         "所选编办不存在"),
    )
    for needs, field, known, missing, unknown in places:
        if role is not needs:
            continue
        if not (field.data or "").isdigit():
            field.errors.append(missing)
        elif int(field.data) not in known:
            field.errors.append(unknown)
    return ok and not (form.unit.errors or form.office.errors)


@bp.route("/users/<int:user_id>", methods=["GET"])
@allow(Role.OPERATOR)
def user(user_id: int) -> str:
    return _user_page(user_id, ResetForm())


def _user_page(user_id: int, reset: ResetForm) -> str:
    with transaction(state().sessions) as db:
        person = person_or_404(db, g.user, user_id)
        (row,) = [r for r in _user_rows(db) if r.id == person.id]
    return render_template("operator_user.html", person=row, reset=reset, disable=DisableForm())


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@allow(Role.OPERATOR)
def reset_password(user_id: int) -> str | Response:
    form = ResetForm()
    if not form.validate_on_submit():
        return _user_page(user_id, form)
    with transaction(state().sessions) as db:
        person = person_or_404(db, g.user, user_id)
        if person.login is None:
            abort(404)
        person.password_hash = accounts.hash_password(form.password.data)
        sessions.end_all(db, person.id)
        _record(db, "user.reset_password", "user", person.id)
        name = person.name
    flash(f"已重置 {name} 的密码，其已登录的会话均已退出。")
    return redirect(url_for("operators.user", user_id=user_id))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@allow(Role.OPERATOR)
def disable(user_id: int) -> Response:
    DisableForm().validate_on_submit()
    with transaction(state().sessions) as db:
        person = person_or_404(db, g.user, user_id)
        if person.id == g.user.id:
            flash("不能停用自己的账号。")
            return redirect(url_for("operators.user", user_id=user_id))
        if person.disabled_at is None:
            person.disabled_at = state().now()
            sessions.end_all(db, person.id)
            _record(db, "user.disable", "user", person.id)
        name = person.name
    flash(f"已停用 {name} 的账号。")
    return redirect(url_for("operators.user", user_id=user_id))


@bp.route("/offices", methods=["GET", "POST"])
@allow(Role.OPERATOR)
def offices() -> str | Response:
    form = OfficeForm()
    with transaction(state().sessions) as db:
        listed = list(db.scalars(select(Office).order_by(Office.code)))
        form.parent.choices = _choices((o.code, f"{o.code} {o.name}") for o in listed)
        valid = form.validate_on_submit()
        if form.is_submitted() and _check_office(db, form) and valid:
            parent = db.scalar(select(Office).where(Office.code == form.parent.data))
            office = Office(code=form.code.data.strip(), name=form.name.data.strip(),
                            level=OfficeLevel(form.level.data), parent=parent,
                            email=form.email.data or None)
            db.add(office)
            db.flush()
            _record(db, "office.add", "office", office.code)
            flash(f"已添加编办 {office.code} {office.name}。")
            return redirect(url_for("operators.offices"))
        rows = [
            {"code": o.code, "name": o.name, "level": LEVEL_LABELS[o.level],
             "parent": f"{o.parent.code} {o.parent.name}" if o.parent else "—",
             "email": o.email or "—"}
            for o in listed
        ]
    return render_template("operator_offices.html", form=form, offices=rows)


def _check_office(db: Session, form: OfficeForm) -> bool:
    code = form.code.data.strip()
    level = OfficeLevel(form.level.data)
    if level is not OfficeLevel.CENTRAL and not (len(code) == 6 and code.isdigit()):
        form.code.errors.append("编办代码应为 6 位行政区划代码")
    elif db.scalar(select(Office.id).where(Office.code == code)) is not None:
        form.code.errors.append("该编办代码已存在")
    parent = db.scalar(select(Office).where(Office.code == (form.parent.data or "")))
    expected = PARENT_LEVELS.get(level)
    if parent is None and level in (OfficeLevel.PREFECTURE, OfficeLevel.COUNTY):
        form.parent.errors.append(f"{LEVEL_LABELS[level]}编办须选择上级编办")
    elif parent is not None and parent.level is not expected:
        wanted = LEVEL_LABELS[expected] if expected else "无"
        form.parent.errors.append(f"{LEVEL_LABELS[level]}编办的上级应为{wanted}编办")
    return not (form.code.errors or form.parent.errors)


@bp.route("/import", methods=["GET", "POST"])
@allow(Role.OPERATOR)
def import_file() -> str:
    form = ImportForm()
    errors: tuple[LineError, ...] = ()
    result = None
    if form.validate_on_submit():
        st = state()
        data = form.file.data.read()
        try:
            with transaction(st.sessions) as db:
                result = import_sites(
                    db, data, calendar=st.calendar,
                    placement_days=st.config.deadlines.placement_days,
                    now=st.now(), zone=st.zone,
                )
                _record(db, "sites.import", "import", form.file.data.filename or "-", {
                    "created": result.created, "updated": result.updated,
                    "unchanged": result.unchanged,
                })
        except ImportInvalid as exc:
            errors = exc.errors
    return render_template("operator_import.html", form=form, errors=errors, result=result)


@bp.route("/monitor")
@allow(Role.OPERATOR)
def monitor() -> str:
    st = state()
    with transaction(st.sessions) as db:
        data = health(db, now=st.now(), config=st.config)
        engine = engine_status(db, now=st.now(), config=st.config)

    def shown(iso: str | None) -> str:
        return st.local_text(datetime.fromisoformat(iso)) if iso else "—"

    return render_template(
        "operator_monitor.html", data=data, engine=engine.to_json(), shown=shown,
        engine_label=ENGINE_LABELS[engine.engine], kind_labels=CRAWL_KIND_LABELS,
        night_shown=lambda iso: cn_date(date.fromisoformat(iso)),
    )
