"""Small builders for test data (a valid application form, an office tree) and ``wait_for``,
the one way a test waits: on state it can read (rows, counters), never a fixed sleep."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from store.models import Office, OfficeLevel

FORM: dict[str, Any] = {
    "kind": "new",
    "office": "330100",
    "unit": {
        "name": "杭州市数据资源管理局",
        "org_type": "政府",
        "address": "浙江省杭州市上城区解放东路18号",
        "functions": "负责全市数据资源管理和政务服务。",
    },
    "handler": {
        "name": "王经办",
        "landline": "0571-87654321",
        "mobile": "13905710001",
        "email": "handler@hz.example.cn",
    },
    "principal": {
        "name": "陈主任",
        "landline": "0571-87650000",
        "mobile": "13705710002",
        "email": "chief@hz.example.cn",
    },
    "site": {
        "name": "杭州市数据资源管理局网站",
        "domain": "杭州数据.政务",
        "english_domain": "data.hangzhou.example.cn",
        "ipv4": "127.0.0.21",
        "ipv6": None,
        "intro": "发布数据开放和政务服务信息。",
    },
}


def form_data(**site: Any) -> dict[str, Any]:
    data = copy.deepcopy(FORM)
    data["site"].update(site)
    return data


def add_offices(session: Session) -> dict[str, Office]:
    """浙江 → 杭州 → 西湖区, plus 宁波 beside 杭州."""
    central = Office(code="100000", name="中央编办", level=OfficeLevel.CENTRAL)
    zj = Office(code="330000", name="浙江省委编办", level=OfficeLevel.PROVINCE, parent=central)
    hz = Office(code="330100", name="杭州市委编办", level=OfficeLevel.PREFECTURE, parent=zj)
    xh = Office(code="330106", name="西湖区委编办", level=OfficeLevel.COUNTY, parent=hz)
    nb = Office(code="330200", name="宁波市委编办", level=OfficeLevel.PREFECTURE, parent=zj)
    offices = {o.code: o for o in (central, zj, hz, xh, nb)}
    session.add_all(offices.values())
    return offices


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true (which is returned); fail the test,
    naming ``what``, if it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def statements_in_flight(engine: Engine) -> Iterator[dict[int, tuple[str, float]]]:
    """Each thread's statement sent to the database and not yet answered, with when it was sent
    (``time.monotonic``): a statement that stays in flight is a waiter blocked in the database,
    which a thread that merely has not started yet cannot fake."""
    flying: dict[int, tuple[str, float]] = {}

    def sent(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        flying[threading.get_ident()] = (statement, time.monotonic())

    def answered(*_args: Any) -> None:
        flying.pop(threading.get_ident(), None)

    listeners = [
        ("before_cursor_execute", sent),
        ("after_cursor_execute", answered),
        ("handle_error", answered),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield flying
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def waiting_in_database(
    flying: dict[int, tuple[str, float]], thread: threading.Thread, held: float = 0.5
) -> str | None:
    """The statement ``thread`` has been waiting on for at least ``held`` seconds, if any."""
    statement, since = flying.get(thread.ident or 0, ("", time.monotonic()))
    return statement if statement and time.monotonic() - since >= held else None
