"""The Chinese texts sent to a unit: its badge issued, its re-review approved, or its
application rejected at a step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from badgewatch.config import BadgeConfig
from badgewatch.domains import display_domain
from badgewatch.localtime import cn_date, cn_time
from badgewatch.vocabulary import KIND_LABELS
from store.models import ApplicationKind
from workflow.issuance import BadgeCode, decoded_snippet, issued_snippet
from workflow.machine import EVENT_LABELS, Event


@dataclass(frozen=True)
class Notice:
    subject: str
    email_body: str
    sms_body: str


def badge_issued(
    badge: BadgeConfig,
    code: BadgeCode,
    *,
    unit_name: str,
    serial: str,
    site_name: str,
    domain: str,
    notified_on: date,
    placement_due: date,
    placement_days: int,
) -> Notice:
    shown_domain = display_domain(domain)
    subject = f"【网站标识】{site_name}（{shown_domain}）网站标识代码已发放"
    email_body = f"""{unit_name}：

贵单位“{site_name}”（{shown_domain}）的开办审核已完成，纸质材料已确认，现发放网站标识。

申请序号：{serial}

网站标识代码（网站标识编号）：{code.identifier}
标识证书编号：{code.certificate}
证书查询地址：{code.certificate_url}

请将下面的代码完整复制，粘贴到网站所有页面代码的 </body> 之前，
使网站标识显示在每个页面底部中间的显著位置：

{issued_snippet(badge, code)}

如网站模板不能使用上面的写法，也可以粘贴等效的代码：

{decoded_snippet(badge, code)}

注意：
1. 所有页面都要加挂，包括首页、栏目页、文章页和专题页；
2. 不要修改代码中的任何字符，不要放在注释、<noscript> 或 <head> 中；
3. 不要把标识图片另存后改成静态链接，标识须由上面的脚本生成。

通知日期：{cn_date(notified_on)}
加挂期限：请于 {cn_date(placement_due)} 前（通知之日起 {placement_days} 个工作日内）完成加挂。
逾期未加挂的，将在合规检查中列为逾期。
"""
    sms_body = (
        f"【网站标识】{unit_name}：“{site_name}”（{shown_domain}，申请序号 {serial}）"
        f"网站标识代码 "
        f"{code.identifier} 已发放，代码已发送至经办人邮箱。"
        f"请于 {cn_date(placement_due)} 前将代码粘贴到网站所有页面的 </body> 之前，"
        "使标识显示在页面底部中间。"
    )
    return Notice(subject=subject, email_body=email_body, sms_body=sms_body)


def rereview_approved(
    badge: BadgeConfig,
    code: BadgeCode | None,
    *,
    identifier: str,
    unit_name: str,
    serial: str,
    site_name: str,
    domain: str,
    rereviewed_on: date,
) -> Notice:
    """复核通过: the site keeps its identifier; the same code is repeated (None for a site
    imported without its certificate, whose code only its office holds)."""
    shown_domain = display_domain(domain)
    subject = f"【网站标识】{site_name}（{shown_domain}）复核通过"
    if code is None:
        snippet = "网站标识代码不变，网站现有的标识代码请继续保留在所有页面。"
    else:
        snippet = f"""网站标识代码不变，网站已加挂的代码无需修改；如需重新加挂，代码如下：

{issued_snippet(badge, code)}"""
    email_body = f"""{unit_name}：

贵单位“{site_name}”（{shown_domain}）的已开办网站复核已完成，复核通过。

申请序号：{serial}
网站标识代码（网站标识编号）：{identifier}
复核日期：{cn_date(rereviewed_on)}

{snippet}
"""
    sms_body = (
        f"【网站标识】{unit_name}：“{site_name}”（{shown_domain}，申请序号 {serial}）"
        f"复核通过，网站标识代码 {identifier} 不变，已加挂的代码无需修改。"
    )
    return Notice(subject=subject, email_body=email_body, sms_body=sms_body)


REJECTION_STEPS: dict[Event, str] = {
    Event.OFFICE_REJECT: "同级机构编制部门在线审核",
    Event.CONAC_REJECT: "CONAC 在线复审",
    Event.REJECT_MATERIALS: "纸质材料审核",
}
"""The events that reject an application, each with the step a notice names."""

_WHAT_TO_DO: dict[Event, str] = {
    Event.OFFICE_REJECT: "请按上述原因修改申请后重新提交。",
    Event.CONAC_REJECT: "请按上述原因修改申请后重新提交。",
    Event.REJECT_MATERIALS: (
        "请按上述原因更正后重新提交申请，并重新提交纸质材料（加盖单位公章的申请函和申请表）。"
    ),
}


def application_rejected(
    event: Event,
    *,
    rereview_of: str | None = None,
    unit_name: str,
    serial: str,
    site_name: str,
    domain: str,
    reason: str,
    decided_at: datetime,
    zone: ZoneInfo,
) -> Notice:
    """The notice of an office, CONAC or materials rejection: the reason and what to do; for a
    re-review (``rereview_of``, the site's identifier), that the badge stays as it was."""
    shown_domain = display_domain(domain)
    label = EVENT_LABELS[event]
    what_to_do = _WHAT_TO_DO[event]
    which = "网站标识申请" if rereview_of is None else "已开办网站复核申请"
    kept = "" if rereview_of is None else (
        f"\n网站现有标识（{rereview_of}）保持不变，请继续在网站所有页面加挂。\n"
    )
    subject = f"【网站标识】{site_name}（{shown_domain}）{'复核：' if rereview_of else ''}{label}"
    email_body = f"""{unit_name}：

贵单位“{site_name}”（{shown_domain}）的{which}未通过{REJECTION_STEPS[event]}。

申请序号：{serial}
申请类型：{KIND_LABELS[ApplicationKind.REREVIEW if rereview_of else ApplicationKind.NEW]}
审核结果：{label}
审核时间：{cn_time(decided_at, zone)}
不通过原因：{reason}

{what_to_do}
{kept}"""
    sms_body = (
        f"【网站标识】{unit_name}：“{site_name}”（{shown_domain}，申请序号 {serial}）"
        f"{'已开办网站复核' if rereview_of else ''}{label}，原因：{reason}。{what_to_do}"
        f"{'网站现有标识保持不变。' if rereview_of else ''}"
    )
    return Notice(subject=subject, email_body=email_body, sms_body=sms_body)
