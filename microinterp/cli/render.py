"""What the `microinterp` command prints: rich tables on a terminal, plain text otherwise, JSON on request.

rich is optional (the `cli` extra). Without it, or when stdout is not a terminal (piped, captured by a
test), every command prints plain aligned text, so its output is stable and easy to grep.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO, TypeVar

import numpy as np

Item = TypeVar("Item")


def rich_available() -> bool:
    """Whether the optional rich package can be imported."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class Column(NamedTuple):
    """A table column: its header, and whether it holds numbers (right-aligned)."""
    header: str
    numeric: bool = False


class Output:
    """Where a command writes its report.

    use_rich: None picks rich when it is installed and the stream is a terminal.
    """

    def __init__(self, stream: TextIO | None = None, use_rich: bool | None = None):
        self.stream = stream if stream is not None else sys.stdout
        if use_rich is None:
            use_rich = self.stream.isatty() and rich_available()
        self._console = None
        if use_rich:
            from rich.console import Console
            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)

    @property
    def rich(self) -> bool:
        """True when output goes through rich."""
        return self._console is not None

    def line(self, text: str = "") -> None:
        """One line of text, printed as is (no rich markup is interpreted)."""
        if self._console is not None:
            self._console.print(text, markup=False)
        else:
            print(text, file=self.stream)

    def heading(self, text: str) -> None:
        """A section title."""
        if self._console is not None:
            self._console.print(text, style="bold", markup=False)
        else:
            print(text, file=self.stream)

    def fields(self, pairs: Sequence[tuple[str, str]], indent: int = 2) -> None:
        """Aligned `label  value` lines."""
        width = max((len(label) for label, _ in pairs), default=0)
        for label, value in pairs:
            self.line(f"{' ' * indent}{label.ljust(width)}  {value}")

    def verdict(self, ok: bool, text: str) -> None:
        """The outcome of a check, green or red on a terminal."""
        if self._console is not None:
            self._console.print(text, style="bold green" if ok else "bold red", markup=False)
        else:
            print(text, file=self.stream)

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
        """A table of already formatted cells."""
        if self._console is not None:
            from rich import box
            from rich.table import Table
            from rich.text import Text
            table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
            for c in columns:
                table.add_column(c.header, justify="right" if c.numeric else "left")
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))
            self._console.print(table)
            return
        if title:
            print(title, file=self.stream)
        for text in plain_table(columns, rows):
            print(text, file=self.stream)

    def code(self, text: str, language: str) -> None:
        """Source code, syntax-highlighted on a terminal."""
        if self._console is not None:
            from rich.syntax import Syntax
            self._console.print(Syntax(text, language, background_color="default"))
        else:
            print(text, file=self.stream)

    def progress(self, items: Sequence[Item], describe: Callable[[Item], str]) -> Iterator[Item]:
        """Iterate over items, with a progress bar on a terminal (nothing is printed otherwise)."""
        if self._console is None:
            yield from items
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=self._console, transient=True) as bar:
            task = bar.add_task("", total=len(items))
            for item in items:
                bar.update(task, description=describe(item))
                yield item
                bar.advance(task)

    def json(self, value: Any) -> None:
        """The report as one JSON document (dataclasses, numpy arrays and paths converted)."""
        print(json.dumps(jsonable(value)), file=self.stream)


def plain_table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain-text table: a header, a rule, then the rows, columns two spaces apart."""
    widths = [max([len(c.header), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]

    def format_row(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(w) if c.numeric else cell.ljust(w)
                         for cell, w, c in zip(cells, widths, columns)).rstrip()

    return [format_row([c.header for c in columns]), "  ".join("-" * w for w in widths).rstrip(),
            *(format_row(row) for row in rows)]


def jsonable(value: Any) -> Any:
    """Plain JSON data for a report: dataclass fields plus the properties a class lists in
    JSON_PROPERTIES, arrays as nested lists, non-finite floats as the strings "nan", "inf", "-inf"."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)] + list(getattr(value, "JSON_PROPERTIES", ()))
        return {name: jsonable(getattr(value, name)) for name in names}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            return jsonable(value.tolist())
        return value.tolist()
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def array_summary(a: np.ndarray, limit: int = 12) -> str:
    """The first `limit` values of an array, flattened, on one line."""
    flat = a.reshape(-1)
    shown = np.array2string(flat[:limit], separator=", ", max_line_width=10_000,
                            formatter={"float_kind": lambda v: f"{v:.6g}"})
    return shown[:-1] + (", ...]" if flat.size > limit else "]")


def name_text(name: str, width: int = 40) -> str:
    """A tensor name short enough for a table: the converter's first `;`-separated name, cut to width."""
    first = name.split(";")[0]
    return first if len(first) <= width else first[:width - 3] + "..."


def shape_text(shape: Iterable[int]) -> str:
    """A shape as `1x49x10x1` (a scalar as `scalar`)."""
    dims = [str(int(d)) for d in shape]
    return "x".join(dims) if dims else "scalar"


def nbytes_text(n: int) -> str:
    """A byte count with thousands separators."""
    return f"{n:,}"


def count_text(n: float) -> str:
    """A large count (MACs, MAC/s) with an SI suffix: 2.66M, 913k, 12."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{suffix}"
    return f"{n:.3g}" if isinstance(n, float) and not float(n).is_integer() else str(int(n))


def seconds_text(s: float) -> str:
    """A duration in the unit that suits it: 12.4 ms, 85.2 us, 1.31 s."""
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"
