"""Small builders for test data: a valid application form and an office tree."""

from __future__ import annotations

import copy
from typing import Any

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
