"""The shared corpus of real pages (../shared/corpus): what each file is, and the ``corpus``
fixture the tests read it through, which fails (never skips) when the directory is missing:
a CI without the corpus must not pass by running none of its tests."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    """The corpus directory; the test fails, saying where it looked, when it is not there."""
    if not CORPUS.is_dir():
        pytest.fail(
            f"the corpus of real pages is missing: expected the directory {CORPUS} "
            "(a checkout of the shared corpus beside this repository)",
            pytrace=False,
        )
    return CORPUS


# The corpus: every file, checked against the identifier (and certificate) its real badge
# carries. Files whose badge is only a static link carry no identifier; they are checked with
# an invented identifier plus the certificate they show.

HANDAN = ("CA051070000414687680001", "0A87C46FEE4D331AE053022819ACDC8C")
ORDOS = ("CA071360000406244870001", "05C2ED68A8F661C9E053012819ACF5E5")
BWLC = ("CA010000000604362170002", None)
CCGP = ("CA330000000604258890010", None)
DAXING = ("CA010140000604381890000", None)

# file: (identifier, certificate, verdict, reasons, identifiers found)
CORPUS_TABLE: dict[str, tuple[str, str | None, str, tuple[str, ...], tuple[str, ...]]] = {
    # machine-extracted facts about the corpus (JSON): names no badge host, so no badge
    ".analysis.json": (*CCGP, "non_compliant", ("badge_missing",), ()),
    # the manifest's raw table (TSV): file paths only, no badge
    ".manifest.tsv": (*CCGP, "non_compliant", ("badge_missing",), ()),
    # saved-DOM sandwich: live issued snippet, then the rendered copy and a local script copy
    "01_handan_gkzn_savedpage_rendered.html": (
        *HANDAN, "compliant", ("ok", "badge_duplicate"), (HANDAN[0],)),
    # the badge script itself read as HTML: its JS is text, and the two innerHTML strings it
    # assigns (red.png, red_error.png) parse as hard-coded rendered links, no live script
    "02_conac_badge_js_CA05107_saved.js": (
        *HANDAN, "non_compliant", ("badge_static_copy", "badge_duplicate"), ()),
    # school mirror: hard-coded link with a local blue.png, no script
    "03_shaoxingyizhong_staticlink_only.html": (
        "CA120000000000000000001", "06F2CAD4909B067AE053012819AC8596",
        "non_compliant", ("badge_static_copy",), ()),
    # the whole old footer with its static badge link is inside <!-- -->; gb2312 declared,
    # UTF-8 bytes (decoded as UTF-8)
    "04_shanghai_commented_badge_iframe_footer_gb2312meta_utf8bytes.html": (
        "CA020000000000000000001", "08E61FB166710F06E053012819AC1E62",
        "non_compliant", ("badge_inactive",), ()),
    # footer include with the issued snippet in a right-floated box (position is not markup)
    "05_shwgj_footer_include_float_right.html": (
        "CA020000000604305580002", None, "compliant", ("ok",), ("CA020000000604305580002",)),
    # saved-DOM sandwich: snippet + rendered span + a second live <script src> = two badges
    "06_ordos_engebei_nodehtmlparser_test69.html": (
        *ORDOS, "compliant", ("ok", "badge_duplicate"), (ORDOS[0],)),
    # the same page inside a JS test file: JS text around it, and content after </html>
    "06_ordos_engebei_nodehtmlparser_test69.js": (
        *ORDOS, "compliant", ("ok", "badge_duplicate", "markup_malformed"), (ORDOS[0],)),
    # async on an inline script is ignored; a rendered span with an unclosed <a> follows
    "07_xian_selecthouse_async_docwrite_unclosed_a.html": (
        "CA273860000409177190001", "0B667B24CEA13BD6E053012819ACFB84",
        "compliant", ("ok", "badge_duplicate"), ("CA273860000409177190001",)),
    # issued snippet after a CNZZ look-alike and a Baidu unescape; right-aligned by CSS
    "08_bwlc_beijing_welfare_lottery_phptest.html": (
        *BWLC, "compliant", ("ok",), (BWLC[0],)),
    # the same page inside a PHP heredoc: PHP text before it, content after </html>
    "08_bwlc_beijing_welfare_lottery_phptest.php": (
        *BWLC, "compliant", ("ok", "markup_malformed"), (BWLC[0],)),
    # a layout partial without <body>: the fragment counts as body; three spaces before src
    "09_faycms_cddx_php_footer_partial.html": (
        "CA233330000403164020001", None, "compliant", ("ok",), ("CA233330000403164020001",)),
    # old-IE save with upper-case <SCRIPT>; the CNZZ counter before it is not a badge
    "10_beijing_gjj_uppercase_SCRIPT_ie_saved_cnzz_lookalike.html": (
        "CA010000000604412140001", None, "compliant", ("ok",), ("CA010000000604412140001",)),
    # issued snippet followed by the decoded span + script: the script runs twice
    "11_hunan_zyyfy_docwrite_plus_unescaped_duplicate.html": (
        "CA190000000607952170004", None, "compliant", ("ok", "badge_duplicate"),
        ("CA190000000607952170004",)),
    # static link around a re-hosted image, no script
    "12_zhejiang_fzggw_hanweb_staticlink_custom_img_hidden_jiucuo.html": (
        "CA120000000000000000001", "6E7CB5B74E9C6470E053022E1AAC62CE",
        "non_compliant", ("badge_static_copy",), ()),
    # static link with a local /images/red.png, no script
    "13_shanxi_gov_staticlink_local_redpng_sitecode.html": (
        "CA040000000000000000001", "09EC618E4FB304A9E053012819AC9B09",
        "non_compliant", ("badge_static_copy",), ()),
    # badge after the first of two </body>, before the last: inside, with the warning
    "14_kepu_gov_two_body_html_included_fragment_hiddenxs.html": (
        "CA330000000604774680005", None, "compliant", ("ok", "markup_malformed"),
        ("CA330000000604774680005",)),
    # protocol-relative //dcs URL with three spaces before src
    "15_central_site_span_code_protocol_relative.html": (
        "CA330000000406723180002", None, "compliant", ("ok",), ("CA330000000406723180002",)),
    # https snippet
    "16_ccgp_central_https_sitecode_icp_split_spans.html": (
        *CCGP, "compliant", ("ok",), (CCGP[0],)),
    # a JS helper, not a page: read as HTML, the footer markup in its string literal is real
    # markup (span + badge script) and nothing encloses it
    "17_ccgp_detailaddon_jquery_html_injects_badge.js": (
        *CCGP, "compliant", ("ok",), (CCGP[0],)),
    # saved-DOM sandwich again (snippet, rendered span, live <script src>)
    "18_ccgp_hebei_saved_rendered_sitecode_meta.html": (
        "CA050000000608497830001", "57F5E9CA841A5ACDE053022819ACEAD1",
        "compliant", ("ok", "badge_duplicate"), ("CA050000000608497830001",)),
    # rendered Vue DOM: a link around a renamed local image, no script
    "19_guangdong_hrss_vue_rendered_footer_local_badge_img.html": (
        "CA200000000000000000001", "09D723E079105148E053012819AC0D35",
        "non_compliant", ("badge_static_copy",), ()),
    # Selenium DOM: rendered span + live script, plus the jQuery .html(unescape(...)) that
    # injects span + script (live: the injected span exists before the script fills it)
    "20_nfra_selenium_dom_jquery_html_injection_defer.html": (
        "CA330000000609429810003", "1800CB4DBB7B99F0E06310291AAC09C6",
        "compliant", ("ok", "badge_duplicate"), ("CA330000000609429810003",)),
    # clone: two hard-coded rendered spans (desktop and mobile footers), no script
    "21_guangzhou_clone_repo_duplicate_rendered_span_wzades.html": (
        "CA200000000000000000001", "17C0E2483D0F4652E053022819ACBE93",
        "non_compliant", ("badge_static_copy", "badge_duplicate"), ()),
    # only an empty placeholder span, no script; three </body>
    "22_beijing_daxing_fuyou_thinkphp_footer_include_span_only_no_script.html": (
        *DAXING, "non_compliant", ("badge_missing", "markup_malformed"), ()),
    # bare script before the final </body></html> (after two stray </body>); scripts after
    # </html>
    "23_beijing_daxing_fuyou_compiled_three_body_script_after_html.html": (
        *DAXING, "compliant", ("ok", "markup_malformed"), (DAXING[0],)),
    # issued snippet in a page full of U+FFFD from GBK text saved as UTF-8
    "24_shangluo_swgd_blade_mojibake_fffd_from_gbk.html": (
        "CA273870000608921520003", None, "compliant", ("ok",), ("CA273870000608921520003",)),
    # a fake 网站标识码 in the footer, no badge at all
    "25_xian_student_savedpage_fake_sitecode_no_badge.html": (
        "CA270000000000000000001", None, "non_compliant", ("badge_missing",), ()),
    # clone: hard-coded rendered span with a local red.png
    "26_moe_clone_rendered_span_static_sitecode_bm05000001.html": (
        "CA330000000000000000001", "05FDD4B7206C29B0E053012819AC4C18",
        "non_compliant", ("badge_static_copy",), ()),
    # clone: static link around a custom-named image
    "27_sichuan_clone_static_link_custom_dzjg_image.html": (
        "CA230000000000000000001", "0B69D405429E0E7AE053012819AC9DDD",
        "non_compliant", ("badge_static_copy",), ()),
    # documentation, not a page: read as HTML, its first quoted `<script src=…>` opens a
    # script element that swallows the rest, so every badge URL it names is ignored text
    "MANIFEST.md": (
        *CCGP, "non_compliant", ("badge_inactive", "markup_malformed"),
        ("CA190000000607952170004", "CA330000000604258890010", "CA010140000604381890000")),
}
