"""修改密码: every person changes their own password; their other sessions end."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from store.db import transaction
from store.models import Role, User
from web import accounts, audit, lockout, sessions
from web.context import client_address, state
from web.permissions import allow

bp = Blueprint("account", __name__, url_prefix="/account")


def _long_enough(form: FlaskForm, field: PasswordField) -> None:
    if not accounts.password_long_enough(field.data or ""):
        raise ValidationError(accounts.password_rule_text())


class PasswordForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[DataRequired("请输入新密码"), _long_enough])
    repeat = PasswordField(
        "再次输入新密码",
        validators=[DataRequired("请再次输入新密码"), EqualTo("new", "两次输入的新密码不一致")],
    )


@bp.route("/password", methods=["GET", "POST"])
@allow(Role.UNIT_HANDLER, Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER, Role.OPERATOR)
def password() -> str | Response:
    form = PasswordForm()
    if form.validate_on_submit():
        st = state()
        address = client_address()
        with transaction(st.sessions) as db:
            user = db.get(User, g.user.id)
            assert user is not None and user.login is not None  # the session's own user
            # Guessing the current password counts as failed logins, and is locked out alike.
            lifts = lockout.check(db, user.login, address, st.now(), st.web)
            if lifts is not None:
                form.current.errors.append(lockout.message(lifts, st.zone))
            elif not accounts.verify_password(user.password_hash, form.current.data or ""):
                lockout.fail(db, user.login, address, st.now(), st.web)
                lifts = lockout.check(db, user.login, address, st.now(), st.web)
                form.current.errors.append(
                    lockout.message(lifts, st.zone) if lifts is not None else "当前密码不正确"
                )
            else:
                user.password_hash = accounts.hash_password(form.new.data or "")
                sessions.end_all(db, user.id, keep=request.cookies.get(sessions.COOKIE))
                audit.record(db, action="user.passwd", now=st.now(), user=user,
                             address=address, object_type="user", object_id=user.id)
        if not form.current.errors:
            flash("密码已修改，您在其他地方的登录已退出。")
            return redirect(url_for("home.index"))
    return render_template("password.html", form=form, rule=accounts.password_rule_text())
