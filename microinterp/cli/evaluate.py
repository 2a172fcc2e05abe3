"""`microinterp eval`: a model's accuracy (or mean error) over a dataset, and its agreement with a float
reference model, computed as the microcontroller computes it (microinterp.evaluation does the work)."""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..evaluation import EvalReport, ProgressFn, evaluate
from .command import EXIT_OK, Command, MissingExtra
from .render import Output, rich_available, seconds_text


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressFn | None]:
    """A progress callback drawing a bar on stderr (rich when installed, plain text otherwise), or None
    when not enabled."""
    if not enabled:
        yield None
        return
    if rich_available():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
        with Progress("samples", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(file=sys.stderr), transient=True) as bar:
            task = bar.add_task("", total=None)
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return

    def plain(done: int, total: int) -> None:
        filled = 30 * done // max(total, 1)
        sys.stderr.write(f"\rsamples [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        sys.stderr.flush()
    try:
        yield plain
    finally:
        sys.stderr.write("\r\033[K")  # clear the bar's line


def _percent(x: float) -> str:
    return f"{100 * x:.2f}%"


def print_report(report: EvalReport, out: Output) -> None:
    """The text report of `microinterp eval`."""
    runner = (f"{report.workers or 'one per CPU'} Ray actors" if report.runner == "ray"
              else "in process" if report.workers == 1 else f"{report.workers} worker processes")
    fields = [("model", report.model),
              ("samples", f"{report.samples:,} in {seconds_text(report.seconds)} "
                          f"({report.samples_per_second:,.0f} samples/s, {runner})")]
    if report.top1 is not None:
        fields += [("top-1 accuracy", _percent(report.top1)), (f"top-{report.top_k} accuracy", _percent(report.topk))]
    if report.mean_abs_error is not None:
        fields.append(("mean abs error", f"{report.mean_abs_error:.6g}"))
    if report.reference is not None:
        fields.append(("reference", report.reference))
        if report.reference_top1_agreement is not None:
            fields.append(("top-1 agreement", _percent(report.reference_top1_agreement)))
        fields.append(("mean abs diff", f"{report.reference_mean_abs_diff:.6g} (dequantized outputs vs reference)"))
        if report.reference_top1 is not None:
            fields.append(("reference top-1", _percent(report.reference_top1)))
        if report.reference_mean_abs_error is not None:
            fields.append(("reference error", f"{report.reference_mean_abs_error:.6g} (mean abs)"))
    out.fields(fields, indent=0)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("--data", type=Path, required=True, metavar="INPUTS.npz",
                        help="one array per graph input (keyed by tensor name or input_0, ...), axis 0 = sample; "
                             "float data for a quantized input is quantized with its parameters")
    parser.add_argument("--labels", type=Path, metavar="LABELS.npy",
                        help="integer (N,) class labels (top-1/top-k accuracy) or float targets (mean abs error)")
    parser.add_argument("--reference", type=Path, metavar="FLOAT.tflite",
                        help="a float model to compare with: top-1 agreement, mean abs difference")
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="k of the top-k accuracy (default 5)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (default: every core; 1: in this process), or Ray actors")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run on a Ray cluster (e.g. auto, ray://host:10001), or 'local' to start one")


def _run(args: argparse.Namespace, out: Output) -> int:
    if args.ray is not None and importlib.util.find_spec("ray") is None:
        raise MissingExtra('--ray needs the ray package, which is not installed; install it with: '
                           'python -m pip install -e ".[test]" (run in the microinterp checkout) or pip install ray')
    with np.load(args.data, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    labels = np.load(args.labels, allow_pickle=False) if args.labels else None
    with progress_bar(not args.json and sys.stderr.isatty()) as progress:
        report = evaluate(args.model, data, labels, reference=args.reference, top_k=args.top_k,
                          workers=args.workers, ray_address=args.ray, progress=progress, name=str(args.model))
    if args.json:
        out.json(report)
    else:
        print_report(report, out)
    return EXIT_OK


COMMAND = Command("eval", "accuracy or mean error over a dataset, and agreement with a float reference model",
                  _add_arguments, _run)
