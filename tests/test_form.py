"""The application form: every problem named at once, canonical values stored, DNS checked."""

from __future__ import annotations

import copy
import socket
from typing import Any

import pytest

from badgewatch.config import DnsConfig
from badgewatch.domains import gov_domain
from badgewatch.resolver import make_resolver
from store.models import ApplicationKind
from workflow.errors import CheckUnavailable
from workflow.form import ApplicationForm, FieldError, FormInvalid, parse_form

HANDAN = "xn--ve4aqf.xn--zfr164b"  # 邯郸.政务


def valid() -> dict[str, Any]:
    return {
        "kind": "new",
        "office": "130400",
        "unit": {
            "name": "邯郸市人民政府办公室",
            "org_type": "政府",
            "address": "河北省邯郸市丛台区中华北大街 1 号",
            "functions": "负责市政府日常运转和政务公开工作。",
        },
        "handler": {
            "name": "张三",
            "landline": "0310-1234567",
            "mobile": "138 0013 8000",
            "email": "Zhangsan@Example.CN",
        },
        "principal": {
            "name": "李四",
            "landline": "(0310) 7654321",
            "mobile": "+86 139 0013 9000",
            "email": "lisi@example.cn",
        },
        "site": {
            "name": "邯郸市人民政府网",
            "domain": "邯郸.政务",
            "english_domain": "WWW.HD.GOV.CN",
            "ipv4": "203.0.113.10",
            "ipv6": "2001:DB8:0::10",
            "intro": "邯郸市人民政府门户网站。",
        },
    }


def errors_of(data: dict[str, Any], resolver=None) -> dict[str, FieldError]:
    with pytest.raises(FormInvalid) as raised:
        parse_form(data, resolver=resolver)
    return {error.field: error for error in raised.value.errors}


def with_value(path: str, value: object) -> dict[str, Any]:
    data = valid()
    section, _, key = path.partition(".")
    if key:
        data[section][key] = value
    else:
        data[section] = value
    return data


def test_valid_form_is_canonical() -> None:
    form = parse_form(valid(), resolver=None)
    assert form.kind is ApplicationKind.NEW
    assert form.office == "130400"
    assert form.unit.org_type == "政府"
    assert form.handler.landline == "+863101234567"
    assert form.handler.mobile == "+8613800138000"
    assert form.principal.landline == "+863107654321"
    assert form.principal.mobile == "+8613900139000"
    assert form.handler.email == "Zhangsan@example.cn"  # the domain part is case-insensitive
    assert form.site.domain == HANDAN
    assert form.display_domain == "邯郸.政务"
    assert form.site.english_domain == "www.hd.gov.cn"
    assert form.site.ipv6 == "2001:db8::10"


def test_both_domain_forms_are_stored_identically() -> None:
    unicode_form = parse_form(with_value("site.domain", "邯郸.政务"), resolver=None)
    ascii_form = parse_form(with_value("site.domain", "XN--VE4AQF.xn--zfr164b."), resolver=None)
    mixed_form = parse_form(with_value("site.domain", "邯郸.xn--zfr164b"), resolver=None)
    assert unicode_form == ascii_form == mixed_form
    assert unicode_form.to_json() == ascii_form.to_json()
    assert unicode_form.to_json()["site"]["domain"] == HANDAN


def test_to_json_round_trips() -> None:
    form = parse_form(valid(), resolver=None)
    stored = form.to_json()
    assert stored["kind"] == "new"
    assert ApplicationForm.from_json(stored) == form
    assert parse_form(stored, resolver=None) == form  # the stored form is itself a valid form


def _without(path: str) -> dict[str, Any]:
    data = valid()
    section, _, key = path.partition(".")
    del data[section][key]
    return data


@pytest.mark.parametrize("path", ["site.ipv6", "site.english_domain"])
def test_optional_fields_may_be_missing_null_or_blank(path: str) -> None:
    key = path.partition(".")[2]
    for data in (_without(path), with_value(path, None), with_value(path, "  ")):
        form = parse_form(data, resolver=None)
        assert getattr(form.site, key) is None
        assert form.to_json()["site"][key] is None
        assert ApplicationForm.from_json(form.to_json()) == form


def test_rereview_kind() -> None:
    data = with_value("kind", "rereview")
    data["site"]["identifier"] = "ca330010000600000010001"
    form = parse_form(data, resolver=None)
    assert form.kind is ApplicationKind.REREVIEW
    assert form.to_json()["site"]["identifier"] == "CA330010000600000010001"
    # The site may be named by its domain too, in either spelling: stored in ASCII.
    data["site"]["identifier"] = "杭州数据.政务"
    assert parse_form(data, resolver=None).site.identifier == gov_domain("杭州数据.政务")
    assert gov_domain("杭州数据.政务").endswith(".xn--zfr164b")


