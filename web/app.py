"""The application factory: ``create_app(config)`` builds the web application (tests build
their own); ``create_app_from_env()`` is what gunicorn runs in production."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from importlib.resources import files

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from badgewatch.config import Config, load_config, web_secret_key
from badgewatch.runtime import Runtime, utcnow
from badgewatch.templating import HTML_OPTIONS
from badgewatch.vocabulary import ROLE_LABELS
from store.db import transaction
from web import sessions
from web.context import EXTENSION, WebState, state
from web.permissions import check_request, place_name, public

# No inline script or style anywhere: pages load /static/*.css and, later, /static/*.js.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The stylesheets, read once: the report's own (shared with the static reports) and the forms'.
STYLESHEETS = {
    "report.css": files("reports") / "templates" / "report.css",
    "web.css": files("web") / "static" / "web.css",
}


class _App(Flask):
    # autoescape, StrictUndefined: as the documents and reports
    jinja_options = dict(HTML_OPTIONS)  # noqa: RUF012 - Flask's own class attribute


def create_app(
    config: Config,
    *,
    secret_key: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Flask:
    """The web application on ``config``'s database. ``secret_key`` defaults to
    ``BADGEWATCH_WEB_SECRET_KEY`` (a ``ConfigError`` naming it when missing); the demo passes
    one of its own. The database must be migrated (``DatabaseNotReady`` otherwise)."""
    runtime = Runtime(config)
    runtime.require_schema()
    app = _App(__name__, static_folder=None)
    web = config.web
    app.config.update(
        SECRET_KEY=secret_key if secret_key is not None else web_secret_key(),
        # Flask's own (signed) cookie carries only the CSRF token and one-time messages; who is
        # logged in lives in the database (web.sessions).
        SESSION_COOKIE_NAME="bw_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the browser's cookie
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.extensions[EXTENSION] = WebState(
        config=config,
        engine=runtime.engine,
        sessions=runtime.sessions,
        calendar=runtime.calendar,
        clock=clock,
    )
    if web.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=web.trusted_proxies, x_proto=web.trusted_proxies
        )
    # A red page's domain is answered before any session or login logic (web.redpages).
    app.before_request(_serve_red_page)
    app.before_request(_load_user)
    app.before_request(check_request)
    CSRFProtect(app)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(HTTPException, _http_error)
    app.add_url_rule("/static/<name>", "static", _stylesheet)
    app.context_processor(_page_context)

    from web import (  # noqa: PLC0415
        account,
        applications,
        auth,
        badges,
        compliance,
        conac,
        home,
        offices,
        operators,
        redpages,
        registration,
        selfcheck,
        siteinfo,
        units,
    )

    for blueprint in (auth.bp, account.bp, home.bp, applications.bp, units.bp, offices.bp,
                      conac.bp, operators.bp, registration.bp, badges.bp, selfcheck.bp,
                      compliance.bp, redpages.bp, siteinfo.bp):
        app.register_blueprint(blueprint)
    return app


def create_app_from_env() -> Flask:
    """For gunicorn: ``gunicorn -w 4 'web.app:create_app_from_env()'``; the settings as every
    command reads them (``BADGEWATCH_CONFIG`` and ``BADGEWATCH_*``)."""
    return create_app(load_config())


def demo_secret_key() -> str:
    """The demo's key: a new one each run, so its cookies die with it."""
    return secrets.token_hex(32)


def _serve_red_page() -> Response | None:
    from web.redpages import serve  # noqa: PLC0415 - the blueprints are imported late too

    return serve()


def _load_user() -> None:
    """``g.user`` from the session cookie; an expired session is ended on the way."""
    g.user = None
    g.place = ""
    g.session_expired = False
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        return
    st = state()
    with transaction(st.sessions) as db:
        found = sessions.find(db, token, st.now(), st.web)
        if found.session is not None:
            g.user = found.session.user
            g.place = place_name(db, g.user)
    g.session_expired = found.expired


@public
def _stylesheet(name: str) -> Response:
    source = STYLESHEETS.get(name)
    if source is None:
        return _http_error_response(404)
    response = Response(source.read_bytes(), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


def _security_headers(response: Response) -> Response:
    # A view may widen it for one response (web.printing: the documents' own style, by hash).
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages and downloads are one person's: stored by no cache, unless a view set its own
    # policy (the stylesheets, the evidence screenshots).
    if response.mimetype == "text/html" or "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    if g.get("session_expired") and sessions.COOKIE not in _cookies_set(response):
        response.delete_cookie(sessions.COOKIE)
    return response


def _cookies_set(response: Response) -> set[str]:
    return {value.split("=", 1)[0] for value in response.headers.getlist("Set-Cookie")}


def _page_context() -> dict[str, object]:
    user = g.get("user")
    return {
        "user": user,
        "role_label": ROLE_LABELS[user.role] if user is not None else "",
        "place": g.get("place", ""),
    }


ERROR_TEXTS = {
    400: ("请求无效", "请求的内容无法处理，请返回上一页重试。"),
    403: ("无权访问", "您没有进行此操作的权限。"),
    404: ("页面不存在", "您要找的页面不存在，或您无权查看。"),
    405: ("请求方式不允许", "此页面不接受这种请求方式。"),
    413: ("上传内容过大", "上传的文件过大，请缩小后重试。"),
}


def _http_error_response(code: int, title: str | None = None, text: str | None = None) -> Response:
    default_title, default_text = ERROR_TEXTS.get(code, ("出错了", "请稍后重试。"))
    body = render_template("error.html", title=title or default_title, text=text or default_text)
    return Response(body, status=code, mimetype="text/html")


def _http_error(error: HTTPException) -> Response:
    if error.code is None or error.code < 400:
        return error.get_response()  # type: ignore[return-value]
    return _http_error_response(error.code)


def _csrf_refused(error: CSRFError) -> Response:
    return _http_error_response(
        400, "请求已失效", "表单已过期或来源无法确认，请返回上一页刷新后重新提交。"
    )
