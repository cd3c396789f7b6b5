"""The application form of the seed (figures 6-8): parsed, checked whole, stored canonically.

A handler fixes a form in one go only if every problem is reported at once, so ``parse_form``
checks every field and raises ``FormInvalid`` listing all of them, each named by its JSON key
and its label on the form.

JSON shape (every key is required unless marked optional; unknown keys are refused)::

    {
      "kind": "new" | "rereview",            # 申请类型：新开办网站申请 / 已开办网站复核
      "office": "130400",                    # 同级机构编制部门：the office's code
      "unit": {
        "name": "邯郸市人民政府办公室",        # 开办主体名称
        "org_type": "政府",                  # 组织机构类型: 党委, 人大, 政府, 政协, 监察委,
                                             #   法院, 检察院, 群团, 民主党派, 事业单位, 其他
        "address": "河北省邯郸市丛台区…",      # 通讯地址
        "functions": "…"                     # 网站开办主体职能
      },
      "handler": {                           # 经办人
        "name": "张三",                      # 经办人姓名
        "landline": "0310-1234567",          # 经办人固定电话 (with area code)
        "mobile": "13800138000",             # 经办人手机
        "email": "zhangsan@example.cn"       # 经办人电子邮箱
      },
      "principal": {                         # 网站主要负责人 (same four keys as handler)
        "name": "…", "landline": "…", "mobile": "…", "email": "…"
      },
      "site": {
        "name": "邯郸市人民政府网",            # 网站名称
        "domain": "邯郸.政务",                # 中文域名: ends in .政务; Unicode or xn--… form
        "english_domain": "www.hd.gov.cn",   # 英文域名 (optional)
        "identifier": "CA1304…0001",         # 复核的已开办网站: for a rereview only, the
                                             #   site's identifier or its domain
        "ipv4": "203.0.113.10",              # IP 地址（IPv4）: where the domain resolves
        "ipv6": "2001:db8::10",              # IP 地址（IPv6） (optional)
        "intro": "…",                        # 网站简介
        "red_page": true                     # 无自建网站，开通网络红页 (optional; a new red
                                             #   page, or the re-review of one): ipv4/ipv6 are
                                             #   then left empty and the domain must resolve
                                             #   to [redpages] address
      }
    }

A ``rereview`` names the site it re-reviews in ``site.identifier`` (required for it, refused
for a ``new`` one); the workflow finds that site among the unit's own (``workflow.claims``).

Stored (``to_json``) values are canonical: domains in lower-case ASCII (``xn--ve4aqf.xn--zfr164b``),
phone numbers in E.164 (``+8613800138000``), addresses in their shortest text, absent optional
fields as ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dns.resolver import Resolver

from badgewatch import domains
from badgewatch.domains import FieldInvalid
from badgewatch.resolver import check_declared
from badgewatch.vocabulary import KIND_LABELS
from store.models import ApplicationKind
from workflow import fields
from workflow.errors import CheckUnavailable

ORG_TYPES: tuple[str, ...] = (
    "党委",
    "人大",
    "政府",
    "政协",
    "监察委",
    "法院",
    "检察院",
    "群团",
    "民主党派",
    "事业单位",
    "其他",
)
OFFICE_CODE_RE = re.compile(r"^[0-9A-Za-z_-]{1,12}$")

# Labels as the seed's form prints them; keys are the JSON paths.
LABELS: dict[str, str] = {
    "kind": "申请类型",
    "office": "同级机构编制部门",
    "unit": "单位基本信息",
    "unit.name": "开办主体名称",
    "unit.org_type": "组织机构类型",
    "unit.address": "通讯地址",
    "unit.functions": "网站开办主体职能",
    "handler": "经办人信息",
    "handler.name": "经办人姓名",
    "handler.landline": "经办人固定电话",
    "handler.mobile": "经办人手机",
    "handler.email": "经办人电子邮箱",
    "principal": "网站主要负责人信息",
    "principal.name": "网站主要负责人",
    "principal.landline": "负责人固定电话",
    "principal.mobile": "负责人手机",
    "principal.email": "负责人电子邮箱",
    "site": "网站信息",
    "site.name": "网站名称",
    "site.domain": "中文域名",
    "site.english_domain": "英文域名",
    "site.identifier": "复核的已开办网站",
    "site.ipv4": "IP 地址（IPv4）",
    "site.ipv6": "IP 地址（IPv6）",
    "site.intro": "网站简介",
    "site.red_page": "无自建网站，开通网络红页",
}
SECTIONS: dict[str, tuple[str, ...]] = {
    "unit": ("name", "org_type", "address", "functions"),
    "handler": ("name", "landline", "mobile", "email"),
    "principal": ("name", "landline", "mobile", "email"),
    "site": ("name", "domain", "english_domain", "identifier", "ipv4", "ipv6", "intro"),
}
TOP_KEYS: tuple[str, ...] = ("kind", "office", *SECTIONS)
OPTIONAL: frozenset[str] = frozenset(
    {"site.english_domain", "site.ipv6", "site.identifier"}
)
MULTILINE: frozenset[str] = frozenset({"unit.functions", "site.intro"})  # may hold line breaks
RED_PAGE = "red_page"  # the one key of ``site`` that is a boolean, not a text field


@dataclass(frozen=True)
class FieldError:
    """One field's problem: its JSON key path, its label on the form, what to fix (Chinese)."""

    field: str
    label: str
    message: str

    def __str__(self) -> str:
        return f"{self.label}（{self.field}）：{self.message}"


