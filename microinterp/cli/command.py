"""What every subcommand shares: the `Command` record, the exit codes, and the --against/--litert
arguments that pick an official interpreter."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..oracles import PIP_HINT, OracleUnavailable
from .render import Output

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2

#: The Python package behind each official interpreter, for the up-front availability check.
ORACLE_PACKAGES = {"tflm": ("tflite_micro", "tflite-micro"), "litert": ("ai_edge_litert", "ai-edge-litert")}
#: `--litert` choices: which LiteRT kernels stand for "litert" (oracle backend names).
LITERT_KERNELS = {"reference": "litert_ref", "optimized": "litert_builtin", "xnnpack": "litert"}
#: What a report calls each oracle backend: the interpreter and, for LiteRT, its kernels.
BACKEND_LABELS = {"tflm": "tflm", **{backend: f"litert-{kernels}" for kernels, backend in LITERT_KERNELS.items()}}


class MissingExtra(Exception):
    """An optional package a command needs is not installed; the message says which extra has it."""


def failures_exit(command: str, failures: Sequence[tuple[str, str]]) -> int:
    """Print each (model, reason) a multi-model command could not handle as one error line on stderr;
    the exit code: EXIT_USAGE if there was any, else EXIT_OK."""
    for model, reason in failures:
        print(f"microinterp {command}: error: {model}: {reason}", file=sys.stderr)
    return EXIT_USAGE if failures else EXIT_OK


def one_line(error: BaseException | str) -> str:
    """An error message on one line (the lines of a multi-line message joined by spaces)."""
    return " ".join(part.strip() for part in str(error).splitlines() if part.strip())


@dataclass(frozen=True)
class Command:
    """A subcommand: name, one-line help, the function adding its arguments, and the function running it
    (it gets the parsed arguments and the output, and returns the exit code)."""
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Output], int]


def add_oracle_arguments(parser: argparse.ArgumentParser, *, multiple: bool, litert_default: str = "reference") -> None:
    """--against (one official interpreter, or several with `multiple`) and --litert (which kernels,
    `litert_default` unless given)."""
    kinds = sorted(ORACLE_PACKAGES)
    if multiple:
        parser.add_argument("--against", action="append", choices=kinds, default=[],
                            help="also time this official interpreter (repeatable; needs the oracles extra)")
    else:
        parser.add_argument("--against", choices=kinds, default="tflm",
                            help="the official interpreter to compare with (default tflm)")
    parser.add_argument("--litert", choices=sorted(LITERT_KERNELS), default=litert_default,
                        help=f"LiteRT's kernels: reference, optimized, or xnnpack (the delegate); "
                             f"default {litert_default}")


def oracle_backend(kind: str, litert_kernels: str) -> str:
    """The oracle backend name for `--against KIND` (and `--litert`), after checking it is installed.

    Raises OracleUnavailable, whose message ends with the pip command, when its package is missing.
    """
    module, package = ORACLE_PACKAGES[kind]
    if importlib.util.find_spec(module) is None:
        raise OracleUnavailable(f"comparing with {kind} needs the {package} package, which is not "
                                f"installed; install it with: {PIP_HINT}")
    return "tflm" if kind == "tflm" else LITERT_KERNELS[litert_kernels]
