"""The compliance trend as inline SVG: no script, no fonts or images fetched, prints as drawn."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from reports.data import TrendPoint

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 34


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * i / (n - 1) if n > 1 else span / 2)


def _y(value: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value)


def trend_svg(points: Sequence[TrendPoint], *, label: str = "合规率趋势") -> str:
    """A line of the daily compliance rate (0–100 %), a dot per day with its figures as a
    tooltip, dates under the first, middle and last dots. Days with no verdict are skipped."""
    shown = [p for p in points if p.rate is not None]
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for level in (0.0, 0.5, 1.0):
        y = _y(level)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{level:.0%}</text>'
        )
    if not shown:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="empty">'
            "尚无完整检查记录</text></svg>"
        )
        return "".join(parts)
    n = len(shown)
    coords = [(_x(i, n), _y(p.rate or 0.0)) for i, p in enumerate(shown)]
    if n > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{line}" class="line"/>')
    for (x, y), point in zip(coords, shown, strict=True):
        tip = (
            f"{point.day.isoformat()}：合规 {point.compliant} / {point.judged}，"
            f"{(point.rate or 0):.1%}"
        )
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" class="dot"><title>{escape(tip)}</title>'
            "</circle>"
        )
    for i in sorted({0, n // 2, n - 1}):
        x = coords[i][0]
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}">'
            f"{shown[i].day.month}月{shown[i].day.day}日</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
