"""One grammar for every ``approxdse`` sub-command: shared argparse parent parsers.

Each package's ``cli.py`` builds its sub-commands with ``parents=[...]`` from here,
so the same option is spelled, defaulted and explained the same way everywhere:

* :func:`out_option`: ``--out PATH``, the output file or folder of a command;
* :func:`format_option`: ``--format`` with the formats that command writes;
* :func:`progress_option`: ``--progress`` / ``--no-progress`` (default: a progress
  bar only when stderr is a terminal; :func:`show_progress` resolves it);
* :func:`workers_option`: ``--workers K`` (local processes) and ``--scheduler
  ADDRESS`` (a Dask scheduler instead).

Old spellings stay accepted for one release as hidden aliases
(:func:`deprecated_alias`): using one prints a single line on stderr, e.g.
``approxdse: warning: --output is deprecated, use --out``, and behaves as the new
spelling. Aliases kept: ``--output``/``-o`` (for ``--out``), ``--quiet`` (for
``--no-progress``); the command modules add their own (``accuracy --network``,
``search CONFIG``, ``search CONFIG --resume DIR``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from approxdse.core.atomic_files import atomic_write_text

__all__ = [
    "deprecated_alias",
    "deprecation_warning",
    "format_option",
    "out_option",
    "positive_int",
    "progress_option",
    "show_progress",
    "workers_option",
    "write_output",
]


def deprecation_warning(old: str, new: str) -> None:
    """The one stderr line an old spelling prints."""
    print(f"approxdse: warning: {old} is deprecated, use {new}", file=sys.stderr)


class _DeprecatedAlias(argparse.Action):
    """An old option spelling: warns once per use and stores like the new one."""

    def __init__(self, option_strings, dest, *, new: str, nargs=None, const=None, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, nargs=nargs, const=const, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        deprecation_warning(option_string or self.option_strings[0], self.new)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def deprecated_alias(parser: argparse.ArgumentParser, *flags: str, dest: str, new: str,
                     const: Any = None, takes_value: bool = True, **kwargs: Any) -> None:
    """Accept ``flags`` (hidden from ``--help``) as an old spelling of ``new``.

    With ``takes_value`` the alias stores its argument in ``dest`` (``--output FILE``);
    otherwise it is a flag that stores ``const`` (``--quiet`` stores ``False`` into
    ``progress``).
    """
    parser.add_argument(*flags, dest=dest, action=_DeprecatedAlias, new=new, help=argparse.SUPPRESS,
                        nargs=None if takes_value else 0, const=const, default=argparse.SUPPRESS, **kwargs)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def out_option(help: str, *, metavar: str = "FILE", required: bool = False, default: str | None = None,
               legacy_output: bool = False) -> argparse.ArgumentParser:
    """``--out PATH``: where the command writes (a file or a folder, as ``help`` says).
    ``legacy_output`` also accepts the old ``--output`` / ``-o``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--out", metavar=metavar, required=required, default=default, help=help)
    if legacy_output:
        deprecated_alias(parent, "--output", "-o", dest="out", new="--out", metavar=metavar)
    return parent


def format_option(choices: Sequence[str], default: str = "table",
                  help: str | None = None) -> argparse.ArgumentParser:
    """``--format {choices}`` (default ``default``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--format", choices=tuple(choices), default=default,
                        help=help or f"output format (default {default})")
    return parent


def progress_option() -> argparse.ArgumentParser:
    """``--progress`` / ``--no-progress`` into ``args.progress`` (None: decide by the terminal);
    the old ``--quiet`` is an alias of ``--no-progress``."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument("--progress", dest="progress", action="store_true", default=None,
                       help="always show progress bars (default: only when stderr is a terminal)")
    group.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
    deprecated_alias(parent, "--quiet", dest="progress", new="--no-progress", const=False, takes_value=False)
    return parent


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: ``--progress`` / ``--no-progress``, else only on a terminal."""
    progress = getattr(args, "progress", None)
    return sys.stderr.isatty() if progress is None else bool(progress)


def workers_option(workers_default: str) -> argparse.ArgumentParser:
    """``--workers K`` (local worker processes; ``workers_default`` says what None means)
    and ``--scheduler ADDRESS`` (a Dask scheduler, ``tcp://host:port``, instead)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--workers", type=positive_int, default=None, metavar="K",
                        help=f"local worker processes (default: {workers_default}; 1 runs in this process)")
    parent.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="evaluate on this Dask scheduler (tcp://HOST:PORT) instead of local workers")
    return parent


def write_output(text: str, out: str | os.PathLike | None) -> None:
    """``text`` (a newline added if missing) to the file ``out`` atomically, or to stdout;
    a reader that closes the pipe early (``| head``) is not an error."""
    if not text.endswith("\n"):
        text += "\n"
    if out is not None:
        atomic_write_text(Path(out), text)
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
