"""The ``approxdse`` command.

Each package contributes its sub-commands through a ``cli`` module with a
``register(subparsers)`` function. Those modules keep their heavy imports
(torch, pandas, ...) inside the command handlers so that ``approxdse --help``
and ``approxdse --version`` stay instant.

Options shared by several commands (``--out``, ``--format``, ``--progress``,
``--workers``/``--scheduler``) come from :mod:`approxdse.core.cli_options`; a
module may also define ``rewrite_legacy_argv(argv)`` to accept old spellings.

A handler returns an exit status (or None for 0). Bad input raises
:class:`approxdse.core.errors.ApproxDSEError`; it is printed as one line on stderr
and the command exits with status 2. An ``OSError`` that escapes a handler (a file
the code did not expect to be unreadable or unwritable) is printed the same way,
naming the file and the reason.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings

from approxdse import __version__
from approxdse.core.errors import ApproxDSEError, os_error_reason
from approxdse.core.interrupts import interrupted, noticed_interrupts

#: Modules that add sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "approxdse.multipliers.cli",
    "approxdse.accelerators.cli",
    "approxdse.emulator.cli",
    "approxdse.predictors.cli",
    "approxdse.dse.cli",
)


def _command_modules() -> list:
    """The imported command modules (a package without a ``cli`` module is skipped)."""
    modules = []
    for module_name in COMMAND_MODULES:
        try:
            modules.append(importlib.import_module(module_name))
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that package has no commands yet
            raise
    return modules


def rewrite_legacy_argv(argv: list[str]) -> list[str]:
    """Old command-line spellings a command module turns into new ones (for one release,
    with a deprecation line), e.g. ``search CONFIG`` -> ``search run CONFIG``."""
    for module in _command_modules():
        hook = getattr(module, "rewrite_legacy_argv", None)
        if hook is not None:
            argv = hook(argv)
    return argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="approxdse",
        description="Design CNN accelerators with approximate multipliers: "
        "multiplier library, reference energy, predictors, NAS-style search.",
    )
    parser.add_argument("--version", action="version", version=f"approxdse {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(rewrite_legacy_argv(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        with _one_line_warnings(), noticed_interrupts():
            status = args.func(args)
            if interrupted():  # a Ctrl-C that C code swallowed and no checkpoint saw
                raise KeyboardInterrupt
    except ApproxDSEError as exc:
        print(f"approxdse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("approxdse: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()  # the reader (``| head``) went away: not an error
        return 0
    except OSError as exc:  # a read or write the code did not expect to fail: still one line
        print(f"approxdse: error: {_describe_os_error(exc)}", file=sys.stderr)
        return 2
    return int(status or 0)


@contextlib.contextmanager
def _one_line_warnings():
    """While a command runs, the project's own warnings (messages starting ``approxdse:``, e.g.
    "no C compiler, falling back") print as one ``approxdse: warning: ...`` line, without
    Python's file/line/source decoration; other warnings print as Python prints them."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text.startswith("approxdse: "):
            print(f"approxdse: warning: {text[len('approxdse: '):]}", file=file or sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _describe_os_error(exc: OSError) -> str:
    names = [n for n in (exc.filename, exc.filename2) if n]
    where = " -> ".join(str(n) for n in names)
    return f"{where}: {os_error_reason(exc)}" if where else os_error_reason(exc)


def _silence_stdout() -> None:
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
