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

>>> from multipliers.emulator import MODES
>>> MODES["lut"].exact, MODES["noise"].exact
(True, False)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from multipliers.emulator.fused_ops import Accumulator
from multipliers.emulator.integer_conv import IntegerOperands

if TYPE_CHECKING:
    from multipliers.emulator.config import EmulationConfig
    from multipliers.multiplier import Multiplier


class Mode(ABC):
    """One way of computing ``sum_k LUT[a_k, w_k]`` for every output of a layer."""

    name: str = "abstract"
    #: True when the result equals the LUT sum bit for bit.
    exact: bool = False

    def prepare(self, multiplier: "Multiplier", config: "EmulationConfig") -> Any:
        """Per-multiplier precomputation (cached by the layer); may raise ApproxDSEError."""
        return None

    @abstractmethod
    def partial_sum(self, ops: IntegerOperands, state: Any, generator: torch.Generator | None = None) -> Accumulator:
        """The LUT sums, possibly unmaterialised (see :class:`~multipliers.emulator.fused_ops.Accumulator`)."""

    def lut_sum(self, ops: IntegerOperands, state: Any, generator: torch.Generator | None = None) -> torch.Tensor:
        """``sum_k LUT[a_k, w_k]`` as [N, M, P, Q]: int64 for exact modes, float64 for approximate ones."""
        return self.partial_sum(ops, state, generator).dense()

    def report(self, state: Any) -> dict[str, Any]:
        """What this mode did for a multiplier (error of an approximation, terms used ...)."""
        return {"mode": self.name, "exact": self.exact}

    def __repr__(self) -> str:
        return f"<mode {self.name!r} exact={self.exact}>"


class LUTMode(Mode):
    """Every product is looked up in the LUT by the selected backend (exact)."""

    name = "lut"
    exact = True

    def partial_sum(self, ops, state, generator=None):
        if ops.is_linear:
            n, c = ops.a_index.shape[:2]
            out = ops.backend.lut_linear(ops.a_index.reshape(n, c), ops.w_index.reshape(ops.w_codes.shape[0], c),
                                         ops.multiplier.lut)[:, :, None, None]
        else:
            out = ops.backend.lut_conv2d(ops.a_index, ops.w_index, ops.multiplier.lut, ops.geometry, ops.pad_index)
        return Accumulator(out, exact=True)


def _modes() -> dict[str, Mode]:
    from multipliers.emulator.fast_modes import ExactDecompositionMode, LowRankMode, NoiseMode

    return {m.name: m for m in (LUTMode(), ExactDecompositionMode(), LowRankMode(), NoiseMode())}


MODES: dict[str, Mode] = _modes()


def get_mode(name: str) -> Mode:
    from approxdse.errors import ApproxDSEError

    try:
        return MODES[name]
    except KeyError:
        raise ApproxDSEError(f"unknown mode {name!r}; choose one of {', '.join(MODES)}") from None
