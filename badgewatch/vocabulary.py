"""The words of badgewatch: every state, level and reason code, and what people read for each.

The enums are the spellings stored in the database and shown to outside checks; beside them,
the Chinese labels and, for each reason code a check can give a page, what is wrong (问题) and
what to do (建议). The checks, the notices, the reports and the CLI all read their wording here,
so a unit's e-mail and an office's report say the same thing. Standard library only: the pure
page checks import it too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


class OfficeLevel(enum.StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"


class Role(enum.StrEnum):
    UNIT_HANDLER = "unit_handler"
    OFFICE_REVIEWER = "office_reviewer"
    CONAC_REVIEWER = "conac_reviewer"
    OPERATOR = "operator"
    SYSTEM = "system"


class ApplicationKind(enum.StrEnum):
    NEW = "new"
    REREVIEW = "rereview"


class AppState(enum.StrEnum):
    """Every state an application can be in; the transitions live in workflow/machine.py."""

    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for the office's online review
    OFFICE_APPROVED = "office_approved"  # waiting for CONAC's online review
    APPROVED_ONLINE = "approved_online"  # waiting for the paper materials
    MATERIALS_CONFIRMED = "materials_confirmed"
    ISSUED = "issued"
    OFFICE_REJECTED = "office_rejected"
    CONAC_REJECTED = "conac_rejected"
    MATERIALS_REJECTED = "materials_rejected"


class SiteSource(enum.StrEnum):
    ISSUED = "issued"
    IMPORTED = "imported"


class SiteStatus(enum.StrEnum):
    """A site's verdict from its last complete check (the monitor later splits non_compliant)."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    UNREACHABLE = "unreachable"
    DNS_MISMATCH = "dns_mismatch"
    UNCHECKED = "unchecked"


