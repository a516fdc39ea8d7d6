"""Emulation modes: how the sum of LUT products of a layer is computed.

========================  =======  ==============================================
mode                      exact    how
========================  =======  ==============================================
``lut``                   yes      every product looked up (the backend's kernel)
``exact-decomposition``   yes      a few ordinary convolutions on transformed
                                   operands (needs bit-plane / low-rank structure)
``low-rank``              no       exact product + rank-r approximation of the
                                   error matrix, as ordinary convolutions
``noise``                 no       exact product + the multiplier's error mean and
                                   variance (per activation code), sampled
========================  =======  ==============================================

>>> from approxdse.emulator import MODES
>>> MODES["lut"].exact, MODES["noise"].exact
(True, False)
"""
from __future__ import annotations

from approxdse.emulator.fused_ops import Accumulator
from approxdse.emulator.mode_base import Mode
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.fast_modes import ExactDecompositionMode, LowRankMode, NoiseMode


class LUTMode(Mode):
    """Every product is looked up in the LUT by the selected backend (exact)."""

    name = "lut"
    exact = True

    def partial_sum(self, ops, state, generator=None, plan=None):
        if ops.is_linear:
            n, c = ops.a_index.shape[:2]
            out = ops.backend.lut_linear(ops.a_index.reshape(n, c), ops.w_index.reshape(ops.w_codes.shape[0], c),
                                         ops.multiplier.lut)[:, :, None, None]
        else:
            out = ops.backend.lut_conv2d(ops.a_index, ops.w_index, ops.multiplier.lut, ops.geometry, ops.pad_index)
        return Accumulator(out, exact=True)


def _modes() -> dict[str, Mode]:
    return {m.name: m for m in (LUTMode(), ExactDecompositionMode(), LowRankMode(), NoiseMode())}


MODES: dict[str, Mode] = _modes()


def get_mode(name: str) -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise ApproxDSEError(f"unknown mode {name!r}; choose one of {', '.join(MODES)}") from None
