"""What every subcommand shares: the `Command` record, the exit codes, and the --against/--litert
arguments that pick an official interpreter."""
from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from ..oracles import PIP_HINT, OracleUnavailable
from .render import Output

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2

#: The Python package behind each official interpreter, for the up-front availability check.
ORACLE_PACKAGES = {"tflm": ("tflite_micro", "tflite-micro"), "litert": ("ai_edge_litert", "ai-edge-litert")}
#: `--litert` choices: which LiteRT kernels stand for "litert" (oracle backend names).
LITERT_KERNELS = {"reference": "litert_ref", "optimized": "litert_builtin", "xnnpack": "litert"}


@dataclass(frozen=True)
class Command:
    """A subcommand: name, one-line help, the function adding its arguments, and the function running it
    (it gets the parsed arguments and the output, and returns the exit code)."""
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Output], int]


def add_oracle_arguments(parser: argparse.ArgumentParser, *, multiple: bool) -> None:
    """--against (one official interpreter, or several with `multiple`) and --litert (which kernels)."""
    kinds = sorted(ORACLE_PACKAGES)
    if multiple:
        parser.add_argument("--against", action="append", choices=kinds, default=[],
                            help="also time this official interpreter (repeatable; needs the oracles extra)")
    else:
        parser.add_argument("--against", choices=kinds, default="tflm",
                            help="the official interpreter to compare with (default tflm)")
    parser.add_argument("--litert", choices=sorted(LITERT_KERNELS), default="reference",
                        help="LiteRT's kernels: reference (default), optimized, or xnnpack (the delegate)")


def oracle_backend(kind: str, litert_kernels: str) -> str:
    """The oracle backend name for `--against KIND` (and `--litert`), after checking it is installed.

    Raises OracleUnavailable, whose message ends with the pip command, when its package is missing.
    """
    module, package = ORACLE_PACKAGES[kind]
    if importlib.util.find_spec(module) is None:
        raise OracleUnavailable(f"comparing with {kind} needs the {package} package, which is not "
                                f"installed; install it with: {PIP_HINT}")
    return "tflm" if kind == "tflm" else LITERT_KERNELS[litert_kernels]
