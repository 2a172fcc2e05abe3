"""Drawing an arena plan: x = step (op position), y = arena offset, one rectangle per planned buffer.

A buffer spans its lifetime's steps [first, last] and its bytes [offset, offset + size); buffers placed
over another one (aliases, overlaps) are drawn translucent. The peak op is marked with a band. SVG is
written by hand; PNG needs matplotlib (an optional extra).
"""
from __future__ import annotations

import colorsys
import html
import os

from .arena_report import ArenaPlan

_WIDTH, _HEIGHT, _MARGIN = 900, 520, 60


def _color(k: int) -> str:
    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.6, 0.55)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _title(plan: ArenaPlan) -> str:
    return f"{os.path.basename(plan.model)}: {plan.strategy}, head {plan.head:,} bytes (bound {plan.lower_bound:,})"


def _extent(plan: ArenaPlan) -> tuple[int, int]:
    steps = max([len(plan.ops), *(b.last for b in plan.buffers)]) + 1
    return steps, max(plan.head, 1)


def render_svg(plan: ArenaPlan) -> str:
    """The plan as an SVG document."""
    steps, top = _extent(plan)
    width, height = _WIDTH - 2 * _MARGIN, _HEIGHT - 2 * _MARGIN
    sx, sy = width / steps, height / top

    def x(step: float) -> float:
        return _MARGIN + step * sx

    def y(offset: float) -> float:
        return _MARGIN + height - offset * sy

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>',
             f'<text x="{_MARGIN}" y="{_MARGIN - 25}" font-size="14">{html.escape(_title(plan))}</text>']
    for o in plan.ops:
        if o.peak:
            parts.append(f'<rect x="{x(o.step + 1):.1f}" y="{_MARGIN}" width="{sx:.1f}" height="{height}" '
                         f'fill="#ffdddd"/><text x="{x(o.step + 1):.1f}" y="{_MARGIN - 8}" fill="#c00000">'
                         f'peak: op {o.op} {html.escape(o.name)}, {o.live_bytes:,} bytes</text>')
    for k, b in enumerate(plan.buffers):
        first = max(b.first, 0)
        label = f"{b.name}: offset {b.offset:,}, {b.size:,} bytes, steps {b.first}..{b.last}"
        if b.shares:
            label += f", {b.shares}"
        parts.append(f'<rect x="{x(first):.1f}" y="{y(b.offset + b.size):.1f}" '
                     f'width="{(b.last - first + 1) * sx:.1f}" height="{b.size * sy:.1f}" fill="{_color(k)}" '
                     f'fill-opacity="{0.45 if b.shares else 0.85}" stroke="#333" stroke-width="0.5">'
                     f'<title>{html.escape(label)}</title></rect>')
    parts.append(f'<line x1="{_MARGIN}" y1="{y(plan.head):.1f}" x2="{_MARGIN + width}" y2="{y(plan.head):.1f}" '
                 f'stroke="#c00000" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{_MARGIN + width + 4}" y="{y(plan.head) + 4:.1f}" fill="#c00000">head</text>')
    parts.append(f'<line x1="{_MARGIN}" y1="{y(0)}" x2="{_MARGIN + width}" y2="{y(0)}" stroke="black"/>'
                 f'<line x1="{_MARGIN}" y1="{y(0)}" x2="{_MARGIN}" y2="{_MARGIN}" stroke="black"/>')
    for step in range(0, steps + 1, max(1, steps // 20)):
        parts.append(f'<text x="{x(step):.1f}" y="{y(0) + 15:.1f}" text-anchor="middle">{step}</text>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<text x="{_MARGIN - 5}" y="{y(top * frac) + 4:.1f}" text-anchor="end">'
                     f'{int(top * frac):,}</text>')
    parts.append(f'<text x="{_MARGIN + width / 2}" y="{_HEIGHT - 15}" text-anchor="middle">'
                 f'step (op position + 1)</text>')
    parts.append(f'<text x="15" y="{_MARGIN + height / 2}" transform="rotate(-90 15 {_MARGIN + height / 2})" '
                 f'text-anchor="middle">arena offset (bytes)</text></svg>')
    return "\n".join(parts) + "\n"


def write_svg(plan: ArenaPlan, path: str | os.PathLike) -> None:
    """Write the plan's drawing as an SVG file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_svg(plan))


def write_png(plan: ArenaPlan, path: str | os.PathLike) -> None:
    """Write the plan's drawing as a PNG file (ImportError naming the extra without matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError as e:
        raise ImportError(f"--png needs matplotlib: pip install 'microinterp[plot]' ({e})") from e
    steps, top = _extent(plan)
    fig, ax = plt.subplots(figsize=(10, 6))
    for o in plan.ops:
        if o.peak:
            ax.axvspan(o.step + 1, o.step + 2, color="#ffdddd", zorder=0,
                       label=f"peak: op {o.op} {o.name}, {o.live_bytes:,} bytes")
    for k, b in enumerate(plan.buffers):
        first = max(b.first, 0)
        ax.add_patch(Rectangle((first, b.offset), b.last - first + 1, b.size, facecolor=_color(k),
                               edgecolor="#333", linewidth=0.5, alpha=0.45 if b.shares else 0.85))
    ax.axhline(plan.head, color="#c00000", linestyle="--", linewidth=1, label=f"head {plan.head:,} bytes")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, top * 1.05)
    ax.set_xlabel("step (op position + 1)")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(_title(plan))
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
