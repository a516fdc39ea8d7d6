"""A Ctrl-C that arrives inside a callback from C (numba's compiler calls back into Python
through ctypes) is dropped by ctypes; approxdse must still stop."""
from __future__ import annotations

import argparse
import ctypes
import os
import signal

import pytest

from approxdse import cli
from approxdse.core import interrupts
from approxdse.core.executor import LocalExecutor

_CALLBACK = ctypes.CFUNCTYPE(None)
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _ctrl_c_inside_a_c_callback() -> None:
    def body():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs at one of these bytecodes, inside the callback
            pass

    _CALLBACK(body)()


def test_ctypes_swallows_the_interrupt_without_the_handler():
    _ctrl_c_inside_a_c_callback()  # no KeyboardInterrupt reaches here: the problem being fixed


def test_a_swallowed_interrupt_is_raised_at_the_next_checkpoint():
    with interrupts.noticed_interrupts():
        _ctrl_c_inside_a_c_callback()
        assert interrupts.interrupted()
        with pytest.raises(KeyboardInterrupt):
            interrupts.raise_if_interrupted()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not interrupts.interrupted()  # forgotten outside the block: later work in this process runs
    interrupts.raise_if_interrupted()


def test_the_executor_stops_between_tasks_after_a_swallowed_interrupt():
    ran = []

    def task(i):
        ran.append(i)
        if i == 1:
            _ctrl_c_inside_a_c_callback()
        return i

    with interrupts.noticed_interrupts(), pytest.raises(KeyboardInterrupt):
        for _ in LocalExecutor().run(task, [(i,) for i in range(5)]):
            pass
    assert ran == [0, 1]


def test_the_cli_exits_130_when_a_command_finished_despite_ctrl_c(monkeypatch, capsys):
    def command(args):
        _ctrl_c_inside_a_c_callback()
        return 0

    parser = argparse.ArgumentParser(prog="approxdse")
    parser.add_subparsers(dest="command").add_parser("fake").set_defaults(func=command)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["fake"]) == 130
    assert "approxdse: interrupted" in capsys.readouterr().err


def test_no_interrupt_no_change(monkeypatch):
    parser = argparse.ArgumentParser(prog="approxdse")
    parser.add_subparsers(dest="command").add_parser("fake").set_defaults(func=lambda args: 0)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["fake"]) == 0
    assert not interrupts.interrupted()
