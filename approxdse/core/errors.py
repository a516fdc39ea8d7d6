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
