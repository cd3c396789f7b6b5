"""The footer reader (crawler/checks/footer.py) on every corpus file, against the numbers a
person reads at the bottom of each page, and on the variants and missing cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from badgewatch.registrations import (
    FooterRegistration,
    canonical_icp,
    canonical_psb,
    canonical_site_code,
)
from badgewatch.vocabulary import FOOTER_REASONS
from crawler.checks.badge import Policy, SiteBadge, check_page
from crawler.checks.footer import TAIL, FooterNumbers, read_footer

# file: (网站标识码, ICP, 公安备案) as the page shows them (canonical form: see footer.py),
# each read by hand from the page; None: the page shows none.
FOOTERS: dict[str, tuple[str | None, str | None, str | None]] = {
    ".analysis.json": (None, None, None),
    ".manifest.tsv": (None, None, None),
    # `网站标识码 1304000009` without a colon; ICP and 公安 inside <font> in links
    "01_handan_gkzn_savedpage_rendered.html": (
        "1304000009", "冀ICP备05029117号-1", "冀公网安备13042002000523号"),
    "02_conac_badge_js_CA05107_saved.js": (None, None, None),
    # `浙公网安备 33060202000394号` after an image, `ICP证：浙ICP备14042003号-1`
    "03_shaoxingyizhong_staticlink_only.html": (
        None, "浙ICP备14042003号-1", "浙公网安备33060202000394号"),
    # the only ICP (a title attribute) is inside the commented-out footer
    "04_shanghai_commented_badge_iframe_footer_gb2312meta_utf8bytes.html": (None, None, None),
    # `沪ICP备<br />0504224`: split by a line break, no 号
    "05_shwgj_footer_include_float_right.html": (None, "沪ICP备0504224号", None),
    # `网站标识码：1506000140` in <font>, `&nbsp;蒙公网安备 15062102000168号`
    "06_ordos_engebei_nodehtmlparser_test69.html": (
        "1506000140", "蒙ICP备13001412号-2", "蒙公网安备15062102000168号"),
    "06_ordos_engebei_nodehtmlparser_test69.js": (
        "1506000140", "蒙ICP备13001412号-2", "蒙公网安备15062102000168号"),
    "07_xian_selecthouse_async_docwrite_unclosed_a.html": (None, None, None),
    # `京公网安备 11010202007232号` in a <p> inside the portal link
    "08_bwlc_beijing_welfare_lottery_phptest.html": (
        None, "京ICP备09069186号", "京公网安备11010202007232号"),
    "08_bwlc_beijing_welfare_lottery_phptest.php": (
        None, "京ICP备09069186号", "京公网安备11010202007232号"),
    # `[<?php echo OptionService::get('site:beian')?>]`: the number comes from PHP
    "09_faycms_cddx_php_footer_partial.html": (None, None, None),
    # upper-case <SPAN>s; `京公网安备11010102001509` without 号
    "10_beijing_gjj_uppercase_SCRIPT_ie_saved_cnzz_lookalike.html": (
        "1100000241", "京ICP备05031686号", "京公网安备11010102001509号"),
    # ideographic space before `湘ICP备14002927号-5`
    "11_hunan_zyyfy_docwrite_plus_unescaped_duplicate.html": (
        None, "湘ICP备14002927号-5", None),
    "12_zhejiang_fzggw_hanweb_staticlink_custom_img_hidden_jiucuo.html": (
        "3300000020", "浙ICP备05018911号", "浙公网安备33010602009328号"),
    "13_shanxi_gov_staticlink_local_redpng_sitecode.html": (
        "1400000045", "晋ICP备12000773号", "晋公网安备14010502050691号"),
    # `政府网站标识码：bm06000004` in an <li>; no 公安 number
    "14_kepu_gov_two_body_html_included_fragment_hiddenxs.html": (
        "bm06000004", "京ICP备05022684号-3", None),
    # `京ICP备11039383号-6京 公网安备11010202000010`: run together, a space inside the label
    "15_central_site_span_code_protocol_relative.html": (
        None, "京ICP备11039383号-6", "京公网安备11010202000010号"),
    # numbers split across spans: `京<span>ICP</span>备<span>19054529</span>号<span>-1</span>`
    "16_ccgp_central_https_sitecode_icp_split_spans.html": (
        "bm14000002", "京ICP备19054529号-1", "京公网安备11010602060068号"),
    "17_ccgp_detailaddon_jquery_html_injects_badge.js": (
        "bm14000002", "京ICP备19054529号-1", "京公网安备11010602060068号"),
    # `网站标识码: 1300000065`; `冀公网安备 <a href=…recordcode=13010402001602>`: the number is
    # only in the link
    "18_ccgp_hebei_saved_rendered_sitecode_meta.html": (
        "1300000065", "冀ICP备13016076号-2", "冀公网安备13010402001602号"),
    "19_guangdong_hrss_vue_rendered_footer_local_badge_img.html": (
        None, "粤ICP备12027628号", "粤公网安备44010402000400号"),
    "20_nfra_selenium_dom_jquery_html_injection_defer.html": (
        "bm55000001", "京ICP备19014889号", "京公网安备11010202008000号"),
    "21_guangzhou_clone_repo_duplicate_rendered_span_wzades.html": (
        "4401000004", "粤ICP备2022092331号-1", "粤公网安备44010602000929号"),
    "22_beijing_daxing_fuyou_thinkphp_footer_include_span_only_no_script.html": (
        None, "京ICP备10010251号", None),
    "23_beijing_daxing_fuyou_compiled_three_body_script_after_html.html": (
        None, "京ICP备10010251号", None),
    # `��ICP��15005619��`: the GBK text is lost, nobody can read it
    "24_shangluo_swgd_blade_mojibake_fffd_from_gbk.html": (None, None, None),
    # the fake code is what the page shows; `陕公网安备\n61010402000147号` over two lines
    "25_xian_student_savedpage_fake_sitecode_no_badge.html": (
        "8686868686", "陕ICP备05011550号", "陕公网安备61010402000147号"),
    "26_moe_clone_rendered_span_static_sitecode_bm05000001.html": (
        "bm05000001", "京ICP备10028400号-1", "京公网安备11010202007625号"),
    # `网站标识码5100000062` without a separator; `蜀ICP备 13001288号` with a space
    "27_sichuan_clone_static_link_custom_dzjg_image.html": (
        "5100000062", "蜀ICP备13001288号", "川公网安备51010402000507号"),
    # documentation: its examples sit in the middle, not at the end
    "MANIFEST.md": (None, None, None),
}


def test_the_table_covers_the_corpus(corpus: Path) -> None:
    assert sorted(p.name for p in corpus.iterdir()) == sorted(FOOTERS)


@pytest.mark.parametrize("name", sorted(FOOTERS))
def test_corpus_footer(corpus: Path, name: str) -> None:
    assert read_footer((corpus / name).read_bytes()) == FooterNumbers(*FOOTERS[name])


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>网站标识码：1300000065</p>", FooterNumbers(site_code="1300000065")),
        ("<p>政府网站标识码:BM06000004</p>", FooterNumbers(site_code="bm06000004")),
        ("<p>网站标识码：<span>bm14000002</span></p>", FooterNumbers(site_code="bm14000002")),
        # 11 digits: not a code
        ("<p>网站标识码：13000000651</p>", FooterNumbers()),
        ("<a href='https://beian.miit.gov.cn'>冀ICP备13016076号-2</a>",
         FooterNumbers(icp="冀ICP备13016076号-2")),
        ("<a>京ICP备 04000001 号 - 3</a>", FooterNumbers(icp="京ICP备04000001号-3")),
        ("京公网安备&nbsp;11010202007232号", FooterNumbers(psb="京公网安备11010202007232号")),
        ("京公网安备<span>11010602060068</span>号",
         FooterNumbers(psb="京公网安备11010602060068号")),
        ("京公网安备：<a href='http://www.beian.mps.gov.cn/portal/registerSystemInfo?"
         "recordcode=11010202007232'>查询</a>", FooterNumbers(psb="京公网安备11010202007232号")),
        # commented out, in a script, in an attribute: not shown
        ("<!-- 网站标识码：1300000065 --><script>var s='京ICP备1号';</script>"
         "<img alt='京公网安备 11010202007232号'>", FooterNumbers()),
        ("<p>版权所有</p>", FooterNumbers()),
        ("", FooterNumbers()),
    ],
)
def test_variants_and_missing(html: str, expected: FooterNumbers) -> None:
    assert read_footer(html.encode()) == expected


def test_only_the_tail_is_read() -> None:
    footer = "<p>网站标识码：1300000065 冀ICP备13016076号-2</p>".encode()
    assert read_footer(footer + b" " * TAIL) == FooterNumbers()
    assert read_footer(b" " * TAIL + footer).site_code == "1300000065"


def test_the_last_number_is_the_footer() -> None:
    page = "<p>网站标识码：1111111111</p><footer>网站标识码：2222222222</footer>"
    assert read_footer(page.encode()).site_code == "2222222222"


def test_canonical_registered_values() -> None:
    assert canonical_site_code(" BM06000004 ") == "bm06000004"
    assert canonical_site_code("86868686") is None
    assert canonical_icp("冀ICP备13016076号-2") == "冀ICP备13016076号-2"
    assert canonical_icp("沪ICP备 0504224") == "沪ICP备0504224号"
    assert canonical_icp("13016076") is None
    assert canonical_psb("京公网安备 11010202007232号") == "京公网安备11010202007232号"
    assert canonical_psb("11010202007232") == "11010202007232"
    assert canonical_psb("京公网安备") is None


def test_gbk_page() -> None:
    page = "<p>网站标识码：1300000065 冀ICP备13016076号-2 冀公网安备 13010402001602号</p>"
    expected = FooterNumbers("1300000065", "冀ICP备13016076号-2", "冀公网安备13010402001602号")
    assert read_footer(page.encode("gb18030")) == expected
    assert read_footer(page.encode("gbk"), "gbk") == expected
    assert read_footer(page) == expected
    # the label alone, in GB18030 bytes, after a long page
    code = ("<p>" + "正文" * 40000 + "</p><p>网站标识码：1300000065</p>").encode("gb18030")
    assert read_footer(code) == FooterNumbers(site_code="1300000065")


# The page check: registered numbers against the footer.


CCGP_ID = "CA330000000604258890010"
CCGP_PAGE = "16_ccgp_central_https_sitecode_icp_split_spans.html"
CCGP_FOOTER = FooterRegistration("bm14000002", "京ICP备19054529号-1", "11010602060068")


def test_registered_numbers_shown(corpus: Path) -> None:
    body = (corpus / CCGP_PAGE).read_bytes()
    verdict = check_page(body, SiteBadge(CCGP_ID), footer=CCGP_FOOTER)
    assert (verdict.verdict, verdict.reasons) == ("compliant", ("ok",))
    assert verdict.footer == FooterNumbers(*FOOTERS[CCGP_PAGE])


def test_nothing_registered_nothing_checked(corpus: Path) -> None:
    body = (corpus / "22_beijing_daxing_fuyou_thinkphp_footer_include_span_only_no_script.html")
    plain = check_page(body.read_bytes(), SiteBadge("CA010140000604381890000"))
    empty = check_page(body.read_bytes(), SiteBadge("CA010140000604381890000"),
                       footer=FooterRegistration())
    assert plain == empty and plain.footer is None
    assert not any(r.startswith(("site_code", "icp", "psb")) for r in plain.reasons)


def test_mismatch_and_missing_are_warnings(corpus: Path) -> None:
    body = (corpus / "14_kepu_gov_two_body_html_included_fragment_hiddenxs.html").read_bytes()
    site = SiteBadge("CA330000000604774680005")
    registered = FooterRegistration("bm06000005", "京ICP备05022684号-4", "11010202007232")
    verdict = check_page(body, site, footer=registered)
    assert verdict.verdict == "compliant"
    assert verdict.reasons == (
        "ok", "markup_malformed", "site_code_mismatch", "icp_mismatch", "psb_missing")
    assert "页面底部为 bm06000004，登记的是 bm06000005" in verdict.message
    assert "页面底部没有列明公安机关备案编号：登记的公安机关备案编号为 11010202007232。" in (
        verdict.message)
    # no site code at all: missing
    page = f"<html><body>{CCGP_PAGE}</body></html>"
    missing = check_page(page, site, footer=FooterRegistration("1300000065", "京ICP备12345678号"))
    assert missing.reasons[-2:] == ("site_code_missing", "icp_missing")
    assert {*verdict.reasons, *missing.reasons} >= set(FOOTER_REASONS)
    assert "请在页面底部功能区列明本网站的政府网站标识码。" in missing.message


def test_failing_when_the_policy_says_so(corpus: Path) -> None:
    body = (corpus / CCGP_PAGE).read_bytes()
    policy = Policy.from_codes([*Policy().failures, "icp_mismatch", "psb_missing"])
    registered = FooterRegistration(icp="京ICP备19054529号-2")
    verdict = check_page(body, SiteBadge(CCGP_ID), policy, footer=registered)
    assert (verdict.verdict, verdict.reasons) == ("non_compliant", ("ok", "icp_mismatch"))
    assert check_page(body, SiteBadge(CCGP_ID), policy, footer=CCGP_FOOTER).compliant


def test_registration_refuses_what_is_no_number() -> None:
    with pytest.raises(ValueError, match="site_code"):
        FooterRegistration(site_code="8686868")
    with pytest.raises(ValueError, match="icp"):
        FooterRegistration(icp="19054529")
    assert FooterRegistration(psb="京公网安备 11010202007232号").psb == "京公网安备11010202007232号"
    assert not FooterRegistration()


def test_the_crawl_job_carries_the_registered_numbers() -> None:
    from crawler.jobs import SiteJob

    job = SiteJob(1, "a.政务", ("a.政务",), "10.0.0.1", None, CCGP_ID, None,
                  site_code="bm14000002", psb="11010602060068")
    assert job.footer() == FooterRegistration("bm14000002", None, "11010602060068")
    assert SiteJob.from_json(job.to_json()) == job
    old = {k: v for k, v in job.to_json().items() if k not in ("site_code", "icp", "psb")}
    assert SiteJob.from_json(old).footer() is None


def test_a_label_in_a_script_after_the_footer() -> None:
    footer = "<p>网站标识码：1300000065 冀ICP备13016076号-2 冀公网安备 13010402001602号</p>"
    script = "<script>var s = '网站标识码 ICP 公网安';" + " " * 2000 + "</script>"
    page = footer + "<div>" + "正文" * 1000 + "</div>" + script
    expected = FooterNumbers("1300000065", "冀ICP备13016076号-2", "冀公网安备13010402001602号")
    assert read_footer(page) == expected
    assert read_footer(page.encode()) == expected
