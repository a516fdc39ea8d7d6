"""Ctrl-C that C code cannot swallow.

Python turns SIGINT into a ``KeyboardInterrupt`` at the next bytecode of the main
thread. When that bytecode runs inside a callback from C (numba's compiler calls
back into Python through ctypes while it compiles a kernel), ctypes prints
"Exception ignored on calling ctypes callback function" and drops the exception:
the run goes on as if Ctrl-C had never been pressed.

:func:`noticed_interrupts` (the CLI wraps every command in it) installs a SIGINT
handler that raises ``KeyboardInterrupt`` as before and also records that the
signal came. Long loops call :func:`raise_if_interrupted` at their checkpoints
(a sweep row, a finished task), so a swallowed Ctrl-C still stops the run at the
next checkpoint, with the finished work saved; :func:`interrupted` lets the CLI
report a command that finished although it was interrupted.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_received = False


def interrupted() -> bool:
    """Whether SIGINT arrived while :func:`noticed_interrupts` was active."""
    return _received


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT arrived (even if something swallowed the first one)."""
    if _received:
        raise KeyboardInterrupt


def _record_and_raise(signum, frame) -> None:
    global _received
    _received = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def noticed_interrupts() -> Iterator[None]:
    """While active, SIGINT raises ``KeyboardInterrupt`` and is remembered (see the module doc).

    Leaves the handler alone outside the main thread, or when the program installed its own."""
    global _received
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    _received = False
    signal.signal(signal.SIGINT, _record_and_raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _received = False  # checkpoints outside the block (other callers in this process) see none
