"""The `microinterp` command line: inspect, run, compare, bench, profile, plan and evaluate TensorFlow Lite models.

Each subcommand is a thin layer over a Python API that returns dataclasses; `--json` prints that data.
Adding a subcommand is one module exposing `COMMAND` (a `Command`) and one line in `COMMAND_MODULES`.

Exit codes: 0 success, 1 a check failed (e.g. outputs differ), 2 usage or input error, printed as one
line on stderr (a traceback only with --debug) and, under --json, as `{"error": ..., "exit": 2}` on stdout.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import MicrointerpError
from ..oracles import PIP_HINT, OracleCrash, OracleError, OracleUnavailable
from .command import EXIT_USAGE, ORACLE_PACKAGES, Command, MissingExtra, one_line
from .render import Output

#: Modules of microinterp.cli that define a subcommand, in the order `--help` lists them.
COMMAND_MODULES = (
    "inspection",
    "runner",
    "compare",
    "bench",
    "profiling",
    "plan",
    "evaluate",
)

_MAX_MESSAGE_CHARS = 400


def load_commands() -> list[Command]:
    """Every registered subcommand, in COMMAND_MODULES order."""
    return [importlib.import_module(f".{name}", __package__).COMMAND for name in COMMAND_MODULES]


class UsageError(Exception):
    """A command line argparse refused; argparse has printed the usage and the message on stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse, raising UsageError instead of exiting, so that main can also report it as JSON."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the whole command, one subparser per registered command."""
    parser = _Parser(prog="microinterp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"microinterp {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    # SUPPRESS keeps a subcommand's default from overwriting `microinterp --debug CMD`.
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the report as JSON")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in load_commands():
        p = sub.add_parser(command.name, help=command.help, description=command.help, parents=[common])
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def error_exit(error: BaseException) -> tuple[int, str] | None:
    """The exit code and one-line message for an error the command reports without a traceback, or
    None for an unexpected error (a bug, shown with its traceback)."""
    if isinstance(error, ImportError):
        # Only the official interpreters are optional; any other missing module is a broken install.
        oracle_modules = {module for module, _ in ORACLE_PACKAGES.values()}
        if (error.name or "").split(".")[0] not in oracle_modules:
            return None
        message = f"{error}; install the official interpreters with: {PIP_HINT}"
    elif isinstance(error, (MicrointerpError, OSError, ValueError, MissingExtra, OracleUnavailable, OracleError,
                            OracleCrash)):
        message = str(error)
    else:
        return None
    message = one_line(message)
    if len(message) > _MAX_MESSAGE_CHARS:
        message = message[:_MAX_MESSAGE_CHARS - 3] + "..."
    return EXIT_USAGE, message


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `microinterp` console script; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        if "--json" in (sys.argv[1:] if argv is None else argv):
            print(json.dumps({"error": str(e), "exit": EXIT_USAGE}))
        return EXIT_USAGE
    try:
        return args.run(args, Output())
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, with the status of a tool killed by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as e:
        handled = error_exit(e)
        if handled is None or args.debug:
            raise
        code, message = handled
        if getattr(args, "json", False):
            # A script reading stdout gets a JSON document whatever happened.
            print(json.dumps({"error": message, "exit": code}))
        print(f"microinterp {args.command}: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
