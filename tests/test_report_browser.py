"""The office reports in Debian's Chromium: what a reader sees on a computer and on a phone.

The report set of tests/test_reports.py (a province, a prefecture and a county, five sites) is
opened from disk with file:// URLs at 1366 px and at phone width. Full-page screenshots are kept
under test-artifacts/reports/ (outside git) so a person can look at them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from badgewatch.config import Config
from reports.build import ReportSet
from tests.factories import HOSTILE_TITLE, build

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "reports"
DATA_SITE = "site-xn--6rtt7jbwbe2c.xn--zfr164b.html"  # 杭州数据.政务, overdue
DESKTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}

# The database backend is not what these tests are about: SQLite is enough.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    render = Config().render
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(render.executable_path),
            args=render.args,
            headless=True,
            timeout=30_000,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def reports(sessions, tree, tmp_path) -> ReportSet:
    return build(sessions, tree, tmp_path / "out", "330000")


@contextmanager
def opened(browser: Browser, path: Path, *, phone: bool = False) -> Iterator[Page]:
    """The page at `path`; fails if it opens a dialog or throws a script error."""
    context = browser.new_context(**(PHONE if phone else DESKTOP), locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        yield page
        assert dialogs == [], dialogs
        assert errors == [], errors
    finally:
        context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def card(page: Page, state: str) -> str:
    number = page.locator(f"#count-{state} .n")
    expect(number).to_be_visible()
    return number.inner_text()


def visible_rows(page: Page) -> list[str]:
    """The site table's visible rows, each as its site's name."""
    return page.locator("#site-table tbody tr:visible td:first-child a").all_inner_texts()


def no_page_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, f"the page scrolls sideways: {width}"


def test_office_page_counts_trend_and_links(browser, reports) -> None:
    with opened(browser, reports.offices["330000"]) as page:
        expect(page.locator("header.top h1")).to_have_text("浙江省委编办")
        counts = {state: card(page, state) for state in (
            "total", "compliant", "overdue", "regressed", "unreachable", "pending",
            "dns_mismatch", "unchecked",
        )}
        assert counts == {"total": "5", "compliant": "2", "overdue": "1", "regressed": "1",
                          "unreachable": "1", "pending": "0", "dns_mismatch": "0",
                          "unchecked": "0"}
        assert card(page, "rate") == "50.0%"
        expect(page.locator("#count-rate .k")).to_have_text("合规率")
        # The trend is drawn at a readable size, with its three days.
        trend = page.locator("#trend svg.trend")
        expect(trend).to_be_visible()
        box = trend.bounding_box()
        assert box is not None and box["width"] >= 600 and box["height"] >= 180, box
        assert page.locator("#trend svg circle.dot").count() == 3
        expect(trend).to_contain_text("10月13日")
        # The roll-up: 杭州 with everything beneath it; 宁波 has no sites and is left out.
        row = page.locator("table.offices tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td")).to_have_text(
            ["杭州市委编办", "地市级", "4", "1", "2", "1", "1", "33.3%"]
        )
        expect(page.get_by_text("宁波市委编办")).to_have_count(0)
        screenshot(page, "office-1366.png")

        # The province's own site, and the filter over it.
        assert visible_rows(page) == ["浙江省人民政府门户网站"]
        expect(page.locator("#filter-count")).to_have_text("显示 1 / 1 个网站")
        page.locator("#filter-text").fill("杭州")
        assert visible_rows(page) == []
        expect(page.locator("#filter-count")).to_have_text("显示 0 / 1 个网站")
        page.locator("#filter-text").fill("门户")
        assert visible_rows(page) == ["浙江省人民政府门户网站"]
        page.locator("#filter-text").fill("xn--gmq000bv3esyhdla33cp00b")  # the ASCII domain
        assert visible_rows(page) == ["浙江省人民政府门户网站"]
        page.locator("#filter-text").fill("")
        page.locator("#filter-state").select_option("overdue")
        assert visible_rows(page) == []
        page.locator("#filter-state").select_option(label="合规")
        assert visible_rows(page) == ["浙江省人民政府门户网站"]

        # Down to the prefecture, and back up.
        page.get_by_role("link", name="杭州市委编办").click()
        expect(page).to_have_url(re.compile(r"/office-330100\.html$"))
        expect(page.locator("header.top h1")).to_have_text("杭州市委编办")
        expect(page.locator("#count-total .n")).to_have_text("4")
        page.get_by_role("link", name="← 返回浙江省委编办").click()
        expect(page).to_have_url(re.compile(r"/office-330000\.html$"))


def test_site_table_filters_and_sorts(browser, reports) -> None:
    # The province lists only its own site; the prefecture has two to filter and sort.
    with opened(browser, reports.offices["330100"]) as page:
        assert visible_rows(page) == ["杭州市数据资源管理局网站", "杭州法院网"]  # overdue first
        expect(page.locator("#site-table tbody tr").first.locator("td").nth(2)).to_contain_text(
            "逾期未整改"
        )
        text = page.locator("#filter-text")
        text.fill("法院")
        assert visible_rows(page) == ["杭州法院网"]
        expect(page.locator("#filter-count")).to_have_text("显示 1 / 2 个网站")
        text.fill("杭州数据.政务")  # the domain as people write it
        assert visible_rows(page) == ["杭州市数据资源管理局网站"]
        text.fill("")
        state = page.locator("#filter-state")
        state.select_option("overdue")
        assert visible_rows(page) == ["杭州市数据资源管理局网站"]
        state.select_option("compliant")
        assert visible_rows(page) == ["杭州法院网"]
        text.fill("数据")  # both filters at once: nothing matches
        assert visible_rows(page) == []
        text.fill("")
        state.select_option("")
        assert visible_rows(page) == ["杭州市数据资源管理局网站", "杭州法院网"]

        failing = page.locator("#site-table th", has_text="未通过页面")
        failing.click()
        expect(failing).to_have_class(re.compile(r"\basc\b"))
        assert visible_rows(page) == ["杭州法院网", "杭州市数据资源管理局网站"]  # 0, then 2
        failing.click()
        expect(failing).to_have_class(re.compile(r"\bdesc\b"))
        assert visible_rows(page) == ["杭州市数据资源管理局网站", "杭州法院网"]
        page.locator("#site-table th", has_text="状态").click()  # compliant is ranked last
        assert visible_rows(page) == ["杭州市数据资源管理局网站", "杭州法院网"]
        expect(failing).not_to_have_class(re.compile(r"\b(asc|desc)\b"))
        # Sorting keeps the filter.
        state.select_option("compliant")
        page.locator("#site-table th", has_text="网站").first.click()
        assert visible_rows(page) == ["杭州法院网"]
        state.select_option("")
        # Names sort by pinyin: 杭州法 (fa) before 杭州市 (shi).
        assert visible_rows(page) == ["杭州法院网", "杭州市数据资源管理局网站"]

        # The site's name leads to its page.
        page.get_by_role("link", name="杭州市数据资源管理局网站").click()
        expect(page).to_have_url(re.compile(re.escape(DATA_SITE) + "$"))
        expect(page.locator("header.top h1")).to_have_text("杭州市数据资源管理局网站")


def test_failing_site_page_reasons_evidence_and_hostile_title(browser, reports) -> None:
    with opened(browser, reports.directory / DATA_SITE) as page:
        expect(page.locator("#site-state")).to_have_text("逾期未整改")
        reasons = page.locator("#reasons")
        expect(reasons.get_by_text("页面没有加挂网站标识", exact=True)).to_be_visible()
        expect(reasons.get_by_text(
            "把收到的网站标识代码原样粘贴到页面底部、</body> 之前", exact=False
        )).to_be_visible()
        expect(reasons.get_by_text("页面上的网站标识属于其他网站", exact=True)).to_be_visible()
        expect(page.locator("#dns")).to_contain_text("正常")
        expect(page.locator("#pages")).to_contain_text("http://杭州数据.政务/")

        # The evidence screenshot loaded, and is shown at a size a person can look at.
        image = page.locator("#evidence figure img")
        expect(image).to_have_count(1)
        expect(image).to_be_visible()
        natural = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert natural == [True, 40, 20], natural
        box = image.bounding_box()
        assert box is not None and box["width"] >= 200, box
        expect(page.locator("#evidence figcaption")).to_contain_text(
            "在浏览器中打开页面后，网站标识没有显示出来"
        )

        # The hostile title is text on the page, and ran nothing (opened() fails on a dialog).
        title = page.locator("#pages td.url div", has_text="通知公告")
        expect(title).to_be_visible()
        expect(title).to_have_text(HOSTILE_TITLE)
        assert page.locator("script").count() == 0  # the site page carries no script at all
        hostile = page.locator("#pages td.url a", has_text="alert(1)")
        expect(hostile).to_have_text(re.compile(r'a"><script>alert\(1\)</script>\.html$'))
        screenshot(page, "site-1366.png")


def test_phone_width(browser, reports) -> None:
    with opened(browser, reports.offices["330000"], phone=True) as page:
        no_page_scroll(page)
        boxes = [page.locator(f"#count-{s}").bounding_box() for s in ("total", "rate")]
        assert all(box is not None for box in boxes)
        total, rate = boxes
        assert total is not None and rate is not None
        # Two cards to a row, side by side, each inside the screen.
        assert total["y"] == rate["y"] and total["x"] + total["width"] <= rate["x"], boxes
        assert rate["x"] + rate["width"] <= 390, boxes
        assert card(page, "total") == "5" and card(page, "rate") == "50.0%"
        expect(page.locator("#trend svg.trend")).to_be_visible()
        screenshot(page, "office-phone.png")

    with opened(browser, reports.offices["330100"], phone=True) as page:
        no_page_scroll(page)
        # Each site is a block of labelled lines, readable without scrolling the table.
        table_wrap = page.locator("#sites .table-wrap")
        sizes = table_wrap.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert sizes[0] <= sizes[1] + 1, sizes
        expect(page.locator("#site-table thead")).to_be_hidden()
        first = page.locator("#site-table tbody tr").first
        expect(first.locator("td").first).to_be_visible()
        for cell in first.locator("td").all():
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 391, box
        label = first.locator("td").nth(1).evaluate(
            "td => getComputedStyle(td, '::before').content"
        )
        assert label == '"开办单位："', label
        screenshot(page, "office-330100-phone.png")

    with opened(browser, reports.directory / DATA_SITE, phone=True) as page:
        no_page_scroll(page)
        image = page.locator("#evidence figure img")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.naturalWidth") > 0
        box = image.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 391, box
        expect(page.locator("#reasons").get_by_text("页面没有加挂网站标识", exact=True)
               ).to_be_visible()
        expect(page.locator("#pages td.url div", has_text="通知公告")).to_have_text(HOSTILE_TITLE)
        screenshot(page, "site-phone.png")


def test_phone_filter_hides_rows(browser, reports) -> None:
    with opened(browser, reports.offices["330100"], phone=True) as page:
        page.locator("#filter-text").fill("法院")
        expect(page.locator("#filter-count")).to_have_text("显示 1 / 2 个网站")
        assert visible_rows(page) == ["杭州法院网"]
