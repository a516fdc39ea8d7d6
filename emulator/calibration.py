"""Activation calibration: the range of each approximate layer's input on a few batches.

>>> import torch
>>> from approxdse.emulator import approximate, calibrate
>>> q = approximate(torch.nn.Sequential(torch.nn.Linear(4, 2)), "u8_exact")
>>> _ = calibrate(q, [torch.randn(16, 4) for _ in range(3)])
>>> bool(q[0].calibrated)
True
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.config import CALIBRATION_CHOICES
from approxdse.emulator.layers import _ApproxLayer

#: Values kept per layer by the percentile observer (a uniform random sample).
RESERVOIR = 1 << 20


class MinMaxObserver:
    """Running minimum and maximum."""

    def __init__(self) -> None:
        self.lo = float("inf")
        self.hi = float("-inf")

    def observe(self, x: torch.Tensor) -> None:
        x = x.detach()
        if x.numel():
            self.lo = min(self.lo, float(x.min()))
            self.hi = max(self.hi, float(x.max()))

    def range(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def seen(self) -> bool:
        return self.lo <= self.hi


class PercentileObserver(MinMaxObserver):
    """Clips the range at the ``percentile`` (and ``100 - percentile``) of a uniform sample of the inputs."""

    def __init__(self, percentile: float, seed: int = 0) -> None:
        super().__init__()
        self.percentile = float(percentile)
        self.rng = np.random.default_rng(seed)
        self.samples: list[np.ndarray] = []
        self.count = 0

    def observe(self, x: torch.Tensor) -> None:
        super().observe(x)
        flat = x.detach().reshape(-1).to(torch.float32).cpu().numpy()
        keep = min(flat.size, RESERVOIR // 8)
        if keep < flat.size:
            flat = flat[self.rng.choice(flat.size, keep, replace=False)]
        self.samples.append(flat)
        self.count += flat.size
        if self.count > RESERVOIR:
            allv = np.concatenate(self.samples)
            self.samples = [allv[self.rng.choice(allv.size, RESERVOIR, replace=False)]]
            self.count = RESERVOIR

    def range(self) -> tuple[float, float]:
        values = np.concatenate(self.samples)
        lo = float(np.percentile(values, 100.0 - self.percentile))
        hi = float(np.percentile(values, self.percentile))
        return lo, hi


def calibrate(qmodel: nn.Module, batches: Iterable[Any], method: str | None = None,
              percentile: float | None = None, *, max_batches: int | None = None) -> nn.Module:
    """Set every approximate layer's activation scale and zero point from a few batches.

    Parameters
    ----------
    qmodel: a model converted by :func:`~approxdse.emulator.approximate`.
    batches: iterable of input tensors, or of ``(x, y, ...)`` tuples/lists (x is used).
    method: ``"minmax"`` or ``"percentile"``; None uses each layer's configured method.
    percentile: for ``"percentile"``; None uses the layer's configured value (99.99).
    max_batches: stop after this many batches.

    The model runs in eval mode, in float, under ``torch.no_grad()``; its
    training flag is restored afterwards. Returns ``qmodel``.
    """
    if method is not None and method not in CALIBRATION_CHOICES:
        raise ApproxDSEError(f"unknown calibration method {method!r}; choose one of {', '.join(CALIBRATION_CHOICES)}")
    layers = [m for m in qmodel.modules() if isinstance(m, _ApproxLayer)]
    if not layers:
        raise ApproxDSEError("calibrate() found no approximate layers; convert the model with approximate() first")
    for i, layer in enumerate(layers):
        how = method or layer.config.calibration
        pct = percentile if percentile is not None else layer.config.percentile
        layer._observer = PercentileObserver(pct, seed=layer.config.seed + i) if how == "percentile" else MinMaxObserver()
    was_training = qmodel.training
    qmodel.eval()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                if not isinstance(x, torch.Tensor):
                    raise ApproxDSEError(f"calibration batches must be tensors or (x, y) tuples, got {type(x).__name__}")
                qmodel(x)
                seen += 1
                if max_batches is not None and seen >= max_batches:
                    break
        if seen == 0:
            raise ApproxDSEError("calibrate() got no batches; pass at least one input batch")
        for layer in layers:
            if layer._observer.seen:
                layer.set_activation_range(*layer._observer.range())
    finally:
        for layer in layers:
            layer._observer = None
        qmodel.train(was_training)
    return qmodel
