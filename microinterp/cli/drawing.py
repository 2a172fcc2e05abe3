"""Drawing an arena plan: x = op position in execution order, y = arena offset, one rectangle per buffer.

A buffer spans the ops [first, last] it is live during (column k is the op at position k) and its
bytes [offset, offset + size); buffers placed
over another one (aliases, overlaps) are drawn translucent. The peak op is marked with a band. SVG is
written by hand; PNG needs matplotlib (an optional extra).
"""
from __future__ import annotations

import colorsys
import html
import os

from .arena_report import ArenaPlan
from .command import MissingExtra

_WIDTH, _HEIGHT, _MARGIN = 900, 520, 60
#: Width of one character of the 11px sans-serif labels, generously: it sizes the left margin.
_CHAR_WIDTH = 7
_X_TITLE = "op position (execution order)"
_Y_TITLE = "arena offset (bytes)"


def _color(k: int) -> str:
    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.6, 0.55)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _title(plan: ArenaPlan) -> str:
    return f"{os.path.basename(plan.model)}: {plan.strategy}, head {plan.head:,} bytes (bound {plan.lower_bound:,})"


def _extent(plan: ArenaPlan) -> tuple[int, int]:
    steps = max([len(plan.ops), *(b.last + 1 for b in plan.buffers)])
    return max(steps, 1), max(plan.head, 1)


def render_svg(plan: ArenaPlan) -> str:
    """The plan as an SVG document."""
    steps, top = _extent(plan)
    y_labels = [(frac, f"{int(top * frac):,}") for frac in (0, 0.25, 0.5, 0.75, 1)]
    # The y labels end 5px left of the axis and the rotated axis title sits left of the longest one.
    left = 30 + 5 + _CHAR_WIDTH * max(len(text) for _, text in y_labels)
    width, height = _WIDTH - left - _MARGIN, _HEIGHT - 2 * _MARGIN
    sx, sy = width / steps, height / top

    def x(step: float) -> float:
        return left + step * sx

    def y(offset: float) -> float:
        return _MARGIN + height - offset * sy

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>',
             f'<text x="{left}" y="{_MARGIN - 25}" font-size="14">{html.escape(_title(plan))}</text>']
    for o in plan.ops:
        if o.peak:
            parts.append(f'<rect x="{x(o.step):.1f}" y="{_MARGIN}" width="{sx:.1f}" height="{height}" '
                         f'fill="#ffdddd"/><text x="{x(o.step):.1f}" y="{_MARGIN - 8}" fill="#c00000">'
                         f'peak: op {o.op} {html.escape(o.name)}, {o.live_bytes:,} bytes</text>')
    for k, b in enumerate(plan.buffers):
        first = max(b.first, 0)
        label = f"{b.name}: offset {b.offset:,}, {b.size:,} bytes, op positions {b.first}..{b.last}"
        if b.shares:
            label += f", {b.shares}"
        parts.append(f'<rect x="{x(first):.1f}" y="{y(b.offset + b.size):.1f}" '
                     f'width="{(b.last - first + 1) * sx:.1f}" height="{b.size * sy:.1f}" fill="{_color(k)}" '
                     f'fill-opacity="{0.45 if b.shares else 0.85}" stroke="#333" stroke-width="0.5">'
                     f'<title>{html.escape(label)}</title></rect>')
    parts.append(f'<line x1="{left}" y1="{y(plan.head):.1f}" x2="{left + width}" y2="{y(plan.head):.1f}" '
                 f'stroke="#c00000" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{left + width + 4}" y="{y(plan.head) + 4:.1f}" fill="#c00000">head</text>')
    parts.append(f'<line x1="{left}" y1="{y(0)}" x2="{left + width}" y2="{y(0)}" stroke="black"/>'
                 f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{_MARGIN}" stroke="black"/>')
    for step in range(0, steps, max(1, steps // 20)):
        parts.append(f'<text x="{x(step + 0.5):.1f}" y="{y(0) + 15:.1f}" text-anchor="middle">{step}</text>')
    for frac, text in y_labels:
        parts.append(f'<text x="{left - 5}" y="{y(top * frac) + 4:.1f}" text-anchor="end">{text}</text>')
    parts.append(f'<text x="{left + width / 2}" y="{_HEIGHT - 15}" text-anchor="middle">{_X_TITLE}</text>')
    parts.append(f'<text x="15" y="{_MARGIN + height / 2}" transform="rotate(-90 15 {_MARGIN + height / 2})" '
                 f'text-anchor="middle" dominant-baseline="hanging">{_Y_TITLE}</text></svg>')
    return "\n".join(parts) + "\n"


def write_svg(plan: ArenaPlan, path: str | os.PathLike) -> None:
    """Write the plan's drawing as an SVG file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_svg(plan))


def require_matplotlib() -> None:
    """Raise MissingExtra, naming the extra to install, when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise MissingExtra(f"--png needs matplotlib, which is not installed ({e}); install it with: "
                           f'python -m pip install -e ".[plot]" (run in the microinterp checkout)') from e


def write_png(plan: ArenaPlan, path: str | os.PathLike) -> None:
    """Write the plan's drawing as a PNG file (MissingExtra without matplotlib)."""
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    steps, top = _extent(plan)
    fig, ax = plt.subplots(figsize=(10, 6))
    for o in plan.ops:
        if o.peak:
            ax.axvspan(o.step, o.step + 1, color="#ffdddd", zorder=0,
                       label=f"peak: op {o.op} {o.name}, {o.live_bytes:,} bytes")
    for k, b in enumerate(plan.buffers):
        first = max(b.first, 0)
        ax.add_patch(Rectangle((first, b.offset), b.last - first + 1, b.size, facecolor=_color(k),
                               edgecolor="#333", linewidth=0.5, alpha=0.45 if b.shares else 0.85))
    ax.axhline(plan.head, color="#c00000", linestyle="--", linewidth=1, label=f"head {plan.head:,} bytes")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, top * 1.05)
    ticks = range(0, steps, max(1, steps // 20))  # each label under the middle of its op's column
    ax.set_xticks([k + 0.5 for k in ticks], [str(k) for k in ticks])
    ax.yaxis.set_major_formatter(lambda value, _: f"{int(value):,}")
    ax.set_xlabel(_X_TITLE)
    ax.set_ylabel(_Y_TITLE)
    ax.set_title(_title(plan))
    # Below the axes, where it can cover neither the head line nor a buffer.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
