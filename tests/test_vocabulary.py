"""One vocabulary: every reason code a check can give a page reads as a problem and a fix."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from badgewatch import vocabulary
from badgewatch.vocabulary import (
    MARKUP_REASONS,
    NOT_FAILURES,
    REGISTRY,
    RENDER_REASONS,
    WARNINGS,
    reason,
    reason_advice,
    reason_detail,
    reason_text,
)
from crawler.checks import badge, rendered
from store.models import AppState, MonitorState, OfficeLevel

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"(?:badge|markup)_[a-z_]+|ok|fetch_error|render_error")
NOT_CODES = {"badge_offset", "badge_in_body"}  # page row fields, not reasons


def codes_in(module: object) -> set[str]:
    """Every string in a check's source that is spelled like a reason code."""
    tree = ast.parse(Path(module.__file__).read_text("utf-8"))  # type: ignore[attr-defined]
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and CODE.fullmatch(node.value)
    } - NOT_CODES


CHECK_CODES = sorted(codes_in(badge) | codes_in(rendered) | set(badge.REASONS))


def test_the_checks_use_no_code_the_registry_lacks() -> None:
    assert set(CHECK_CODES) <= set(REGISTRY), set(CHECK_CODES) - set(REGISTRY)
    assert set(MARKUP_REASONS) | set(RENDER_REASONS) | NOT_FAILURES == set(REGISTRY)
    assert badge.REASONS == MARKUP_REASONS


@pytest.mark.parametrize("code", sorted(set(CHECK_CODES) | set(REGISTRY)))
def test_every_code_says_what_is_wrong_and_what_to_do(code: str) -> None:
    entry = reason(code)
    assert entry.code == code and CHINESE.search(reason_text(code)), entry
    if code in NOT_FAILURES:
        assert not entry.failure and code not in WARNINGS
        return
    assert CHINESE.search(reason_advice(code)), entry
    assert not reason_advice(code).startswith("请")  # the notice writes "请" before it
    assert reason_detail(code).endswith(f"请{reason_advice(code)}。")
    assert entry.failure == (code not in WARNINGS)


def test_an_unknown_code_still_reads_as_a_problem() -> None:
    assert reason_text("badge_from_the_future") == "其他问题（badge_from_the_future）"
    assert reason_advice("badge_from_the_future").startswith("对照网站标识加挂要求")


def test_the_policy_fails_exactly_the_failures_of_the_markup_check() -> None:
    assert badge.DEFAULT_POLICY.failures == {
        code for code in MARKUP_REASONS if REGISTRY[code].failure
    }


def test_a_page_message_ends_with_the_registry_advice() -> None:
    verdict = rendered.judge(
        rendered.Measurement(found=False, filled=False),  # the badge never showed
        badge.SiteBadge("CA051070000414687680001"),
        rendered.RenderRules(),
    )
    assert verdict.reasons == ("badge_not_rendered",)
    assert verdict.message == reason_detail("badge_not_rendered")


def test_every_state_level_and_application_state_has_a_label() -> None:
    assert set(vocabulary.STATE_LABELS) == set(MonitorState)
    assert set(vocabulary.LEVEL_LABELS) == set(OfficeLevel)
    assert set(vocabulary.APP_STATE_LABELS) == set(AppState)
    assert set(vocabulary.STATE_PROBLEMS) <= set(MonitorState)
    labels = [*vocabulary.STATE_LABELS.values(), *vocabulary.LEVEL_LABELS.values(),
              *vocabulary.APP_STATE_LABELS.values(), *vocabulary.KIND_LABELS.values()]
    assert all(CHINESE.search(label) for label in labels)
