"""The page check against every real page in ../shared/corpus and against small fixtures that
cover each reason code, each mutation of the issued snippet, the look-alikes and encodings."""

from __future__ import annotations

import codecs
import re

import pytest

from badgewatch.config import BadgeConfig
from badgewatch.vocabulary import FOOTER_REASONS
from crawler.checks import (
    REASONS,
    BadgePatterns,
    Policy,
    SiteBadge,
    check_page,
    fetch_failed,
)
from crawler.checks.markup import codec_for_label, decode_page
from tests.corpus import CORPUS_TABLE

CHINESE = re.compile(r"[\u4e00-\u9fff]")

# Words the message must contain for each reason, so a webmaster learns what is wrong.
MENTIONS = {
    "ok": "已加挂本网站的网站标识",
    "badge_missing": "没有找到网站标识",
    "badge_other_site": "属于其他网站",
    "badge_inactive": "不会执行",
    "badge_outside_body": "不在页面正文内",
    "badge_static_copy": "复制下来的静态",
    "badge_broken": "已损坏",
    "badge_duplicate": "请只保留页面底部中间的一处",
    "markup_malformed": "修正页面模板",
    "fetch_error": "未能获取",
}


def assert_message(verdict, extra: str | None = None) -> None:
    assert CHINESE.search(verdict.message), verdict.message
    for reason in verdict.reasons:
        assert MENTIONS[reason] in verdict.message, (reason, verdict.message)
    if extra is not None:
        assert extra in verdict.message, verdict.message


# ---------------------------------------------------------------------------------------------
# The corpus: every file, checked against the identifier (and certificate) its real badge
# carries (the table is in tests/corpus.py; the `corpus` fixture fails when it is missing).

def test_table_covers_every_corpus_file(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(CORPUS_TABLE)


@pytest.mark.parametrize("name", sorted(CORPUS_TABLE))
def test_corpus_file(corpus, name):
    identifier, certificate, verdict, reasons, identifiers = CORPUS_TABLE[name]
    site = SiteBadge(identifier, certificate)
    body = (corpus / name).read_bytes()
    result = check_page(body, site)
    assert (result.verdict, result.reasons) == (verdict, reasons)
    assert result.identifiers == identifiers
    if certificate is not None:
        assert result.certificates == (certificate,)
    assert_message(result)
    if reasons[0] == "ok":  # the offset points at the element that carries the live badge
        assert result.in_body is True and result.offset is not None
        text = body.decode("utf-8")
        assert text[result.offset] == "<"
        assert identifier in text[result.offset : result.offset + 600]
    # The same text, already decoded, gives the same answer.
    again = check_page(body.decode("utf-8"), site)
    assert (again.verdict, again.reasons, again.identifiers) == (verdict, reasons, identifiers)


LIVE_BADGE_FILES = [name for name, row in CORPUS_TABLE.items() if row[3][0] == "ok"]
STATIC_FILES = [name for name, row in CORPUS_TABLE.items() if row[3][0] == "badge_static_copy"
                and row[1] is not None and not name.endswith(".js")]


@pytest.mark.parametrize("name", LIVE_BADGE_FILES)
def test_corpus_badge_of_another_site(corpus, name):
    """A page carrying a real badge, crawled as another site's page: someone copied the code."""
    other = SiteBadge("CA110000000699999990001")
    result = check_page((corpus / name).read_bytes(), other)
    assert result.verdict == "non_compliant"
    assert result.reasons[0] == "badge_other_site"
    assert CORPUS_TABLE[name][4][0] in result.message
    assert_message(result)


@pytest.mark.parametrize("name", STATIC_FILES)
def test_corpus_static_link_of_another_site(corpus, name):
    """With the site's certificate known, a copied link of another site's certificate says so;
    without it, the link gets the benefit of the doubt and is only a static copy."""
    body = (corpus / name).read_bytes()
    known = check_page(body, SiteBadge("CA110000000699999990001", "F" * 32))
    assert known.reasons[0] == "badge_other_site"
    unknown = check_page(body, SiteBadge("CA110000000699999990001"))
    assert unknown.reasons[0] == "badge_static_copy"


# ---------------------------------------------------------------------------------------------
# Inline fixtures

ID = "CA330000000604258890010"
OTHER_ID = "CA330000000604258800010"
URL = f"http://dcs.conac.cn/js/33/000/0000/60425889/{ID}.js"
CERT = "1800CB4DBB7B99F0E06310291AAC09C6"
SITE = SiteBadge(ID, CERT)
ARG = (
    f"%3Cspan id='_ideConac' %3E%3C/span%3E%3Cscript src='{URL}' "
    "type='text/javascript'%3E%3C/script%3E"
)
CALL = f'document.write(unescape("{ARG}"));'
V1 = f'<script type="text/javascript">{CALL}</script>'
V2 = f'<span id="_ideConac"></span><script src="{URL}" type="text/javascript"></script>'
V3 = f'<script type="text/javascript" src="{URL}"></script>'
RENDERED = (
    f'<span id="_ideConac"><a href="//bszs.conac.cn/sitename?method=show&amp;id={CERT}" '
    'target="_blank"><img id="imgConac" vspace="0" hspace="0" border="0" '
    'src="//dcs.conac.cn/image/red.png" data-bd-imgshare-binded="1"></a></span>'
)
CNZZ = (
    '<script type="text/javascript">var cnzz_protocol = (("https:" == document.location.'
    'protocol) ? " https://" : " http://");document.write(unescape("%3Cspan id=\'cnzz_stat_'
    "icon_1272146544'%3E%3C/span%3E%3Cscript src='\" + cnzz_protocol + \"s19.cnzz.com/z_stat."
    "php%3Fid%3D1272146544%26show%3Dpic1' type='text/javascript'%3E%3C/script%3E\"));</script>"
)


def page(footer: str = "", head: str = "", charset: str = "utf-8") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>某县人民政府</title>'
        f"{head}</head><body><div class='main'>政务公开 通知公告</div>"
        f"<div class='footer'><p>主办单位：某县人民政府办公室 网站标识码：3301000001</p>"
        f"{footer}</div></body></html>"
    )


