"""The ``approxdse`` dispatcher, run through the installed entry point."""
import shutil
import subprocess
import sys

import pytest

import approxdse
from approxdse.cli import build_parser, main

EXE = shutil.which("approxdse")


def run(*args):
    cmd = [EXE, *args] if EXE else [sys.executable, "-m", "approxdse", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_version_through_entry_point():
    assert EXE, "the approxdse console script is not installed"
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"approxdse {approxdse.__version__}"


def test_no_command_prints_help():
    proc = run()
    assert proc.returncode == 0
    assert "usage: approxdse" in proc.stdout


def test_unknown_command_exits_2():
    proc = run("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_user_errors_become_one_line_exit_2(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices, "no sub-commands registered"

    def boom(_args):
        raise approxdse.ApproxDSEError("the thing named 'x' does not exist")

    import argparse

    ns = argparse.Namespace(command="x", func=boom)
    parser.parse_args = lambda argv=None: ns  # type: ignore[method-assign]
    import approxdse.cli as cli

    original = cli.build_parser
    cli.build_parser = lambda: parser
    try:
        assert main([]) == 2
    finally:
        cli.build_parser = original
    err = capsys.readouterr().err
    assert err.strip() == "approxdse: error: the thing named 'x' does not exist"


@pytest.mark.parametrize("command", ["multipliers", "energy", "accuracy", "dataset",
                                     "train-predictor", "compare", "search"])
def test_every_job_has_a_command(command):
    proc = run(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: approxdse" in proc.stdout
