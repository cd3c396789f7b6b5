"""登录 and 退出: passwords checked against argon2id hashes, lockout, a new session at login."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from store.db import transaction
from store.models import Role, User
from web import accounts, audit, lockout, sessions
from web.context import client_address, state
from web.permissions import allow, public

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    login = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only, never another host (``//evil``,
    ``https://…``, ``/\\evil``), else the home page."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("home.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response:
    form = LoginForm()
    target = request.args.get("next")
    if g.user is not None and request.method == "GET":
        return redirect(safe_next(target))
    problem = None
    if form.validate_on_submit():
        problem = _attempt(form.login.data or "", form.password.data or "")
        if problem is None:
            return redirect(safe_next(target))
    return render_template("login.html", form=form, problem=problem)


def _attempt(typed: str, password: str) -> str | None:
    """Log in: None on success (a new session cookie is set), else the message to show."""
    st = state()
    now = st.now()
    address = client_address()
    login_name = accounts.normal_login(typed)[:64]
    with transaction(st.sessions) as db:
        lifts = lockout.check(db, login_name, address, now, st.web)
        if lifts is not None:
            audit.record(db, action="login.locked", now=now, user=None, actor=login_name,
                         address=address)
            return lockout.message(lifts, st.zone)
        user = db.scalar(select(User).where(User.login == login_name))
        good = accounts.verify_password(user.password_hash if user else None, password)
        if user is None or not good or user.role is Role.SYSTEM or user.disabled_at is not None:
            lockout.fail(db, login_name, address, now, st.web)
            audit.record(db, action="login.failed", now=now, user=None, actor=login_name,
                         address=address)
            lifts = lockout.check(db, login_name, address, now, st.web)
            return lockout.message(lifts, st.zone) if lifts is not None else "用户名或密码错误。"
        if user.password_hash and accounts.needs_rehash(user.password_hash):
            user.password_hash = accounts.hash_password(password)
        lockout.succeed(db, login_name)
        old = request.cookies.get(sessions.COOKIE)
        if old:
            sessions.end(db, old)
        token = sessions.start(db, user, address, now, st.web)
        audit.record(db, action="login", now=now, user=user, address=address)
    g.new_session_token = token
    session.pop("csrf_token", None)  # a new CSRF token with the new session
    return None


@bp.route("/logout", methods=["POST"])
@allow(Role.UNIT_HANDLER, Role.OFFICE_REVIEWER, Role.CONAC_REVIEWER, Role.OPERATOR)
def logout() -> Response:
    st = state()
    token = request.cookies.get(sessions.COOKIE)
    with transaction(st.sessions) as db:
        if token:
            sessions.end(db, token)
        audit.record(db, action="logout", now=st.now(), user=g.user, address=client_address())
    session.clear()
    response = redirect(url_for("auth.login"))
    response.delete_cookie(sessions.COOKIE)
    flash("您已退出。")
    return response


@bp.after_app_request
def _set_session_cookie(response: Response) -> Response:
    token = g.get("new_session_token")
    if token:
        web = state().web
        response.set_cookie(
            sessions.COOKIE,
            token,
            max_age=int(web.session_max_hours * 3600),
            httponly=True,
            samesite="Lax",
            secure=web.secure_cookies,
        )
    return response
