"""An approximated, calibrated copy of a float model, in one call (:func:`emulate`):
convert its layers to multiply through the assigned multipliers, calibrate the
activation ranges on the first training batches."""
from __future__ import annotations

from typing import Any

from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.assignment import assignment_of
from approxdse.emulator.batches import calibration_batches
from approxdse.emulator.calibration import calibrate
from approxdse.emulator.config import EmulationConfig
from approxdse.emulator.convert import approximate
from approxdse.emulator.datasets import DatasetSplits

__all__ = ["emulate"]


def emulate(
    model: nn.Module,
    multiplier: Any,
    data: DatasetSplits | Any,
    *,
    backend: str = "auto",
    mode: str = "lut",
    calibration: str = "minmax",
    n_calibration_batches: int = 4,
    **options: Any,
) -> nn.Module:
    """An approximated, calibrated copy of ``model``: every Conv2d/Linear multiplies through
    ``multiplier`` (a name, a Multiplier or a ``{layer: multiplier}`` dict), activation
    ranges calibrated on the first training batches of ``data``. Extra ``options`` are
    fields of :class:`approxdse.emulator.EmulationConfig` (``rank``, ``percentile``,
    ``noise_operand_dependent``, ``seed`` ...)."""
    try:
        config = EmulationConfig(backend=backend, mode=mode, calibration=calibration, **options)
    except TypeError:
        unknown = sorted(set(options) - set(EmulationConfig.__dataclass_fields__))
        raise ApproxDSEError(f"unknown emulation option(s) {', '.join(unknown)}") from None
    assignment = assignment_of(multiplier)
    # a dict from layer_assignment names every layer, so nothing is left to "others"
    others = "float" if isinstance(assignment, dict) else "exact"
    qmodel = approximate(model, assignment, config=config, others=others)
    calibrate(qmodel, calibration_batches(data, n_calibration_batches), method=calibration)
    qmodel.eval()
    return qmodel

