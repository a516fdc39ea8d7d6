"""approxdse: energy-efficient CNN accelerators built from approximate multipliers.

The work is split across four top-level packages: ``multipliers`` (approximate
multiplier library and the LUT emulator), ``accelerators`` (reference energy
model), ``predictors`` (fast energy predictors) and ``dse`` (the NAS-style
search). This package holds what they share: the version, the error type
that the command line turns into a one-line message, and the CLI itself.
"""
from approxdse.errors import ApproxDSEError

__version__ = "0.1.0"

__all__ = ["ApproxDSEError", "__version__"]
