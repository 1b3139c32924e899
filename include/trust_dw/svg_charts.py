"""Small, dependency-free SVG charts for the daily report: bar charts, histograms and Lorenz curves.

Output is plain text with fixed number formatting, so the same data always gives the same bytes.
Every label is XML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = "font-family='system-ui, sans-serif' font-size='11'"
BAR = "#3b6ea5"
ACCENT = "#c0504d"
GRID = "#d9d9d9"


def _num(value: float) -> str:
    return f"{value:.1f}"


def _fmt_count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    width: int = 520,
    height: int = 220,
    color: str = BAR,
) -> str:
    """Vertical bars, one per label, with the value written above each bar."""
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    left, right, top, bottom = 40, 10, 36, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = max([float(v) for v in values] + [0.0]) or 1.0
    n = max(len(values), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title, quote=True)}'>",
        f"<title>{escape(title)}</title>",
        f"<text x='{left}' y='16' {FONT} font-weight='bold'>{escape(title)}</text>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#555'/>",
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * float(value) / vmax
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        cx = x + bar_w / 2
        parts.append(
            f"<rect x='{_num(x)}' y='{_num(y)}' width='{_num(bar_w)}' height='{_num(h)}' fill='{color}'>"
            f"<title>{escape(str(label))}: {_fmt_count(value)}</title></rect>"
        )
        parts.append(
            f"<text x='{_num(cx)}' y='{_num(y - 3)}' text-anchor='middle' {FONT}>{_fmt_count(value)}</text>"
        )
        parts.append(
            f"<text x='{_num(cx)}' y='{top + plot_h + 14}' text-anchor='middle' {FONT}>"
            f"{escape(str(label))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    edges: Sequence[float], counts: Sequence[int], title: str, width: int = 520, height: int = 220
) -> str:
    """Bars over consecutive bins ``[edges[i], edges[i+1])`` (the last bin closed)."""
    if len(edges) != len(counts) + 1:
        raise ValueError("need one more edge than counts")
    labels = [f"{edges[i]:g}–{edges[i + 1]:g}" for i in range(len(counts))]
    return bar_chart(labels, [float(c) for c in counts], title, width, height)


def lorenz_curve(points: Sequence[tuple[float, float]], title: str, size: int = 250) -> str:
    """The Lorenz curve (share of recipients vs share of impressions), with the equality diagonal."""
    pad, top = 34, 24
    plot = size - pad - 10

    def xy(px: float, py: float) -> str:
        return f"{_num(pad + px * plot)},{_num(top + plot - py * plot)}"

    line = " ".join(xy(px, py) for px, py in points)
    return "".join(
        [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size + 20}' "
            f"viewBox='0 0 {size} {size + 20}' role='img' aria-label='{escape(title, quote=True)}'>",
            f"<title>{escape(title)}</title>",
            f"<text x='4' y='14' {FONT} font-weight='bold'>{escape(title)}</text>",
            f"<rect x='{pad}' y='{top}' width='{plot}' height='{plot}' fill='none' stroke='#555'/>",
            f"<line x1='{pad}' y1='{top + plot}' x2='{pad + plot}' y2='{top}' stroke='{GRID}' "
            "stroke-dasharray='4 3'/>",
            f"<polyline points='{line}' fill='none' stroke='{ACCENT}' stroke-width='2'/>",
            f"<text x='{pad + plot / 2}' y='{top + plot + 16}' text-anchor='middle' {FONT}>"
            "share of recipients</text>",
            f"<text x='12' y='{top + plot / 2}' text-anchor='middle' {FONT} "
            f"transform='rotate(-90 12 {top + plot / 2})'>share of impressions</text>",
            "</svg>",
        ]
    )