# name: (html, verdict, reasons, identifiers, word in the message or None)
FIXTURES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...], str | None]] = {
    # the issued code and its mutations seen on real pages
    "issued": (page(V1), "compliant", ("ok",), (ID,), ID),
    "https": (page(V1.replace("http://", "https://")), "compliant", ("ok",), (ID,), None),
    "protocol-relative": (page(V1.replace("http://", "//")), "compliant", ("ok",), (ID,), None),
    "one space": (page(V1.replace("%3Cscript src", "%3Cscript src")), "compliant", ("ok",),
                  (ID,), None),
    "three spaces": (page(V1.replace("%3Cscript src", "%3Cscript   src")), "compliant",
                     ("ok",), (ID,), None),
    "upper-case tags": (
        page(V1.replace("<script", "<SCRIPT").replace("</script>", "</SCRIPT>")
             .replace("%3Cscript", "%3CSCRIPT").replace("%3C/script", "%3C/SCRIPT")
             .replace("%3Cspan", "%3CSPAN")),
        "compliant", ("ok",), (ID,), None),
    "line breaks in the call": (
        page(V1.replace("document.write(", "document\n\t\t.write(\n  ")),
        "compliant", ("ok",), (ID,), None),
    "trailing space in the URL": (page(V1.replace(".js'", ".js '")), "compliant", ("ok",),
                                  (ID,), None),
    "backslash-escaped quotes": (page(V1.replace("'", "\\'")), "compliant", ("ok",), (ID,),
                                 None),
    "nested document.write in a JS string": (
        page("<script>document.write(\"<div class=\\\"dzjgbox\\\"><script type=\\\"text/"
             "javascript\\\">" + CALL.replace('"', '\\"').replace("'", "\\'")
             + "<\\/script></div>\");</script>"),
        "compliant", ("ok",), (ID,), None),
    "old <!-- //--> script wrapper": (
        page(f"<script type='text/javascript'><!--\n{CALL}\n//--></script>"),
        "compliant", ("ok",), (ID,), None),
    "async inline script (ignored by browsers)": (
        page(V1.replace("<script ", "<script async='async' ")), "compliant", ("ok",), (ID,),
        None),
    # the other live forms
    "decoded span + script (V2)": (page(V2), "compliant", ("ok",), (ID,), None),
    "bare script (V3)": (page(V3), "compliant", ("ok",), (ID,), None),
    "placeholder span before a bare script": (
        page("<span id='_ideConac'></span>" + V3), "compliant", ("ok",), (ID,), None),
    "jQuery .html(unescape(...)) with the span (V6)": (
        page(f'<div class="footer-right"></div><script defer>$(".footer-right").html(\n'
             f'  unescape(\n    "{ARG}"\n  )\n);</script>'),
        "compliant", ("ok",), (ID,), None),
    "jQuery .append of span + script in a JS string (V6)": (
        page(f"<div class='f'></div><script>$('.f').append('<span id=\"_ideConac\">"
             f"</span><script src=\"{URL}\"><\\/script>');</script>"),
        "compliant", ("ok",), (ID,), None),
    "async script after a placeholder span": (
        page(f'<span id="_ideConac"></span><script async src="{URL}"></script>'),
        "compliant", ("ok",), (ID,), None),
    "dynamic script element with a placeholder span": (
        page(f"<span id='_ideConac'></span><script>var s = document.createElement('script');"
             f"s.src = '{URL}'; document.body.appendChild(s);</script>"),
        "compliant", ("ok",), (ID,), None),
    # look-alikes: not badges
    "CNZZ counter only": (page(CNZZ), "non_compliant", ("badge_missing",), (), None),
    "CNZZ counter then the badge": (page(CNZZ + V1), "compliant", ("ok",), (ID,), None),
    "generic registry search link": (
        page('<a href="https://bszs.conac.cn/sitename?method=searchIndex">网站标识查询</a>'),
        "non_compliant", ("badge_missing",), (), None),
    "badge host mentioned in text": (
        page("<p>标识服务：dcs.conac.cn、bszs.conac.cn</p>"),
        "non_compliant", ("badge_missing",), (), None),
    "comment naming the snippet only": (
        page("<!--党政机关 代码--><!-- _ideConac -->"), "non_compliant", ("badge_missing",), (),
        None),
    # badge_missing
    "no badge": (page(), "non_compliant", ("badge_missing",), (), None),
    "empty placeholder span only": (
        page("<span id='_ideConac'></span>"), "non_compliant", ("badge_missing",), (),
        "占位"),
    # badge_other_site
    "another site's live badge": (
        page(V1.replace("60425889", "60425880").replace(ID, OTHER_ID)),
        "non_compliant", ("badge_other_site",), (OTHER_ID,), OTHER_ID),
    "another site's static link": (
        page(f'<a href="http://bszs.conac.cn/sitename?method=show&id={"AB" * 16}">'
             '<img src="/images/red.png"></a>'),
        "non_compliant", ("badge_other_site",), (), "AB" * 16),
    "own badge commented out, another site's live": (
        page("<!--" + V1 + "-->" + V1.replace("60425889", "60425880").replace(ID, OTHER_ID)),
        "non_compliant", ("badge_other_site", "badge_inactive"), (ID, OTHER_ID), None),
    # badge_inactive
    "HTML comment": (page(f"<!--\n{V1}\n-->"), "non_compliant", ("badge_inactive",), (ID,),
                     "HTML 注释"),
    "noscript": (page(f"<noscript>{V1}</noscript>"), "non_compliant", ("badge_inactive",),
                 (ID,), "<noscript>"),
    "template": (page(f"<template><div>{V2}</div></template>"), "non_compliant",
                 ("badge_inactive",), (ID,), "<template>"),
    "JS line comment": (page(f"<script>//{CALL}\n</script>"), "non_compliant",
                        ("badge_inactive",), (ID,), "脚本注释"),
    "JS block comment": (page(f"<script>/* {CALL} */</script>"), "non_compliant",
                         ("badge_inactive",), (ID,), "脚本注释"),
    "JS comment holding script markup": (
        page("<script>//footerHtml +='<script type=\"text/javascript\">"
             + CALL.replace("'", "\\'") + "<\\/script>';\n</script>"),
        "non_compliant", ("badge_inactive",), (ID,), None),
    "script of a non-JS type": (
        page(f'<script type="text/template">{CALL}</script>'), "non_compliant",
        ("badge_inactive",), (ID,), "type"),
    "inline text of a <script src>": (
        page(f'<script src="/js/footer.js">{CALL}</script>'), "non_compliant",
        ("badge_inactive",), (ID,), None),
    "commented script, static link kept": (
        page(f'<!--{V1}--><a href="//bszs.conac.cn/sitename?method=show&amp;id={CERT}">'
             '<img src="/images/red.png"></a>'),
        "non_compliant", ("badge_inactive", "badge_static_copy"), (ID,), None),
    # badge_outside_body
    "in <head>": (page(head=V1), "non_compliant", ("badge_outside_body",), (ID,), None),
    "after the last </body>": (
        page().replace("</body>", "</body>" + V1), "non_compliant", ("badge_outside_body",),
        (ID,), None),
    "after </html>": (
        page() + V1, "non_compliant", ("badge_outside_body", "markup_malformed"), (ID,), None),
    # badge_static_copy
    "rendered span hard-coded (V4)": (page(RENDERED), "non_compliant", ("badge_static_copy",),
                                      (), None),
    "static link with a local image (V5)": (
        page(f'<a class="dw" href="http://bszs.conac.cn/sitename?method=show&id={CERT}">'
             '<img src="/Template/Skin/img/blue.png" /></a>'),
        "non_compliant", ("badge_static_copy",), (), None),
    "text-only link, class instead of id": (
        page(f'<span class="_ideConac"><a href="//bszs.conac.cn/sitename?method=show&amp;'
             f'id={CERT}" title="党政机关">党政机关</a></span>'),
        "non_compliant", ("badge_static_copy",), (), None),
    "badge image alone": (page('<img src="//dcs.conac.cn/image/red.png">'), "non_compliant",
                          ("badge_static_copy",), (), None),
    "local copy of the script": (
        page(f'<span id="_ideConac"></span><script src="./files/{ID}.js"></script>'),
        "non_compliant", ("badge_static_copy",), (ID,), None),
    "offline-mirror rewrite of the script URL": (
        page(f"<script src='../../../dcs.conac.cn/js/33/000/0000/60425889/{ID}.js'/*tpa={URL}*/"
             "></script>"),
        "non_compliant", ("badge_static_copy",), (ID,), None),
    "static link written by document.write": (
        page(f"<script>document.write('<span id=\"_ideConac\"><a href=\"http://bszs.conac.cn/"
             f"sitename?method=show&id={CERT}\" target=\"_blank\">党政机关</a></span>');"
             "</script>"),
        "non_compliant", ("badge_static_copy",), (), None),
    # badge_broken
    "broken escape %3E3C": (page(V1.replace("%3E%3C/span", "%3E3C/span")), "non_compliant",
                            ("badge_broken",), (ID,), "%3E3C"),
    "truncated escape": (page(V1.replace("%3C/script%3E", "%3C/script%3")), "non_compliant",
                         ("badge_broken",), (ID,), None),
    "broken quotes": (
        page(V1.replace("'", '"').replace('type="text/javascript">', "type='text/javascript'>")),
        "non_compliant", ("badge_broken",), (ID,), "引号"),
    "identifier digits differ from the path": (
        page(V1.replace("/60425889/", "/60425888/")), "non_compliant", ("badge_broken",),
        (ID,), "标识编号"),
    "mismatched quotes around src": (
        page(f"<script src='{URL}\" type='text/javascript'></script>"), "non_compliant",
        ("badge_broken",), (ID,), None),
    "</script> inside the JS string ends the script early": (
        page(f"<script>document.write('<span id=\"_ideConac\"></span><script src=\"{URL}\">"
             "</script>');</script>"),
        "non_compliant", ("badge_broken",), (ID,), "语法错误"),
    "jQuery .append of the bare script, no span anywhere": (
        page(f"<div class='f'></div><script>$('.f').append('<script src=\"{URL}\">"
             "<\\/script>');</script>"),
        "non_compliant", ("badge_broken",), (ID,), "占位"),
    "assigned through innerHTML": (
        page(f"<div id='f'></div><script>document.getElementById('f').innerHTML = "
             f"'<span id=\"_ideConac\"></span><script src=\"{URL}\"><\\/script>';</script>"),
        "non_compliant", ("badge_broken",), (ID,), "innerHTML"),
    "async external script, no span": (
        page(f'<script async src="{URL}"></script>'), "non_compliant", ("badge_broken",),
        (ID,), None),
    # warnings
    "issued code twice": (page(V1 + V1), "compliant", ("ok", "badge_duplicate"), (ID,),
                          "2 处"),
    "issued code then the decoded pair": (page(V1 + V2), "compliant",
                                          ("ok", "badge_duplicate"), (ID,), None),
    # the last badge script to run fills the first span: the other site's badge shows
    "own, then another site's live badge": (
        page(V1 + V1.replace("60425889", "60425880").replace(ID, OTHER_ID)),
        "non_compliant", ("badge_other_site", "badge_duplicate"), (ID, OTHER_ID), "覆盖"),
    "another site's live badge, then own": (
        page(V1.replace("60425889", "60425880").replace(ID, OTHER_ID) + V1),
        "compliant", ("ok", "badge_duplicate"), (OTHER_ID, ID), None),
    "badge between a stray </body> and the last one": (
        "<html><head></head><body><div>header</div></body></html>"
        f"<div class='footer'>{V1}</div></body></html>",
        "compliant", ("ok", "markup_malformed"), (ID,), None),
    "three </body>, badge before the last": (
        page(V1).replace("</body>", "</body></div></body><script>var a;</script></body>"),
        "compliant", ("ok", "markup_malformed"), (ID,), None),
    "script after </html>": (
        page(V1) + "\n<script>var x = 1;</script>", "compliant", ("ok", "markup_malformed"),
        (ID,), None),
    "no badge, two </body>": (
        page().replace("</body>", "</body></body>"), "non_compliant",
        ("badge_missing", "markup_malformed"), (), None),
    "</body> inside a script string is not a boundary": (
        page(V1 + "<script>document.write('</body></html>');</script>"), "compliant", ("ok",),
        (ID,), None),
    "comments after </html> are not content": (
        page(V1) + "<!-- generated in 0.02s -->\n", "compliant", ("ok",), (ID,), None),
    # a fragment (an included footer) has no <body>: its content counts as body
    "footer fragment": (f"<footer class='g-ft'>{V1}</footer>", "compliant", ("ok",), (ID,),
                        None),
}