def test_rereview_names_its_site_and_a_new_application_none() -> None:
    found = errors_of(with_value("kind", "rereview"))
    assert set(found) == {"site.identifier"}
    assert found["site.identifier"].label == "复核的已开办网站"
    assert "已开办网站复核" in found["site.identifier"].message
    new = valid()
    new["site"]["identifier"] = "CA330010000600000010001"
    found = errors_of(new)
    assert set(found) == {"site.identifier"}
    assert "新开办网站申请不选择已开办网站" in found["site.identifier"].message
    odd = with_value("kind", "rereview")
    odd["site"]["identifier"] = "网站一"
    assert "既不是网站标识代码" in errors_of(odd)["site.identifier"].message


def test_every_missing_required_field_is_named() -> None:
    found = errors_of({})
    required = {
        "kind", "office",
        "unit.name", "unit.org_type", "unit.address", "unit.functions",
        "handler.name", "handler.landline", "handler.mobile", "handler.email",
        "principal.name", "principal.landline", "principal.mobile", "principal.email",
        "site.name", "site.domain", "site.ipv4", "site.intro",
    }  # fmt: skip
    assert set(found) == required
    assert found["handler.mobile"].label == "经办人手机"
    assert found["principal.name"].label == "网站主要负责人"
    assert found["site.domain"].label == "中文域名"
    assert all(error.message == "必填项，不能为空" for error in found.values())


def test_blank_required_field() -> None:
    found = errors_of(with_value("unit.address", "   "))
    assert list(found) == ["unit.address"]
    assert str(found["unit.address"]) == "通讯地址（unit.address）：必填项，不能为空"


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ("unit.name", "邯郸市人民政府\x00办公室", "U+0000"),
        ("site.name", "邯郸\u200b市人民政府网", "U+200B"),
        ("handler.name", "张\ufffd三", "U+FFFD"),
        ("site.domain", "邯郸\u202e.政务", "U+202E"),
        ("unit.address", "河北省邯郸市\n丛台区", "U+000A"),
    ],
    ids=["nul", "zero-width-space", "replacement-character", "bidi-override", "line-break"],
)
def test_control_and_invisible_characters_are_refused(path: str, value: str, shown: str) -> None:
    found = errors_of(with_value(path, value))
    assert list(found) == [path]
    assert shown in found[path].message


def test_line_breaks_are_kept_where_a_text_has_lines() -> None:
    form = parse_form(with_value("site.intro", "发布政务信息。\n提供办事服务。"), resolver=None)
    assert form.site.intro == "发布政务信息。\n提供办事服务。"


def test_landline_without_area_code() -> None:
    found = errors_of(with_value("handler.landline", "1234567"))
    assert list(found) == ["handler.landline"]
    assert found["handler.landline"].label == "经办人固定电话"
    assert "区号" in found["handler.landline"].message


def test_mobile_as_landline_is_not_a_landline() -> None:
    found = errors_of(with_value("principal.landline", "13800138000"))
    assert found["principal.landline"].label == "负责人固定电话"


def test_bad_mobile() -> None:
    found = errors_of(with_value("handler.mobile", "0310-1234567"))
    assert list(found) == ["handler.mobile"]
    assert found["handler.mobile"].message == "“0310-1234567”不是有效的手机号码"


def test_bad_email() -> None:
    found = errors_of(with_value("principal.email", "lisi@"))
    assert list(found) == ["principal.email"]
    assert found["principal.email"].label == "负责人电子邮箱"
    assert "电子邮箱" in found["principal.email"].message


def test_domain_must_end_in_gov_suffix() -> None:
    for domain in ("www.hd.gov.cn", "邯郸.公益"):
        found = errors_of(with_value("site.domain", domain))
        assert list(found) == ["site.domain"]
        assert "“.政务”结尾" in found["site.domain"].message


def test_domain_with_scheme_is_refused() -> None:
    found = errors_of(with_value("site.domain", "http://邯郸.政务/"))
    assert "不要带 http://" in found["site.domain"].message


def test_bad_english_domain() -> None:
    found = errors_of(with_value("site.english_domain", "localhost"))
    assert found["site.english_domain"].label == "英文域名"


@pytest.mark.parametrize(
    ("path", "value", "label"),
    [
        ("site.ipv4", "203.0.113.300", "IP 地址（IPv4）"),
        ("site.ipv4", "2001:db8::1", "IP 地址（IPv4）"),
        ("site.ipv6", "2001:db8::g", "IP 地址（IPv6）"),
        ("site.ipv6", "203.0.113.10", "IP 地址（IPv6）"),
    ],
)
def test_bad_ip_addresses(path: str, value: str, label: str) -> None:
    found = errors_of(with_value(path, value))
    assert list(found) == [path]
    assert found[path].label == label
    assert value in found[path].message


def test_org_type_and_kind_must_be_one_of_the_choices() -> None:
    found = errors_of(with_value("unit.org_type", "公司") | {"kind": "renew"})
    assert set(found) == {"unit.org_type", "kind"}
    assert "监察委" in found["unit.org_type"].message
    assert "新开办网站申请" in found["kind"].message


def test_unknown_keys_are_named() -> None:
    data = valid()
    data["captcha"] = "1234"
    data["handler"]["qq"] = "10001"
    found = errors_of(data)
    assert set(found) == {"captcha", "handler.qq"}
    assert "“qq”" in found["handler.qq"].message
    assert found["captcha"].label == "未知字段"


