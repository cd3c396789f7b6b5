"""The web application served for browser tests: `badgewatch web` (gunicorn, two workers) on a
free loopback port over a populated database, Debian's Chromium, and logging in by the labels a
person reads. A pytest plugin (tests/conftest.py); a test module overrides ``web_env`` to add
settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from badgewatch.config import Config
from testbed.sinks import free_port
from tests.webapp import SECRET, World, populate

BADGEWATCH = Path(sys.executable).with_name("badgewatch")


@pytest.fixture
def web_env() -> dict[str, str]:
    """More settings for the served app (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def served(sqlite_url: str, web_env: dict[str, str]) -> Iterator[tuple[str, World]]:
    """`badgewatch web` on a free loopback port, stopped (SIGTERM) at the end."""
    world = populate(sqlite_url)
    port = free_port()
    env = os.environ | web_env | {
        "BADGEWATCH_DATABASE_URL": sqlite_url,
        "BADGEWATCH_RENDER_ENABLED": "false",
        "BADGEWATCH_WEB_SECRET_KEY": SECRET,
        "BADGEWATCH_WEB_BIND": f"127.0.0.1:{port}",
    }
    server = subprocess.Popen([str(BADGEWATCH), "web", "--workers", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read() if server.stdout else ""
                    pytest.fail(f"badgewatch web did not start:\n{output}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", world
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    render = Config().render
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(render.executable_path), args=render.args, headless=True,
            timeout=30_000,
        )
        yield chromium
        chromium.close()


def open_page(browser: Browser, errors: list[str]) -> Page:
    """One person's browser (a context of its own) and its page; its console errors go to
    ``errors``."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    context.set_default_timeout(10_000)
    page = context.new_page()
    # A CSP violation is logged as a console error; a 404 page's own status is not a problem.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "status of 404" not in message.text else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    errors: list[str] = []
    page = open_page(browser, errors)
    yield page
    page.context.close()
    assert errors == [], errors


def fill(page: Page, values: dict[str, str]) -> None:
    """Type each value into the input with that exact label."""
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def fill_application(page: Page, *, site: str, domain: str, ip: str) -> None:
    """A new site's application form, past what the unit's account fills in (the unit and its
    handler), as 新开办网站申请."""
    fill(page, {
        "网站开办主体职能": "负责本单位政务服务。", "经办人固定电话": "0571-87654321",
        "网站主要负责人": "陈主任", "负责人固定电话": "0571-87650000",
        "负责人手机": "13705710002", "负责人电子邮箱": "chief@hz.example.cn",
        "网站名称": site, "中文域名": domain, "IP 地址（IPv4）": ip, "网站简介": "发布政务信息。",
    })
    page.get_by_label("新开办网站申请", exact=True).check()


def log_in(page: Page, login: str, password: str) -> None:
    page.get_by_label("用户名").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
