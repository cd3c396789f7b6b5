"""Pure page checks: functions of a page's markup that import neither Scrapy nor SQLAlchemy."""

from crawler.checks.badge import (
    DEFAULT_POLICY,
    REASONS,
    BadgeFound,
    BadgePatterns,
    PageVerdict,
    Policy,
    SiteBadge,
    check_page,
    default_patterns,
    fetch_failed,
)

__all__ = [
    "DEFAULT_POLICY",
    "REASONS",
    "BadgeFound",
    "BadgePatterns",
    "PageVerdict",
    "Policy",
    "SiteBadge",
    "check_page",
    "default_patterns",
    "fetch_failed",
]
