"""The error type for bad user input.

Anything a user can get wrong (a malformed file, an unknown name, a negative
size) raises :class:`ApproxDSEError` (or a subclass) with one sentence that
names the problem. The CLI prints that sentence and exits with status 2; it
never shows a traceback for these.
"""


class ApproxDSEError(Exception):
    """Bad input or an impossible request, described in one clear sentence."""


class UnknownNameError(ApproxDSEError, KeyError):
    """A name (multiplier, network, accelerator...) that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OutputError(ApproxDSEError, OSError):
    """An output that cannot be written (read-only folder, full disk, a folder where a file
    should go...): one sentence naming the path and the reason. Still an ``OSError``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def os_error_reason(exc: OSError) -> str:
    """The reason of an OS error in a few words (``strerror``, lower-case first letter)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]