@pytest.mark.parametrize("name", list(FIXTURES))
def test_fixture(name):
    html, verdict, reasons, identifiers, mention = FIXTURES[name]
    result = check_page(html.encode("utf-8"), SITE)
    assert (result.verdict, result.reasons, result.identifiers) == (
        verdict, reasons, identifiers)
    assert_message(result, mention)
    text_result = check_page(html, SITE)
    assert (text_result.verdict, text_result.reasons) == (verdict, reasons)


def test_every_reason_code_is_covered():
    seen = {r for row in FIXTURES.values() for r in row[2]} | set(fetch_failed("x").reasons)
    seen |= set(FOOTER_REASONS)  # tests/test_footer.py
    assert seen == set(REASONS)


def test_location_of_the_live_badge():
    html = page(V1)
    result = check_page(html, SITE)
    assert result.in_body is True
    assert html[result.offset :].startswith("<script")
    head = check_page(page(head=V1), SITE)
    assert head.in_body is False and head.offset is not None
    assert page(head=V1)[head.offset :].startswith("<script")


def test_badges_detail_the_saved_dom_sandwich():
    html = page(V1 + RENDERED + V2.split("</span>", 1)[1] + '<span id="_ideConac"></span>')
    result = check_page(html, SITE)
    assert result.reasons == ("ok", "badge_duplicate")
    assert [(b.form, b.state) for b in result.badges] == [
        ("docwrite", "live"), ("link", "static"), ("script", "live")]
    assert result.certificates == (CERT,)


