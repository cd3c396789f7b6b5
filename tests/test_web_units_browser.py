"""A unit in Debian's Chromium, finding every control by its visible label: it registers (the
验证码 read from the local SMS gateway), logs in, fills the application form and submits it,
and sees it in 我的申请."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.webapp import World
from tests.webbrowser import fill, fill_application, log_in

DOMAIN = "新单位.政务"
IP = "127.0.0.40"


@pytest.fixture
def web_env(dns_server, dns_config, sms_gateway) -> dict[str, str]:
    dns_server.set_records(DOMAIN, a=[IP])
    return {
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_SMTP_PORT": "1",
    }


def test_a_unit_registers_applies_and_sees_my_applications(
    served: tuple[str, World], page: Page, sms_gateway
) -> None:
    base, _ = served
    page.goto(f"{base}/login")
    page.get_by_role("link", name="新用户注册").click()
    expect(page.get_by_role("heading", name="新用户注册")).to_be_visible()
    fill(page, {"单位名称": "杭州市新单位", "通讯地址": "浙江省杭州市上城区1号",
                "经办人姓名": "李经办", "经办人手机": "13905719999"})
    page.get_by_label("组织机构类型", exact=True).select_option("政府")
    page.get_by_label("同级编办", exact=True).select_option(label="330100 杭州市委编办")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("status")).to_contain_text("验证码已发送")
    code = re.search(r"验证码为 (\d{6})", sms_gateway.sms[-1]["message"]).group(1)
    fill(page, {"验证码": code, "经办人电子邮箱": "li@hz.example.cn", "用户名": "hz-new",
                "密码": "a good password", "确认密码": "a good password"})
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_role("status")).to_contain_text("注册成功")

    log_in(page, "hz-new", "a good password")
    expect(page.get_by_role("heading", name="网站开办审核/资质复核申请")).to_be_visible()
    expect(page.get_by_role("heading", name="申请说明")).to_be_visible()
    page.get_by_role("link", name="新增申请").click()
    expect(page.get_by_label("开办主体名称", exact=True)).to_have_value("杭州市新单位")
    fill_application(page, site="杭州市新单位网站", domain=DOMAIN, ip="127.0.0.41")
    page.get_by_role("button", name="提交申请").click()
    # the DNS says otherwise: the error beside the address, what was typed kept
    expect(page.get_by_text("127.0.0.40")).to_be_visible()
    expect(page.get_by_label("网站名称", exact=True)).to_have_value("杭州市新单位网站")
    page.get_by_label("IP 地址（IPv4）", exact=True).fill(IP)
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("status")).to_contain_text("已提交")
    row = page.get_by_role("row").filter(has_text="杭州市新单位网站")
    expect(row).to_contain_text("待编办审核")
    expect(row).to_contain_text("新开办网站申请")
    row.get_by_role("link", name="查看审核结果").click()
    expect(page.get_by_role("heading", name="杭州市新单位网站")).to_be_visible()