class MonitorState(enum.StrEnum):
    """A site's standing for offices and units: the crawl's verdict split by the deadline."""

    PENDING = "pending"  # failing, still inside the placement deadline
    COMPLIANT = "compliant"
    OVERDUE = "overdue"  # failing after the deadline, never compliant
    REGRESSED = "regressed"  # was compliant, now failing
    UNREACHABLE = "unreachable"
    DOMAIN_EXPIRED = "domain_expired"  # the name stopped resolving after its expiry date
    DNS_MISMATCH = "dns_mismatch"
    UNCHECKED = "unchecked"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunState(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    INCOMPLETE = "incomplete"  # died, was killed, or stopped early: never a site's verdict


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the configured attempts


# --- labels ----------------------------------------------------------------------------------

STATE_LABELS: Mapping[MonitorState, str] = {
    MonitorState.PENDING: "未合规（整改期限内）",
    MonitorState.COMPLIANT: "合规",
    MonitorState.OVERDUE: "逾期未整改",
    MonitorState.REGRESSED: "由合规变为不合规",
    MonitorState.UNREACHABLE: "无法访问",
    MonitorState.DOMAIN_EXPIRED: "域名已过期",
    MonitorState.DNS_MISMATCH: "域名解析地址与登记不符",
    MonitorState.UNCHECKED: "尚未检查",
}
"""A site's standing as offices and units read it (digests, reports)."""

STATE_PROBLEMS: Mapping[MonitorState, str] = {
    MonitorState.UNREACHABLE: "网站无法访问",
    MonitorState.DOMAIN_EXPIRED: "域名已过期，无法解析",
    MonitorState.DNS_MISMATCH: "域名解析地址与登记不符",
}
"""The main problem of a site whose check found no page reasons, said as a problem."""

STATE_NOTES: Mapping[MonitorState, tuple[str, str]] = {
    MonitorState.UNREACHABLE: (
        "网站无法访问，本次未能检查网站标识，不计为不合规。",
        "请确认网站能够从互联网正常访问。",
    ),
    MonitorState.DOMAIN_EXPIRED: (
        "网站域名已过到期日期且已无法解析，网站及其网站标识均无法访问，本次未能检查网站标识。",
        "域名已过期，请及时续费，恢复域名解析，确保挂标成功；续费后请更新域名到期日期。",
    ),
    MonitorState.DNS_MISMATCH: (
        "网站域名解析到的地址与登记的地址不一致，本次未检查网站标识。",
        "请核对域名解析设置，或按规定办理网站信息变更。",
    ),
}
"""What a state that says nothing about the badge means for the site, and what to do."""

EXPIRY_LABELS: Mapping[str, str] = {
    "expiring": "域名即将到期",
    "expired": "域名已过期",
}
"""A domain's expiry as the reports and digests name it (``workflow.deadlines.expiry_status``)."""

EXPIRY_ADVICE = "域名即将到期请及时续费确保挂标成功"
"""What the unit is told to do about an expiring domain (the seed's form says it so)."""

SITE_INFO_LABELS: Mapping[str, str] = {
    "expires_on": "域名到期日期",
    "site_code": "网站标识码",
    "icp": "ICP备案编号",
    "psb": "公安机关备案编号",
}
"""The site information a unit or an operator edits (网站信息), by field."""

LEVEL_LABELS: Mapping[OfficeLevel, str] = {
    OfficeLevel.CENTRAL: "中央",
    OfficeLevel.PROVINCE: "省级",
    OfficeLevel.PREFECTURE: "地市级",
    OfficeLevel.COUNTY: "县级",
}

APP_STATE_LABELS: Mapping[AppState, str] = {
    AppState.DRAFT: "草稿",
    AppState.SUBMITTED: "待编办审核",
    AppState.OFFICE_APPROVED: "编办审核通过，待 CONAC 复审",
    AppState.APPROVED_ONLINE: "在线审核通过，待报送纸质材料",
    AppState.MATERIALS_CONFIRMED: "纸质材料已确认",
    AppState.ISSUED: "已发放网站标识",
    AppState.OFFICE_REJECTED: "编办审核不通过",
    AppState.CONAC_REJECTED: "CONAC 复审不通过",
    AppState.MATERIALS_REJECTED: "纸质材料不通过，需重新提交申请",
}

KIND_LABELS: Mapping[ApplicationKind, str] = {
    ApplicationKind.NEW: "新开办网站申请",
    ApplicationKind.REREVIEW: "已开办网站复核",
}

# 网络红页 (the red pages badgewatch serves): its name beside an application's type, the
# application form's note, the editor's labels.
RED_PAGE_NAME = "网络红页"
RED_PAGE_NOTE = (
    "使用政务和公益机构建站平台免费开通微网站（网络红页）：勾选后无需填写 IP 地址，"
    "请将中文域名解析到网络红页地址 {address}。"
)
RED_PAGE_LABELS: Mapping[str, str] = {
    "profile": "单位简介",
    "functions": "主要职能",
    "address": "地址",
    "contact": "联系方式",
    "notices": "通知公告",
    "footer": "页脚",
    "notice_title": "第 {n} 条标题",
    "notice_on": "第 {n} 条日期",
    "notice_text": "第 {n} 条内容",
}
RED_PAGE_STATES: Mapping[str, str] = {
    "unpublished": "未发布",
    "published": "已发布",
    "changed": "已发布，草稿有未发布的修改",
}

ROLE_LABELS: Mapping[Role, str] = {
    Role.UNIT_HANDLER: "单位经办人",
    Role.OFFICE_REVIEWER: "编办审核人员",
    Role.CONAC_REVIEWER: "CONAC 复审人员",
    Role.OPERATOR: "系统运维人员",
    Role.SYSTEM: "系统",
}
"""A person's role as the web pages name it."""

VERDICT_LABELS: Mapping[str, str] = {
    "compliant": "合规",
    "non_compliant": "不合规",
    "not_checked": "未能检查",
}
"""A page's verdict (markup or rendered check)."""

CARRIED_MESSAGE = (
    "页面自上次检查以来没有变化（服务器答复未修改或内容摘要相同），沿用上次检查的结论。"
)
"""What a page's verdict says when an incremental crawl carried it from the last check."""

ENGINE_LABELS: Mapping[str, str] = {
    "dispatcher": "单机调度（监测服务自行抓取，SQLite）",
    "procrastinate": "多机工作进程（badgewatch worker，PostgreSQL）",
}
"""Who runs the crawl work (``monitor/engine.py``), on the operator's monitor page."""

CRAWL_KIND_LABELS: Mapping[str, str] = {
    "nightly": "夜间检查",
    "recheck": "立即复查",
}
"""A crawl queue job's kind."""


# --- reason codes ----------------------------------------------------------------------------

ReasonKind = Literal["failure", "warning", "not_failure"]


@dataclass(frozen=True)
class Reason:
    """A reason code a check gives a page. ``text`` is the problem in a few words (lists,
    notices, reports); ``detail`` the same said in full for the page's own message, when a few
    words are not enough; ``advice`` what to do, said so that "请" can precede it."""

    code: str
    check: Literal["markup", "rendered"]
    kind: ReasonKind
    text: str
    advice: str = ""
    detail: str = ""

    @property
    def failure(self) -> bool:
        return self.kind == "failure"


# Most severe first: a site's reasons are listed in this order when their page counts tie.
REGISTRY: Mapping[str, Reason] = {
    r.code: r
    for r in (
        Reason("ok", "markup", "not_failure", "页面已加挂本网站的网站标识"),
        Reason(
            "badge_missing",
            "markup",
            "failure",
            "页面没有加挂网站标识",
            "把收到的网站标识代码原样粘贴到页面底部、</body> 之前，使标识显示在页面底部中间",
        ),
        Reason(
            "badge_other_site",
            "markup",
            "failure",
            "页面上的网站标识属于其他网站",
            "删除其他网站的标识代码，改用本网站收到的网站标识代码",
        ),
        Reason(
            "badge_inactive",
            "markup",
            "failure",
            "网站标识代码在注释、<noscript> 或 <template> 中，不会运行",
            "去掉注释或外层标签，把代码放在正常的页面内容中",
        ),
        Reason(
            "badge_outside_body",
            "markup",
            "failure",
            "网站标识代码不在页面正文内（在 <head> 中或 </body> 之后）",
            "把代码移到页面底部、</body> 之前",
        ),
        Reason(
            "badge_static_copy",
            "markup",
            "failure",
            "网站标识是复制下来的静态图片、链接或脚本副本",
            "删除复制的内容，改用收到的原始网站标识代码",
        ),
        Reason(
            "badge_broken",
            "markup",
            "failure",
            "网站标识代码不完整或被改动",
            "重新复制收到的原始代码，原样粘贴到 </body> 之前",
        ),
        Reason(
            "badge_duplicate",
            "markup",
            "warning",
            "页面上有多处网站标识",
            "只保留页面底部中间的一处",
        ),
        Reason(
            "markup_malformed",
            "markup",
            "warning",
            "页面结构有误（多个 <body>、</body> 或 </html>）",
            "修正页面模板，使页面只有一个 <body>",
        ),
        Reason(
            "site_code_missing",
            "markup",
            "warning",
            "页面底部没有列明网站标识码",
            "在页面底部功能区列明本网站的政府网站标识码",
        ),
        Reason(
            "site_code_mismatch",
            "markup",
            "warning",
            "页面底部的网站标识码与登记的不一致",
            "把页面底部的网站标识码改为本网站登记的标识码",
        ),
        Reason(
            "icp_missing",
            "markup",
            "warning",
            "页面底部没有列明 ICP 备案编号",
            "在页面底部中间列明本网站的 ICP 备案编号，并链接到 https://beian.miit.gov.cn",
        ),
        Reason(
            "icp_mismatch",
            "markup",
            "warning",
            "页面底部的 ICP 备案编号与登记的不一致",
            "把页面底部的 ICP 备案编号改为本网站登记的备案编号",
        ),
        Reason(
            "psb_missing",
            "markup",
            "warning",
            "页面底部没有列明公安机关备案编号",
            "在页面底部列明本网站的公安机关备案编号，并链接到全国互联网安全管理服务平台",
        ),
        Reason("fetch_error", "markup", "not_failure", "页面未能获取，本次没有检查该页面"),
        Reason(
            "badge_not_rendered",
            "rendered",
            "failure",
            "在浏览器中打开页面后，网站标识没有显示出来",
            "确认标识代码完整地粘贴在页面 </body> 之前，不要放在注释中，也不要在页面加载后再插入",
            "页面在浏览器中打开后，网站标识没有显示出来：标识代码没有运行或没有生成标识。",
        ),
        Reason(
            "badge_image_error",
            "rendered",
            "failure",
            "网站标识的图片没有正常显示",
            "检查网站能否访问标识服务器，并确认网站登记信息有效",
            "网站标识的图片没有正常显示（图片加载失败或显示为错误标识）。",
        ),
        Reason(
            "badge_link_wrong",
            "rendered",
            "failure",
            "网站标识的链接没有指向本网站的标识证书",
            "使用为本网站发放的标识代码，不要复制其他网站的代码",
            "网站标识的链接没有指向本网站的标识证书页面。",
        ),
        Reason(
            "badge_hidden",
            "rendered",
            "failure",
            "网站标识在页面上看不到（被隐藏、遮挡或移出页面）",
            "调整页面样式，使标识清晰可见",
            "网站标识在页面上不可见（被隐藏、透明、尺寸为零、被裁剪、移出页面或被其他内容遮挡）。",
        ),
        Reason(
            "badge_not_bottom",
            "rendered",
            "failure",
            "网站标识没有位于页面底部",
            "把标识放在页面底部的页脚区域",
            "网站标识没有位于页面底部：标识不在页面的最后一屏，或标识下方还有正文、标题、大图等"
            "页脚以外的内容。",
        ),
        Reason(
            "badge_not_centered",
            "rendered",
            "failure",
            "网站标识没有位于页面底部中间",
            "把标识居中显示在页面底部",
        ),
        Reason("render_error", "rendered", "not_failure", "页面未能在浏览器中完成检查"),
    )
}

MARKUP_REASONS = tuple(code for code, r in REGISTRY.items() if r.check == "markup")
"""Every code the markup check can give a page, in its order of precedence."""
FOOTER_REASONS = (
    "site_code_missing", "site_code_mismatch", "icp_missing", "icp_mismatch", "psb_missing")
"""The footer's reasons (``crawler.checks.footer``): registered numbers the footer lacks."""
RENDER_REASONS = tuple(
    code for code, r in REGISTRY.items() if r.check == "rendered" and r.kind != "not_failure"
)
"""The failures of the rendered check (which also says ``ok`` and ``render_error``)."""
WARNINGS = frozenset(code for code, r in REGISTRY.items() if r.kind == "warning")
"""Codes that fail a page only when ``[crawl] failing_reasons`` says so."""
NOT_FAILURES = frozenset(code for code, r in REGISTRY.items() if r.kind == "not_failure")
"""Codes that never fail a page's badge: a pass, or a page that could not be checked."""

_SEVERITY = {code: n for n, code in enumerate(REGISTRY)}


def reason(code: str) -> Reason:
    """The registry's entry for ``code``; a code it does not know (from an older or newer
    version) still reads as a problem with general advice."""
    known = REGISTRY.get(code)
    if known is not None:
        return known
    return Reason(
        code,
        "markup",
        "failure",
        f"其他问题（{code}）",
        "对照网站标识加挂要求检查页面，或联系编办咨询",
    )


def reason_text(code: str) -> str:
    """What is wrong, in a few words."""
    return reason(code).text


def reason_advice(code: str) -> str:
    """What to do, to follow "请"."""
    return reason(code).advice


def reason_detail(code: str) -> str:
    """What is wrong, in full, followed by what to do: a page's message for this code."""
    r = reason(code)
    return f"{r.detail or r.text + '。'}请{r.advice}。"


def reason_counts(pages: Mapping[str, int]) -> list[tuple[str, int]]:
    """The failure reasons of a check (``pages`` maps a code to its page count, as
    ``store.records.reasons_of`` reads it), most frequent (then most severe) first."""
    return sorted(
        ((code, n) for code, n in pages.items() if code not in NOT_FAILURES and n),
        key=lambda item: (-item[1], _SEVERITY.get(item[0], len(_SEVERITY)), item[0]),
    )