class FormInvalid(ValueError):
    """The form has problems; ``errors`` lists every one, ``str()`` one per line."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class UnitInfo:
    """单位基本信息."""

    name: str
    org_type: str
    address: str
    functions: str


@dataclass(frozen=True)
class Contact:
    """The handler (经办人) or the person in charge of the site (网站主要负责人)."""

    name: str
    landline: str
    mobile: str
    email: str


@dataclass(frozen=True)
class SiteInfo:
    """网站信息; ``domain`` and ``english_domain`` in lower-case ASCII."""

    name: str
    domain: str
    english_domain: str | None
    ipv4: str
    ipv6: str | None
    intro: str
    red_page: bool = False  # 网络红页: badgewatch serves the site (workflow.redpages)
    identifier: str | None = None  # a rereview's site: its identifier (or domain, as typed)


@dataclass(frozen=True)
class ApplicationForm:
    """A checked application, as stored in ``applications.form``."""

    kind: ApplicationKind
    office: str
    unit: UnitInfo
    handler: Contact
    principal: Contact
    site: SiteInfo

    def to_json(self) -> dict[str, Any]:
        """The canonical dict: what the database keeps and ``from_json`` reads back."""
        return {
            "kind": self.kind.value,
            "office": self.office,
            "unit": {
                "name": self.unit.name,
                "org_type": self.unit.org_type,
                "address": self.unit.address,
                "functions": self.unit.functions,
            },
            "handler": _contact_json(self.handler),
            "principal": _contact_json(self.principal),
            "site": {
                "name": self.site.name,
                "domain": self.site.domain,
                "english_domain": self.site.english_domain,
                "identifier": self.site.identifier,
                "ipv4": self.site.ipv4,
                "ipv6": self.site.ipv6,
                "intro": self.site.intro,
                **({RED_PAGE: True} if self.site.red_page else {}),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApplicationForm:
        """Read a stored form back as it was accepted: no re-validation, no DNS lookup."""
        try:
            unit, site = data["unit"], data["site"]
            return cls(
                kind=ApplicationKind(data["kind"]),
                office=str(data["office"]),
                unit=UnitInfo(
                    name=unit["name"],
                    org_type=unit["org_type"],
                    address=unit["address"],
                    functions=unit["functions"],
                ),
                handler=_contact_from(data["handler"]),
                principal=_contact_from(data["principal"]),
                site=SiteInfo(
                    name=site["name"],
                    domain=site["domain"],
                    english_domain=site.get("english_domain"),
                    ipv4=site["ipv4"],
                    ipv6=site.get("ipv6"),
                    intro=site["intro"],
                    red_page=site.get(RED_PAGE) is True,
                    identifier=site.get("identifier"),
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"stored application form is malformed: {exc!r}") from exc

    @property
    def display_domain(self) -> str:
        """The Chinese domain as people read it (邯郸.政务)."""
        return domains.display_domain(self.site.domain)


def _contact_json(contact: Contact) -> dict[str, str]:
    return {
        "name": contact.name,
        "landline": contact.landline,
        "mobile": contact.mobile,
        "email": contact.email,
    }


def _contact_from(data: Mapping[str, Any]) -> Contact:
    return Contact(
        name=data["name"], landline=data["landline"], mobile=data["mobile"], email=data["email"]
    )


def _person_name(value: str) -> str:
    return fields.required_text(value, max_length=50)


def _org_type(value: str) -> str:
    text = value.strip()
    if text not in ORG_TYPES:
        raise FieldInvalid(f"“{value}”不是可选的类型，应为：{'、'.join(ORG_TYPES)}")
    return text


def _office(value: str) -> str:
    text = value.strip()
    if not OFFICE_CODE_RE.match(text):
        raise FieldInvalid(f"“{value}”不是编办代码（如 130400）")
    return text


def _kind(value: str) -> str:
    text = value.strip()
    if text not in {kind.value for kind in ApplicationKind}:
        choices = "、".join(f"{kind.value}（{label}）" for kind, label in KIND_LABELS.items())
        raise FieldInvalid(f"“{value}”不是可选的申请类型，应为：{choices}")
    return text


def _site_reference(value: str) -> str:
    """The re-reviewed site as typed: its identifier (upper case) or its domain (ASCII)."""
    try:
        return fields.identifier(value)
    except FieldInvalid:
        pass
    try:
        return domains.gov_domain(value)
    except FieldInvalid:
        raise FieldInvalid(
            f"“{value}”既不是网站标识代码（如 CA330000000604258890010），"
            "也不是“.政务”中文域名"
        ) from None


def _limited(max_length: int) -> Callable[[str], str]:
    return lambda value: fields.required_text(value, max_length=max_length)


# The validator of each field: it gets a non-empty string and returns the canonical value.
VALIDATORS: dict[str, Callable[[str], str]] = {
    "kind": _kind,
    "office": _office,
    "unit.name": _limited(200),
    "unit.org_type": _org_type,
    "unit.address": _limited(400),
    "unit.functions": _limited(2000),
    "site.name": _limited(200),
    "site.domain": domains.gov_domain,
    "site.english_domain": domains.english_domain,
    "site.identifier": _site_reference,
    "site.ipv4": fields.ipv4,
    "site.ipv6": fields.ipv6,
    "site.intro": _limited(2000),
}
for _section in ("handler", "principal"):
    VALIDATORS[f"{_section}.name"] = _person_name
    VALIDATORS[f"{_section}.landline"] = fields.landline
    VALIDATORS[f"{_section}.mobile"] = fields.mobile
    VALIDATORS[f"{_section}.email"] = fields.email


class _Collector:
    """Gathers the canonical values and the errors of one parse."""

    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}
        self.errors: list[FieldError] = []

    def error(self, path: str, message: str, label: str | None = None) -> None:
        self.errors.append(FieldError(path, label or LABELS.get(path, "未知字段"), message))

    def unknown_keys(self, data: Mapping[Any, Any], known: tuple[str, ...], prefix: str) -> None:
        for key in data:
            if key not in known:
                path = f"{prefix}{key}"
                self.error(path, f"表单中没有“{key}”这一项，请删除该字段", label="未知字段")

    def field(self, path: str, raw: object) -> None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if path in OPTIONAL:
                self.values[path] = None
            else:
                self.error(path, "必填项，不能为空")
            return
        if not isinstance(raw, str):
            self.error(path, f"应填写文字，而不是 {type(raw).__name__} 类型的值")
            return
        try:
            fields.plain_text(raw, multiline=path in MULTILINE)
            self.values[path] = VALIDATORS[path](raw)
        except FieldInvalid as exc:
            self.error(path, exc.message)

    def text(self, path: str) -> str:
        value = self.values[path]
        assert value is not None
        return value


def parse_form(
    data: Mapping[str, Any], *, resolver: Resolver | None, red_page_address: str | None = None
) -> ApplicationForm:
    """Check every field (and, given a resolver, the domain's DNS); raise FormInvalid with all.
    A red page's addresses are not the unit's: the domain must resolve to ``red_page_address``
    (``[redpages] address``)."""
    found = _Collector()
    if not isinstance(data, Mapping):
        raise FormInvalid([FieldError("", "申请表", "申请表应为 JSON 对象")])
    found.unknown_keys(data, TOP_KEYS, "")
    found.field("kind", data.get("kind"))
    found.field("office", data.get("office"))
    for section, keys in SECTIONS.items():
        part = data.get(section)
        if part is None:
            part = {}
        if not isinstance(part, Mapping):
            found.error(section, "应为 JSON 对象，包含：" + "、".join(keys))
            continue
        known = (*keys, RED_PAGE) if section == "site" else keys
        found.unknown_keys(part, known, f"{section}.")
        red_page = section == "site" and _red_page(found, part, data, red_page_address)
        for key in keys:
            if red_page and key in ("ipv4", "ipv6"):
                continue
            found.field(f"{section}.{key}", part.get(key))
    _check_kind(found)
    unchecked = _check_dns(found, resolver) if resolver is not None else None
    if found.errors:
        raise FormInvalid(found.errors)
    if unchecked is not None:
        raise unchecked
    return _build(found)


def _red_page(
    found: _Collector, site: Mapping[str, Any], data: Mapping[str, Any], address: str | None
) -> bool:
    """``site.red_page``: when true (and allowed), the site's addresses are the platform's."""
    path = f"site.{RED_PAGE}"
    raw = site.get(RED_PAGE)
    if raw is None or raw is False:
        return False
    if raw is not True:
        found.error(path, "应为 true 或 false")
        return False
    if address is None:
        found.error(path, "本平台未开通网络红页服务，请填写自建网站的 IP 地址")
        return False
    for family in ("ipv4", "ipv6"):
        if site.get(family) not in (None, "", address):
            found.error(
                f"site.{family}",
                f"开通网络红页时无需填写 IP 地址，域名须解析到网络红页地址 {address}，请留空",
            )
    found.values["site.ipv4"] = address
    found.values["site.ipv6"] = None
    found.values[path] = "true"
    return True


def _check_kind(found: _Collector) -> None:
    """A re-review names the site it re-reviews; a new application names none."""
    kind = found.values.get("kind")
    if "site.identifier" not in found.values:  # the reference itself is wrong: said already
        return
    named = found.values["site.identifier"] is not None
    if kind == ApplicationKind.REREVIEW.value and not named:
        found.error(
            "site.identifier",
            "申请类型为“已开办网站复核”时必填：请选择（或填写网站标识代码、中文域名）"
            "本单位已发放网站标识的网站",
        )
    elif kind == ApplicationKind.NEW.value and named:
        found.error(
            "site.identifier",
            "新开办网站申请不选择已开办网站；复核已开办的网站请将申请类型选为“已开办网站复核”",
        )


# What the DNS said about the domain itself (NXDOMAIN, no A record) is the unit's to fix; no
# answer at all (a timeout, SERVFAIL, REFUSED) is a question we could not get answered.
_ANSWERS_ABOUT_THE_DOMAIN = frozenset({"nxdomain", "no_a"})
_UNANSWERED = {
    "timeout": "域名服务器没有应答（超时）",
    "servfail": "域名服务器返回解析失败（SERVFAIL）",
    "refused": "域名服务器拒绝查询（REFUSED）",
}


def _check_dns(found: _Collector, resolver: Resolver) -> CheckUnavailable | None:
    """Only a syntactically valid domain and addresses are worth asking the DNS about. An
    answer against the form is a field error; no answer is returned, to be raised only when
    the form has nothing else to fix."""
    wanted = ("site.domain", "site.ipv4", "site.ipv6")
    if any(error.field in wanted for error in found.errors):
        return None
    if "site.domain" not in found.values or "site.ipv4" not in found.values:
        return None
    check = check_declared(
        resolver,
        found.text("site.domain"),
        found.text("site.ipv4"),
        found.values.get("site.ipv6"),
    )
    if check.outcome == "unresolvable" and check.reason not in _ANSWERS_ABOUT_THE_DOMAIN:
        domain = domains.display_domain(found.text("site.domain"))
        reason = _UNANSWERED.get(check.reason, "查询域名服务器出错")
        return CheckUnavailable(
            f"暂时无法核验域名“{domain}”的解析（{reason}）。这不是申请表填写的问题，"
            "申请未保存，请稍后重试；若一直如此，请运维人员检查 [dns] 设置的域名服务器，"
            "或请单位确认该域名的解析服务正常"
        )
    if check.outcome == "unresolvable":
        found.error("site.domain", check.message)
    red_page = found.values.get(f"site.{RED_PAGE}") is not None
    for mismatch in check.mismatches:
        # a red page's address is not on the form: the domain is what the unit must fix
        where = "site.domain" if red_page else f"site.{mismatch.family}"
        message = f"开通网络红页的域名须解析到网络红页地址：{mismatch.message}" if red_page \
            else mismatch.message
        found.error(where, message)
    return None


def _build(found: _Collector) -> ApplicationForm:
    text = found.text

    def contact(section: str) -> Contact:
        return Contact(
            name=text(f"{section}.name"),
            landline=text(f"{section}.landline"),
            mobile=text(f"{section}.mobile"),
            email=text(f"{section}.email"),
        )

    return ApplicationForm(
        kind=ApplicationKind(text("kind")),
        office=text("office"),
        unit=UnitInfo(
            name=text("unit.name"),
            org_type=text("unit.org_type"),
            address=text("unit.address"),
            functions=text("unit.functions"),
        ),
        handler=contact("handler"),
        principal=contact("principal"),
        site=SiteInfo(
            name=text("site.name"),
            domain=text("site.domain"),
            english_domain=found.values.get("site.english_domain"),
            ipv4=text("site.ipv4"),
            ipv6=found.values.get("site.ipv6"),
            intro=text("site.intro"),
            red_page=found.values.get(f"site.{RED_PAGE}") is not None,
            identifier=found.values.get("site.identifier"),
        ),
    )
