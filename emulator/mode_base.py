"""The :class:`Mode` interface (its implementations are in :mod:`approxdse.emulator.modes`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import torch

from approxdse.emulator.fused_ops import Accumulator
from approxdse.emulator.integer_conv import IntegerOperands

if TYPE_CHECKING:
    from approxdse.emulator.config import EmulationConfig
    from approxdse.multipliers.multiplier import Multiplier


class Mode(ABC):
    """One way of computing ``sum_k LUT[a_k, w_k]`` for every output of a layer."""

    name: str = "abstract"
    #: True when the result equals the LUT sum bit for bit.
    exact: bool = False

    def prepare(self, multiplier: "Multiplier", config: "EmulationConfig") -> Any:
        """Per-multiplier precomputation (cached by the layer); may raise ApproxDSEError."""
        return None

    def weight_plan(self, ops: IntegerOperands, state: Any) -> Any:
        """What :meth:`partial_sum` derives from the weights alone (and the activation zero point).

        Layers cache it while their weights, zero point and multiplier stay the
        same, and hand it back as ``plan``; None when the mode has nothing to cache.
        """
        return None

    @abstractmethod
    def partial_sum(self, ops: IntegerOperands, state: Any, generator: torch.Generator | None = None,
                    plan: Any = None) -> Accumulator:
        """The LUT sums, possibly unmaterialised (see :class:`~approxdse.emulator.fused_ops.Accumulator`).

        ``plan``: this mode's :meth:`weight_plan` for these operands' weights (computed when None).
        """

    def lut_sum(self, ops: IntegerOperands, state: Any, generator: torch.Generator | None = None) -> torch.Tensor:
        """``sum_k LUT[a_k, w_k]`` as [N, M, P, Q]: int64 for exact modes, float64 for approximate ones."""
        return self.partial_sum(ops, state, generator).dense()

    def report(self, state: Any) -> dict[str, Any]:
        """What this mode did for a multiplier (error of an approximation, terms used ...)."""
        return {"mode": self.name, "exact": self.exact}

    def __repr__(self) -> str:
        return f"<mode {self.name!r} exact={self.exact}>"
