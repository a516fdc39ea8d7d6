"""How a layer is emulated: backend, mode, number format, calibration."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from approxdse.core.errors import ApproxDSEError

BACKEND_CHOICES = ("auto", "reference", "cpu", "cuda")
MODE_CHOICES = ("lut", "exact-decomposition", "low-rank", "noise")
SCHEME_CHOICES = ("auto", "unsigned", "signed")
CALIBRATION_CHOICES = ("minmax", "percentile")


@dataclass(frozen=True)
class EmulationConfig:
    """Settings shared by the approximate layers of one conversion.

    Parameters
    ----------
    backend: ``"auto"`` (the fast CPU kernel, or CUDA when the tensors live on a
        GPU and a CUDA backend is installed), ``"reference"`` (unfold + integer
        gather, slow, for tests), ``"cpu"`` (numba kernel) or ``"cuda"``.
    mode: ``"lut"`` (every product looked up: exact), ``"exact-decomposition"``
        (a few ordinary convolutions, exact, only for LUTs with that structure),
        ``"low-rank"`` (error matrix approximated at rank ``rank``) or ``"noise"``
        (a statistical model of the product error, for training).
    scheme: number format. ``"unsigned"``: affine quantisation with zero points
        (codes 0..255), for unsigned multipliers; ``"signed"``: symmetric
        quantisation (codes -128..127), for signed multipliers; ``"auto"``
        follows the multiplier. A mismatch with the multiplier is an error.
    calibration: ``"minmax"`` or ``"percentile"`` activation ranges.
    percentile: the upper percentile kept by ``"percentile"`` calibration.
    rank: the rank of the error-matrix approximation in ``"low-rank"`` mode.
    noise_operand_dependent: in ``"noise"`` mode, use the error mean/variance
        conditioned on the activation code (else one mean/variance per multiplier).
    seed: seed of the noise mode's random generator.
    """

    backend: str = "auto"
    mode: str = "lut"
    scheme: str = "auto"
    calibration: str = "minmax"
    percentile: float = 99.99
    rank: int = 4
    noise_operand_dependent: bool = True
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("backend", self.backend, BACKEND_CHOICES)
        _check("mode", self.mode, MODE_CHOICES)
        _check("quantisation scheme", self.scheme, SCHEME_CHOICES)
        _check("calibration method", self.calibration, CALIBRATION_CHOICES)
        if not (50.0 < float(self.percentile) <= 100.0):
            raise ApproxDSEError(f"calibration percentile must lie in (50, 100], got {self.percentile}")
        if int(self.rank) < 1 or int(self.rank) > 256:
            raise ApproxDSEError(f"low-rank mode needs a rank between 1 and 256, got {self.rank}")

    def with_(self, **changes: Any) -> "EmulationConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _check(what: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ApproxDSEError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