# ---------------------------------------------------------------------------------------------
# Encodings

# '乗' is 0x81 0x5C in GBK: its second byte is a backslash. Scanning undecoded bytes would see
# it escape the closing quote of the JS string and lose the badge.
GBK_BACKSLASH = "乗"


def test_real_gbk_bytes_declared_in_meta():
    html = page(f"<script>var t = '{GBK_BACKSLASH}';</script>" + V1, charset="gbk")
    body = html.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    result = check_page(body, SITE)
    assert (result.verdict, result.reasons, result.encoding) == ("compliant", ("ok",), "gb18030")
    assert body.decode("gb18030")[result.offset :].startswith("<script")


def test_gbk_bytes_undeclared_fall_back_to_gb18030():
    html = page(f"<script>document.write('{GBK_BACKSLASH}');{CALL}</script>")
    html = html.replace('<meta charset="utf-8">', "")
    result = check_page(html.encode("gbk"), SITE)
    assert (result.reasons, result.encoding) == (("ok",), "gb18030")


def test_gbk_bytes_with_http_charset():
    body = page(V1, charset="gb2312").replace("gb2312", "x").encode("gbk")
    result = check_page(body, SITE, charset="GBK")
    assert (result.reasons, result.encoding) == (("ok",), "gb18030")


def test_declared_gb2312_but_utf8_bytes():
    """Corpus 04's situation: the declaration lies. The browser believes it (the Chinese text
    shows garbled) and so does the check; the ASCII badge survives either way."""
    body = page(V1 + "<p>党政机关网站标识</p>", charset="gb2312").encode("utf-8")
    result = check_page(body, SITE, charset="gb2312")
    assert (result.reasons, result.encoding) == (("ok",), "gb18030")