def test_wrong_json_types() -> None:
    data = with_value("handler.mobile", 13800138000)
    data["site"] = ["邯郸.政务"]
    found = errors_of(data)
    assert set(found) == {"handler.mobile", "site"}
    assert "文字" in found["handler.mobile"].message
    assert found["site"].label == "网站信息"


def test_all_errors_at_once_one_per_line() -> None:
    data = valid()
    data["handler"]["mobile"] = "12345"
    data["handler"]["landline"] = "7654321"
    data["principal"]["email"] = "no-at-sign"
    data["site"]["domain"] = "example.com"
    data["site"]["ipv4"] = "1.2.3"
    with pytest.raises(FormInvalid) as raised:
        parse_form(data, resolver=None)
    lines = str(raised.value).splitlines()
    assert [line.split("：", 1)[0] for line in lines] == [
        "经办人固定电话（handler.landline）",
        "经办人手机（handler.mobile）",
        "负责人电子邮箱（principal.email）",
        "中文域名（site.domain）",
        "IP 地址（IPv4）（site.ipv4）",
    ]
    assert lines[1] == "经办人手机（handler.mobile）：“12345”不是有效的手机号码"


def test_from_json_refuses_a_malformed_record() -> None:
    stored = parse_form(valid(), resolver=None).to_json()
    del stored["site"]["ipv4"]
    with pytest.raises(ValueError, match="malformed"):
        ApplicationForm.from_json(stored)


# -- the DNS check, against the loopback DNS server -------------------------------------------


def test_declared_address_matching_the_dns_passes(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"], aaaa=["2001:db8::10"])
    form = parse_form(valid(), resolver=make_resolver(dns_config))
    assert form.site.ipv4 == "203.0.113.10"
    queries_before = len(dns_server.queries())
    ApplicationForm.from_json(form.to_json())
    assert len(dns_server.queries()) == queries_before  # reading back never re-resolves


def test_domain_that_does_not_resolve(dns_server, dns_config) -> None:
    found = errors_of(valid(), resolver=make_resolver(dns_config))
    assert list(found) == ["site.domain"]
    assert found["site.domain"].message.startswith("域名“邯郸.政务”无法解析")
    assert "NXDOMAIN" in found["site.domain"].message


def test_domain_that_resolves_elsewhere(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["198.51.100.7"], aaaa=["2001:db8::10"])
    found = errors_of(valid(), resolver=make_resolver(dns_config))
    assert list(found) == ["site.ipv4"]
    message = found["site.ipv4"].message
    assert "198.51.100.7" in message
    assert "203.0.113.10" in message
    assert "无法解析" not in message


def test_declared_ipv6_that_resolves_elsewhere(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"], aaaa=["2001:db8::99"])
    found = errors_of(valid(), resolver=make_resolver(dns_config))
    assert list(found) == ["site.ipv6"]
    assert "2001:db8::99" in found["site.ipv6"].message


@pytest.mark.parametrize(
    ("failure", "said"),
    [("drop", "没有应答"), ("servfail", "SERVFAIL"), ("refused", "REFUSED")],
)
def test_a_dns_that_cannot_answer_is_our_failure_not_the_units(
    dns_server, dns_config, failure: str, said: str
) -> None:
    """No answer is not an answer about the domain: the unit's form is not blamed for it."""
    dns_server.set_failure("邯郸.政务", failure)
    resolver = make_resolver(DnsConfig(nameservers=dns_config.nameservers, timeout=0.5))
    with pytest.raises(CheckUnavailable) as raised:
        parse_form(valid(), resolver=resolver)
    assert said in str(raised.value) and "重试" in str(raised.value)
    assert not isinstance(raised.value, FormInvalid)


def test_a_dead_nameserver_is_our_failure(dns_server) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    resolver = make_resolver(DnsConfig(nameservers=[f"127.0.0.1:{port}"], timeout=0.5))
    with pytest.raises(CheckUnavailable) as raised:
        parse_form(valid(), resolver=resolver)
    assert "重试" in str(raised.value)


def test_other_errors_are_still_the_units_when_the_dns_cannot_answer(
    dns_server, dns_config
) -> None:
    dns_server.set_failure("邯郸.政务", "drop")
    data = copy.deepcopy(valid())
    data["handler"]["email"] = "bad"
    resolver = make_resolver(DnsConfig(nameservers=dns_config.nameservers, timeout=0.5))
    assert list(errors_of(data, resolver=resolver)) == ["handler.email"]



def test_dns_is_not_asked_when_the_syntax_is_wrong(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["198.51.100.7"])
    before = len(dns_server.queries())
    found = errors_of(with_value("site.ipv6", "not-an-ip"), resolver=make_resolver(dns_config))
    assert list(found) == ["site.ipv6"]
    assert len(dns_server.queries()) == before


def test_other_errors_and_dns_errors_are_reported_together(dns_server, dns_config) -> None:
    data = copy.deepcopy(valid())
    data["handler"]["email"] = "bad"
    found = errors_of(data, resolver=make_resolver(dns_config))
    assert set(found) == {"handler.email", "site.domain"}
