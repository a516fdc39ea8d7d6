"""Error metrics of a multiplier, exhaustive over all 65,536 operand pairs.

Definitions follow EvoApproxLib (Mrazek et al., DATE 2017), with ``e = approx - exact``:

* ``mae`` mean |e|; ``mae_pct`` = mae / 2^16 x 100;
* ``wce`` max |e|; ``wce_pct`` = wce / 2^16 x 100;
* ``mre_pct`` mean of |e| / |exact| over the pairs whose exact product is non-zero, x 100;
* ``wcre_pct`` max of |e| / |exact| over the same pairs, x 100;
* ``ep_pct`` share of pairs with e != 0, x 100;
* ``mse`` mean e^2; ``bias`` mean e; ``std`` standard deviation of e.

The ``_pct`` normalisation by 2^16 is used for signed 8x8 circuits too: it is what
EvoApproxLib publishes for its ``mul8s`` circuits (e.g. mul8s_1KR3: MAE 2016 ->
3.08 %, WCE 8064 -> 12.30 %), so figures compare directly with that library.

:func:`weighted_error_metrics` computes the same quantities when the operands
follow given distributions (two histograms over the 256 operand values), e.g. a
layer's measured activation and weight histograms.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.lut import SIZE, exact_lut, validate_lut

#: EvoApproxLib's normaliser of MAE% and WCE% for 8x8 multipliers.
NORM = float(1 << 16)


@dataclass(frozen=True)
class ErrorMetrics:
    """Error metrics of one multiplier (see the module docstring for definitions)."""

    mae: float
    wce: float
    mre_pct: float
    wcre_pct: float
    ep_pct: float
    mse: float
    bias: float
    std: float

    @property
    def mae_pct(self) -> float:
        return self.mae / NORM * 100.0

    @property
    def wce_pct(self) -> float:
        return self.wce / NORM * 100.0

    @property
    def mre(self) -> float:
        """Mean relative error as a fraction."""
        return self.mre_pct / 100.0

    @property
    def ep(self) -> float:
        """Error probability as a fraction."""
        return self.ep_pct / 100.0

    @property
    def rmse(self) -> float:
        return float(np.sqrt(self.mse))

    def as_dict(self) -> dict[str, float]:
        """All metrics, the percentage forms included, as plain floats."""
        d = asdict(self)
        d.update(mae_pct=self.mae_pct, wce_pct=self.wce_pct)
        return {k: float(v) for k, v in d.items()}


#: Keys of :meth:`ErrorMetrics.as_dict`, in display order.
METRIC_KEYS = ("mae_pct", "wce_pct", "mre_pct", "ep_pct", "wcre_pct", "mae", "wce", "mse", "bias", "std")


@runtime_checkable
class HasLUT(Protocol):
    """Anything carrying a validated LUT and its signedness (a :class:`~approxdse.multipliers.Multiplier`)."""

    lut: np.ndarray
    signed: bool


_RECIP_CACHE: dict[bool, tuple[np.ndarray, np.ndarray]] = {}


def _reciprocal(signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """1/|exact| over the pairs with non-zero exact product (0 elsewhere), and that mask."""
    if signed not in _RECIP_CACHE:
        exact = np.abs(exact_lut(signed).astype(np.float64))
        nz = exact != 0
        recip = np.zeros_like(exact)
        recip[nz] = 1.0 / exact[nz]
        recip.setflags(write=False)
        nz.setflags(write=False)
        _RECIP_CACHE[signed] = (recip, nz)
    return _RECIP_CACHE[signed]


def _lut_and_sign(m: Any, signed: bool | None) -> tuple[np.ndarray, bool]:
    if isinstance(m, HasLUT):
        return m.lut, m.signed
    if signed is None:
        raise ApproxDSEError("pass signed=True or signed=False with a bare LUT")
    return validate_lut(m, signed=signed), bool(signed)


def error_metrics(m: HasLUT | np.ndarray, signed: bool | None = None) -> ErrorMetrics:
    """Exhaustive metrics of a :class:`~approxdse.multipliers.Multiplier` (or a bare LUT with
    ``signed``), uniform operands."""
    lut, signed = _lut_and_sign(m, signed)
    err = lut.astype(np.float64) - exact_lut(signed)
    abs_err = np.abs(err)
    recip, nz = _reciprocal(signed)
    rel = abs_err * recip
    n = float(err.size)
    mean = err.sum() / n
    return ErrorMetrics(
        mae=float(abs_err.sum() / n),
        wce=float(abs_err.max()),
        mre_pct=float(rel.sum() / nz.sum() * 100.0),
        wcre_pct=float(rel.max() * 100.0),
        ep_pct=float(np.count_nonzero(err) / n * 100.0),
        mse=float((err * err).sum() / n),
        bias=float(mean),
        std=float(np.sqrt(max((err * err).sum() / n - mean * mean, 0.0))),
    )


def _histogram(p: Any, which: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (SIZE,):
        raise ApproxDSEError(f"the {which} distribution must have {SIZE} entries (one per LUT index), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ApproxDSEError(f"the {which} distribution must be non-negative, finite and not all zero")
    return p / p.sum()


def weighted_error_metrics(
    m: HasLUT | np.ndarray, p_a: Any, p_b: Any, signed: bool | None = None
) -> ErrorMetrics:
    """Metrics when the first operand follows ``p_a`` and the second ``p_b``, independently.

    ``p_a`` and ``p_b`` are histograms over the 256 LUT indices (unnormalised counts
    are fine). Worst-case figures (``wce``, ``wcre_pct``) are taken over the pairs of
    non-zero probability; ``mre_pct`` is conditioned on a non-zero exact product.
    ``mae_pct``/``wce_pct`` keep the 2^16 normalisation.
    """
    lut, signed = _lut_and_sign(m, signed)
    w = np.multiply.outer(_histogram(p_a, "first-operand"), _histogram(p_b, "second-operand"))
    err = lut.astype(np.float64) - exact_lut(signed)
    abs_err = np.abs(err)
    recip, nz = _reciprocal(signed)
    support = w > 0
    w_nz = (w * nz).sum()
    mean = float((w * err).sum())
    mse = float((w * err * err).sum())
    return ErrorMetrics(
        mae=float((w * abs_err).sum()),
        wce=float(abs_err[support].max()),
        mre_pct=float((w * abs_err * recip).sum() / w_nz * 100.0) if w_nz > 0 else 0.0,
        wcre_pct=float((abs_err * recip)[support].max() * 100.0),
        ep_pct=float(w[err != 0].sum() * 100.0),
        mse=mse,
        bias=mean,
        std=float(np.sqrt(max(mse - mean * mean, 0.0))),
    )