def test_declared_utf8_but_gbk_bytes():
    body = page(V1 + "<p>党政机关网站标识</p>").encode("gbk")
    result = check_page(body, SITE, charset="utf-8")
    assert (result.reasons, result.encoding) == (("ok",), "utf-8")


def test_utf8_bom_and_utf16():
    html = page(V1)
    assert check_page(b"\xef\xbb\xbf" + html.encode(), SITE).reasons == ("ok",)
    utf16 = check_page(html.encode("utf-16"), SITE)
    assert (utf16.reasons, utf16.encoding) == (("ok",), "utf-16-le")
    big_endian = check_page(codecs.BOM_UTF16_BE + html.encode("utf-16-be"), SITE)
    assert (big_endian.reasons, big_endian.encoding) == (("ok",), "utf-16-be")


def test_utf16_declared_only_in_the_http_header():
    """No BOM and a UTF-16 charset in Content-Type: the browser decodes UTF-16LE."""
    body = page(V1).replace('<meta charset="utf-8">', "").encode("utf-16-le")
    result = check_page(body, SITE, charset="utf-16")
    assert (result.verdict, result.reasons, result.encoding) == (
        "compliant", ("ok",), "utf-16-le"
    )


def test_ascii_bytes_declared_utf16_in_the_header_show_no_badge():
    """The browser reads ASCII-compatible bytes as UTF-16LE: CJK noise, no badge on screen."""
    body = page(V1).replace('<meta charset="utf-8">', "").encode("utf-8")
    result = check_page(body, SITE, charset="UTF-16")
    assert (result.verdict, result.reasons) == ("non_compliant", ("badge_missing",))


