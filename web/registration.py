"""新用户注册: a unit registers itself and its handler, whose mobile is proved by a 验证码.

The unit's and handler's fields are checked by the application form's own validators
(``workflow.form.VALIDATORS``), so what registration accepts the form accepts too. The unit and
its handler's account are created in one transaction, or not at all.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms import Field, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from badgewatch.domains import FieldInvalid
from store.db import transaction
from store.models import Office, Role, Unit, User
from web import accounts, audit, verification
from web.applyform import add_error
from web.context import WebState, client_address, state
from web.permissions import public
from workflow import fields
from workflow.form import LABELS, ORG_TYPES, VALIDATORS

bp = Blueprint("registration", __name__)

CODE_PURPOSE = "register"


class RegistrationForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    unit_name = StringField("单位名称")
    org_type = SelectField(LABELS["unit.org_type"], choices=list(ORG_TYPES), validate_choice=False)
    address = StringField(LABELS["unit.address"])
    office = SelectField("同级编办", choices=[], validate_choice=False)
    handler_name = StringField(LABELS["handler.name"])
    mobile = StringField(LABELS["handler.mobile"])
    code = StringField("验证码", render_kw={"inputmode": "numeric", "maxlength": 6})
    email = StringField(LABELS["handler.email"])
    login = StringField("用户名")
    password = PasswordField("密码")
    repeat = PasswordField("确认密码")


# Each field checked as the application form checks the same field.
_CHECKED = {
    "unit_name": "unit.name",
    "org_type": "unit.org_type",
    "address": "unit.address",
    "handler_name": "handler.name",
    "mobile": "handler.mobile",
    "email": "handler.email",
}


def _checked(field: Field, path: str) -> str | None:
    """The canonical value, or None with the error put beside the field."""
    raw = field.data or ""
    if not raw.strip():
        add_error(field, "必填项，不能为空")
        return None
    try:
        fields.plain_text(raw)
        return VALIDATORS[path](raw)
    except FieldInvalid as exc:
        add_error(field, exc.message)
        return None


@bp.route("/register", methods=["GET", "POST"])
@public
def register() -> str | Response:
    st = state()
    form = RegistrationForm()
    with transaction(st.sessions) as db:
        form.office.choices = [SelectChoice("", "请选择")] + [
            SelectChoice(o.code, f"{o.code} {o.name}")
            for o in db.scalars(select(Office).order_by(Office.code))
        ]
    if request.method == "POST":
        if request.form.get("action") == "code":
            _send_code(form, st)
        elif _register(form, st):
            flash("注册成功，请使用新账号登录。")
            return redirect(url_for("auth.login"))
    return render_template("register.html", form=form, rule=accounts.password_rule_text())


def _send_code(form: RegistrationForm, st: WebState) -> None:
    mobile = _checked(form.mobile, "handler.mobile")
    if mobile is None:
        return
    try:
        flash(verification.request_code(st, purpose=CODE_PURPOSE, mobile=mobile, user=None))
    except verification.CodeRefused as exc:
        add_error(form.code, exc.message)


def _values(form: RegistrationForm) -> dict[str, Any] | None:
    """Every field checked (all errors shown at once); None when any is wrong."""
    values = {name: _checked(form[name], path) for name, path in _CHECKED.items()}
    login = accounts.normal_login(form.login.data or "")
    if not accounts.valid_login(login):
        add_error(form.login, "用户名为 3 至 64 个字母、数字或 . _ @ -，以字母或数字开头")
    password = form.password.data or ""
    if not accounts.password_long_enough(password):
        add_error(form.password, accounts.password_rule_text())
    elif password != (form.repeat.data or ""):
        add_error(form.repeat, "两次输入的密码不一致")
    if not form.office.data:
        add_error(form.office, "请选择同级编办")
    if any(form[name].errors for name in form._fields):
        return None
    return values | {"login": login, "password": password, "office": form.office.data}


def _taken(form: RegistrationForm, st: WebState, values: dict[str, Any]) -> bool:
    """The unit or the login already exists (errors beside them); an unknown office too."""
    with transaction(st.sessions) as db:
        if db.scalar(select(Unit.id).where(Unit.name == values["unit_name"])) is not None:
            add_error(form.unit_name, "该单位已注册，请使用已有账号登录，或联系同级编办")
        if db.scalar(select(User.id).where(User.login == values["login"])) is not None:
            add_error(form.login, "该用户名已被使用，请换一个")
        if db.scalar(select(Office.id).where(Office.code == values["office"])) is None:
            add_error(form.office, "请选择同级编办")
    return bool(form.unit_name.errors or form.login.errors or form.office.errors)


def _register(form: RegistrationForm, st: WebState) -> bool:
    values = _values(form)
    if values is None or _taken(form, st, values):
        return False
    now = st.now()
    checked = verification.check(st.sessions, purpose=CODE_PURPOSE, mobile=values["mobile"],
                                 typed=form.code.data or "", now=now)
    if checked.code_id is None:
        add_error(form.code, checked.problem or "")
        return False
    password_hash = accounts.hash_password(values["password"])
    try:
        with transaction(st.sessions) as db:
            office = db.scalar(select(Office).where(Office.code == values["office"]))
            unit = Unit(name=values["unit_name"], office=office, org_type=values["org_type"],
                        address=values["address"])
            db.add(unit)
            db.flush()
            user = User(name=values["handler_name"], role=Role.UNIT_HANDLER, unit_id=unit.id,
                        email=values["email"], mobile=values["mobile"], login=values["login"],
                        password_hash=password_hash)
            db.add(user)
            db.flush()
            if not verification.use(db, checked.code_id, now):
                raise _CodeUsed
            audit.record(db, action="unit.register", now=now, user=user,
                         address=client_address(), object_type="unit", object_id=unit.id)
    except _CodeUsed:
        add_error(form.code, "验证码已被使用，请重新获取。")
        return False
    except IntegrityError:  # registered by someone else at the same moment
        add_error(form.unit_name, "该单位或用户名已被注册，请检查后重试")
        return False
    return True


class _CodeUsed(Exception):
    """Another request used the same code first: roll the registration back."""
