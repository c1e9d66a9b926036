"""Charts as inline SVG text: no script, no library, nothing fetched, readable without colour.

Pure functions from numbers to an ``<svg>`` element for a report or a web page to embed. Each
chart carries ``role="img"``, a ``<title>`` and an ``aria-label`` (screen readers), and pages
show the same figures in a table beside it. Series are told apart by colour and by dash
pattern, so a chart printed in grey still reads. Every text is escaped here: labels may be
user data (policy names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito, a palette safe for the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 48


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]


def _nice_max(top: float) -> float:
    """The axis top: the data's maximum rounded up to 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= top:
        power *= 10
    while power > top:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= top:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def _frame(title: str, y_top: float, y_label: str, percent: bool) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(5):
        value = y_top * k / 4
        y = TOP + plot_h - plot_h * k / 4
        label = f"{value * 100:.0f}%" if percent else _number(value)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(
        f'<text x="12" y="{TOP + plot_h / 2:.1f}" transform="rotate(-90 12 {TOP + plot_h / 2:.1f})"'
        f' text-anchor="middle">{escape(y_label)}</text>'
    )
    return out


def _legend(names: Sequence[str], line: bool) -> list[str]:
    out = []
    x = LEFT
    for k, name in enumerate(names):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        y = HEIGHT - 12
        if line:
            out.append(
                f'<line x1="{x}" x2="{x + 24}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
                f'stroke-width="2.5" stroke-dasharray="{dash}"/>'
            )
        else:
            out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 30}" y="{y}">{escape(name)}</text>')
        x += 40 + 8 * len(name)
    return out


def line_chart(title: str, series: Sequence[Series], x_labels: Sequence[str], y_label: str) -> str:
    """One line per series over the same x positions (days); x labels thinned to fit."""
    n = max((len(s.values) for s in series), default=0)
    y_top = _nice_max(max((v for s in series for v in s.values), default=0))
    out = _frame(title, y_top, y_label, percent=False)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    every = max(1, n // 6)
    for i in range(0, n, every):
        if i < len(x_labels):
            out.append(
                f'<text x="{x_at(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                f"{escape(x_labels[i])}</text>"
            )
    for k, s in enumerate(series):
        points = " ".join(
            f"{x_at(i):.1f},{TOP + plot_h - plot_h * v / y_top:.1f}" for i, v in enumerate(s.values)
        )
        out.append(
            f'<polyline fill="none" stroke="{COLOURS[k % len(COLOURS)]}" stroke-width="2.5" '
            f'stroke-dasharray="{DASHES[k % len(DASHES)]}" points="{points}">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
    out += _legend([s.name for s in series], line=True)
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    percent: bool = False,
) -> str:
    """Bars grouped by ``groups`` (buckets, channels), one bar per series in each group."""
    y_top = 1.0 if percent else _nice_max(max((v for s in series for v in s.values), default=0))
    out = _frame(title, y_top, y_label, percent)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(groups), 1)
    bar = slot * 0.8 / max(len(series), 1)
    for g, group in enumerate(groups):
        x0 = LEFT + slot * g + slot * 0.1
        out.append(
            f'<text x="{x0 + slot * 0.4:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
            f"{escape(group)}</text>"
        )
        for k, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else 0.0
            h = plot_h * min(value / y_top, 1.0)
            shown = f"{value * 100:.1f}%" if percent else _number(value)
            out.append(
                f'<rect x="{x0 + bar * k:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar * 0.92:.1f}"'
                f' height="{h:.1f}" fill="{COLOURS[k % len(COLOURS)]}">'
                f"<title>{escape(s.name)}, {escape(group)}: {shown}</title></rect>"
            )
    out += _legend([s.name for s in series], line=False)
    out.append("</svg>")
    return "\n".join(out)