def test_utf16_in_meta_means_utf8():
    """A <meta> can only be read if the bytes are ASCII-compatible: browsers take UTF-8."""
    body = page(V1 + "<p>标识</p>", charset="utf-16").encode("utf-8")
    result = check_page(body, SITE)
    assert (result.reasons, result.encoding) == (("ok",), "utf-8")


@pytest.mark.parametrize(
    ("label", "codec"),
    [("GB2312", "gb18030"), ("x-gbk", "gb18030"), ("iso-8859-1", "cp1252"),
     ("US-ASCII", "cp1252"), ("utf8", "utf-8"), ("Big5", "big5hkscs"), ("bogus", None)],
)
def test_encoding_labels_as_browsers_read_them(label, codec):
    assert codec_for_label(label) == codec


def test_http_header_beats_meta_and_bom_beats_both():
    text = "<title>标题</title>"
    gbk = f'<meta charset="utf-8">{text}'.encode("gbk")
    assert decode_page(gbk, "gbk") == (f'<meta charset="utf-8">{text}', "gb18030")
    utf8 = b"\xef\xbb\xbf" + f'<meta charset="gbk">{text}'.encode()
    assert decode_page(utf8, "gbk") == (f'<meta charset="gbk">{text}', "utf-8")


def test_pages_without_badge_bytes_are_not_decoded():
    result = check_page(page().encode("gbk"), SITE)
    assert (result.reasons, result.encoding) == (("badge_missing",), None)


