"""The Chinese texts sent to a unit when its badge is issued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from badgewatch.config import BadgeConfig
from badgewatch.domains import display_domain
from badgewatch.localtime import cn_date
from workflow.issuance import BadgeCode, decoded_snippet, issued_snippet


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