# ---------------------------------------------------------------------------------------------
# Policy, fetch errors, configuration


def test_policy_decides_failures():
    dup = page(V1 + V1)
    assert check_page(dup, SITE).verdict == "compliant"
    strict = Policy.from_codes([*Policy().failures, "badge_duplicate"])
    assert check_page(dup, SITE, strict).verdict == "non_compliant"
    lenient = Policy(Policy().failures - {"badge_static_copy"})
    assert check_page(page(RENDERED), SITE, lenient).verdict == "compliant"


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError, match="unknown"):
        Policy.from_codes(["badge_mising"])
    with pytest.raises(ValueError, match="never be failures"):
        Policy.from_codes(["fetch_error"])


def test_fetch_failed_is_not_checked():
    result = fetch_failed("连接超时")
    assert (result.verdict, result.reasons) == ("not_checked", ("fetch_error",))
    assert "连接超时" in result.message
    assert_message(result)
    assert result.to_dict()["verdict"] == "not_checked"


def test_to_dict_shape():
    data = check_page(page(V1), SITE).to_dict()
    assert data["verdict"] == "compliant"
    assert data["reasons"] == ["ok"]
    assert data["identifiers"] == [ID]
    assert isinstance(data["message"], str)


def test_site_badge_validates_and_normalises():
    site = SiteBadge(" ca330000000604258890010 ", CERT.lower())
    assert (site.identifier, site.certificate) == (ID, CERT)
    with pytest.raises(ValueError, match="identifier"):
        SiteBadge("CA3300")
    with pytest.raises(ValueError, match="certificate"):
        SiteBadge(ID, "not-hex")


def test_patterns_come_from_configuration():
    """Another deployment issues its own badges: nothing about the national host is built in."""
    config = BadgeConfig(
        script_base="https://badge.example.org/static/js/",
        image_base="https://badge.example.org/img",
        certificate_url="https://cert.example.org/view?cert={certificate}",
        identifier_prefix="ZJ",
        span_id="_ideX",
        image_id="imgX",
    )
    patterns = BadgePatterns.from_spec(config.spec())
    ident = "ZJ330000000604258890010"
    url = f"//badge.example.org/static/js/33/000/0000/60425889/{ident}.js"
    site = SiteBadge(ident, patterns=patterns)
    own = page(f'<span id="_ideX"></span><script src="{url}"></script>')
    assert check_page(own, site).reasons == ("ok",)
    assert check_page(page(V1), site).reasons == ("badge_missing",)
    link = page(f'<a href="https://cert.example.org/view?cert={CERT}"><img src="x.png"></a>')
    assert check_page(link, site).reasons == ("badge_static_copy",)
    missing = check_page(page("<span id='_ideX'></span>"), site)
    assert '<span id="_ideX">' in missing.message


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xff\xfe garbage onac",
        b"<script>document.write(unescape('%3Cspan id=_ideConac",
        b"<!-- _ideConac dcs.conac.cn",
        b"<html><body><script>" + b"/" * 5000 + b" //dcs.conac.cn/js/1.js\n</script>",
        b"<template><template>_ideConac",
        b"<a href='http://bszs.conac.cn/sitename?method=show&id=" + b"0" * 32 + b"'",
        "<p>网站标识 _ideConac ".encode() * 2000,
        # markup read as script: a line the reading takes for an unclosed regular expression,
        # a hit in it, then a quote that closes a string opens one when read from the hit
        b'<script></p id="imgConac" s="x">\n"//bszs.conac.cn/"</script>',
        b'<svg><desc><script></desc></svg><p>x</p><xmp><img id="imgConac" src="x.png"></xmp>'
        b'\n<!--<a href="//bszs.conac.cn/sitename?method=show&amp;id=' + CERT.encode()
        + b'"><img id="imgConac" src="x.png"></a>-->\n</body></html>',
        b"<script>x = 1 </i title='_ideConac' a='b'>\n'dcs.conac.cn/js/' + y</script>",
    ],
)
def test_never_raises(body):
    result = check_page(body, SITE)
    assert result.verdict in ("compliant", "non_compliant")
    assert CHINESE.search(result.message)
