"""The fast modes: exact decomposition, low-rank error, statistical noise.

All three compute sums of rank-1 terms ``sum_k f(a_k) g(w_k)`` as ordinary
float convolutions (:func:`term_sums`). Operands are centred on the value at
the zero point (so padding is a plain zero padding), and the centring is undone
with window sums. For integer terms the result is exact: a convolution runs in
float32 only when every partial sum is an integer below 2^24 in magnitude
(bounded before the call), otherwise the activation operand is split into a
high and a low digit (two float32 convolutions) or the convolution runs in
float64.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.decomposition import Decomposition, Term, decompose
from approxdse.emulator.fused_ops import Accumulator, lookup_sums, table_lookup
from approxdse.emulator.integer_conv import (
    IntegerOperands,
    needs_zero_point_corrections,
    window_sum,
    zero_point_table,
)
from approxdse.emulator.mode_base import Mode
from approxdse.multipliers.multiplier import operand_values

_FP32_EXACT = float(1 << 24)
_FP64_EXACT = float(1 << 53)
_SPLIT = 16  # digit base when the activation operand is split in two


def _conv(x: torch.Tensor, w: torch.Tensor, ops: IntegerOperands, groups: int | None = None,
          pad_value: float = 0.0, prepadded: bool = False) -> torch.Tensor:
    """The layer's convolution of ``x`` and ``w``; padding positions hold ``pad_value``.

    ``prepadded``: ``x`` holds the padding already.
    """
    g = ops.geometry
    padding = (0, 0) if prepadded else g.padding
    if pad_value and any(padding):
        ph, pw = padding
        x = F.pad(x, (pw, pw, ph, ph), value=float(pad_value))
        padding = (0, 0)
    return F.conv2d(x, w, None, g.stride, padding, g.dilation, g.groups if groups is None else groups)


#: Most chunks a reduction is cut into to keep float32 partial sums exact.
_MAX_CHUNKS = 32


@dataclass
class TermPlan:
    """The weight side of one term ``f(a) g(w)`` for a layer: centred weights, centring, bounds.

    Depends on the weight codes, their zero points and the activation padding
    index only, so layers cache it (:meth:`Mode.weight_plan`).
    """

    f: np.ndarray  # float64 [256]
    gc: torch.Tensor | None  # float64 [M, C/g, R, S]: g(w) - g(z_w), kept when float32 is not exact
    cg_m: torch.Tensor  # float64 [M]: g(z_w)
    cf: float  # activation centre: f(pad), or mid-range
    fmax: float  # max |f - cf|
    gsum: float  # largest per-channel sum of |gc| (exact plans only)
    pad_value: float  # f(pad) - cf: what padding positions hold
    const: torch.Tensor  # float64 [M]: the centring's constant
    windowed: bool  # whether g(z_w) is non-zero somewhere (a window-sum plane is needed)
    gc32: torch.Tensor | None = None  # gc as float32, when a float32 conv of it is exact / wanted
    chunks: int = 1  # > 1: gc32 is [chunks * M, C / chunks, R, S], one grouped conv summed in float64


def plan_term(ops: IntegerOperands, f, g, exact: bool) -> TermPlan:
    """The :class:`TermPlan` of the term ``f(a) g(w)`` (tables of 256 values) for ``ops``' weights."""
    w_idx = ops.w_codes + ops.fmt.index_offset
    m, cg, r, s = w_idx.shape
    wz = ops.w_zero + ops.fmt.index_offset
    f = np.asarray(f, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    cg_m = torch.from_numpy(g)[wz]  # float64 [M]
    gc = torch.from_numpy(g)[w_idx] - cg_m.view(m, 1, 1, 1)  # float64 [M, C/g, R, S]
    cf = float(f[ops.pad_index])  # centred on the padding value: plain zero padding
    fmax = float(np.abs(f - cf).max())
    pad_value = 0.0
    gsum = 0.0
    if exact:
        gsum = float(gc.abs().reshape(m, -1).sum(dim=1).max()) if gc.numel() else 0.0
        mid = float(np.round((f.min() + f.max()) / 2))
        if fmax * gsum >= _FP32_EXACT and float(np.abs(f - mid).max()) < fmax:
            # centred mid-range instead: a smaller bound, at the price of explicit padding
            cf, fmax = mid, float(np.abs(f - mid).max())
            pad_value = float(f[ops.pad_index]) - cf
    const = cf * gc.reshape(m, -1).sum(dim=1) + cg * r * s * cf * cg_m
    gc32, chunks = None, 1
    if not exact or fmax * gsum < _FP32_EXACT:
        gc32 = gc.to(torch.float32)
    elif (j := _exact_chunks(gc, ops, fmax)) is not None:
        gc32, chunks = gc.reshape(m, j, cg // j, r, s).transpose(0, 1).reshape(j * m, cg // j, r, s).to(
            torch.float32).contiguous(), j
    return TermPlan(f, gc if gc32 is None else None, cg_m, cf, fmax, gsum, pad_value, const,
                    bool(torch.any(cg_m != 0)), gc32, chunks)


def plan_terms(ops: IntegerOperands, terms: Sequence[Term] | Sequence[tuple[np.ndarray, np.ndarray]],
               *, exact: bool) -> list[TermPlan]:
    """:func:`plan_term` of each term."""
    return [plan_term(ops, *((t.f, t.g) if isinstance(t, Term) else t), exact) for t in terms]


def term_sums(ops: IntegerOperands, terms: Sequence[Term] | Sequence[tuple[np.ndarray, np.ndarray]],
              *, exact: bool, plans: Sequence[TermPlan] | None = None) -> Accumulator:
    """``sum_t sum_k f_t(a_k) * g_t(w_k)`` over each receptive field, as an :class:`Accumulator`.

    Per term: ``conv(f(a) - f(pad), g(w) - g(z_w)) + g(z_w) * S + const`` where
    ``S`` is the window sum of ``f(a) - f(pad)``. With ``exact=True`` the ``f``,
    ``g`` must be integer-valued and every piece is an exact integer.

    One pass over the activation indices gives the first term's operand and
    every plane the window sums need, the layer's zero-point correction's
    included (left in ``ops.zero_point_sums``).
    """
    m, cg, r, s = ops.w_codes.shape
    if plans is None:
        plans = plan_terms(ops, terms, exact=exact)
    if not plans:
        n, _, h, w = ops.a_index.shape
        p, q = ops.geometry.output_size(h, w, r, s)
        return Accumulator(torch.zeros((n, m, p, q), dtype=torch.int64 if exact else torch.float64), exact)
    windowed = [pl for pl in plans if pl.windowed]
    tables = [pl.f - pl.cf for pl in windowed]
    zero_point = needs_zero_point_corrections(ops) and ops.zero_point_sums is None
    if zero_point:
        tables.append(zero_point_table(ops))
    first = plans[0]
    fused = first.fmax < _FP32_EXACT or not exact
    prepad = exact and fused and bool(first.pad_value) and any(ops.geometry.padding) and first.gc32 is not None
    fc0, planes = lookup_sums(ops.a_index, first.f if fused else None, first.cf, tables, ops.pad_index,
                              ops.geometry.groups, (r, s), ops.geometry, fc_pad=first.pad_value if prepad else None)
    if zero_point:
        ops.zero_point_sums = planes[-1]
    plane_of = {id(pl): planes[i] for i, pl in enumerate(windowed)}
    acc: Accumulator | None = None
    for i, pl in enumerate(plans):
        pre = prepad and i == 0
        if i == 0 and fused:
            fc = fc0
        elif pl.fmax < _FP32_EXACT or not exact:
            fc = table_lookup(ops.a_index, pl.f, pl.cf)  # float32, exact integers when fmax < 2^24
        else:
            fc = torch.from_numpy(pl.f)[ops.a_index.to(torch.int64)] - pl.cf
        if pl.gc32 is not None:  # float32 is exact (or an approximate term)
            main = _conv(fc.to(torch.float32), pl.gc32, ops, groups=pl.chunks if pl.chunks > 1 else None,
                         pad_value=pl.pad_value if exact else 0.0, prepadded=pre)
            if pl.chunks > 1:
                n, _, p, q = main.shape
                main = main.reshape(n, pl.chunks, m, p, q).sum(dim=1, dtype=torch.float64)
        else:
            main = _exact_conv(fc, pl.gc, ops, pl.fmax, pl.gsum, pl.pad_value)
        part = Accumulator(main, exact)
        if pl.windowed:
            part.add_sum(pl.cg_m, plane_of[id(pl)])
        part.add_const(pl.const)
        acc = part if acc is None else acc.merge(part)
    return acc


def _exact_conv(fc: torch.Tensor, gc: torch.Tensor, ops: IntegerOperands, fmax: float, gsum: float,
                pad_value: float = 0.0) -> torch.Tensor:
    """Exact ``conv(fc, gc)`` of integer-valued tensors: float32 where provably exact, else float64.

    ``fmax`` bounds |fc| (padding included), ``gsum`` the largest per-channel sum of |gc|.
    """
    if fmax * gsum < _FP32_EXACT:
        return _conv(fc.to(torch.float32), gc.to(torch.float32), ops, pad_value=pad_value)
    chunked = _chunked_exact_conv(fc, gc, ops, fmax, pad_value)
    if chunked is not None:
        return chunked
    fc64 = fc.to(torch.float64)
    if any(ops.geometry.padding) and pad_value:
        ph, pw = ops.geometry.padding
        fc64 = F.pad(fc64, (pw, pw, ph, ph), value=float(pad_value))
        plain = IntegerOperands(ops.a_codes if ops._a_codes is not None else None, ops.w_codes, ops.a_zero,
                                ops.w_zero, ops.fmt, replace(ops.geometry, padding=(0, 0)), ops.multiplier,
                                ops.backend, a_index=ops._a_index)
        return _exact_conv(fc64, gc, plain, fmax, gsum)
    hi = torch.floor(fc64 / _SPLIT)
    if max(fmax / _SPLIT + 1, _SPLIT - 1) * gsum < _FP32_EXACT:
        lo = fc64 - hi * _SPLIT  # 0 .. _SPLIT-1
        g32 = gc.to(torch.float32)
        n = fc.shape[0]
        both = _conv(torch.cat([hi, lo]).to(torch.float32), g32, ops).to(torch.float64)
        return both[:n] * _SPLIT + both[n:]
    if fmax * gsum >= _FP64_EXACT:
        raise ApproxDSEError(
            "this layer's sums are too large for an exact decomposition in float64; use mode='lut'")
    return _conv(fc64, gc.to(torch.float64), ops)


def _exact_chunks(gc: torch.Tensor, ops: IntegerOperands, fmax: float) -> int | None:
    """The fewest J equal chunks of the input channels whose float32 convs are exact, or None.

    The chunks run as ONE grouped conv (same multiply count as the plain conv;
    outputs J times larger), summed in float64. None when the layer is grouped
    already or no J <= _MAX_CHUNKS is small enough.
    """
    if ops.geometry.groups != 1:
        return None
    m, c, r, s = gc.shape
    mag = gc.abs().reshape(m, c, r * s).sum(dim=2)  # [M, C]
    for j in range(2, min(c, _MAX_CHUNKS) + 1):
        if c % j == 0 and fmax * float(mag.reshape(m, j, c // j).sum(dim=2).max()) < _FP32_EXACT:
            return j
    return None


def _chunked_exact_conv(fc: torch.Tensor, gc: torch.Tensor, ops: IntegerOperands, fmax: float,
                        pad_value: float = 0.0) -> torch.Tensor | None:
    """:func:`_exact_chunks`' grouped conv, summed in float64; None when there is no such J."""
    j = _exact_chunks(gc, ops, fmax)
    if j is None:
        return None
    m, c, r, s = gc.shape
    w = gc.reshape(m, j, c // j, r, s).transpose(0, 1).reshape(j * m, c // j, r, s)
    out = _conv(fc.to(torch.float32), w.to(torch.float32), ops, groups=j, pad_value=pad_value)
    n, _, p, q = out.shape
    return out.reshape(n, j, m, p, q).sum(dim=1, dtype=torch.float64)


# --------------------------------------------------------------------- modes
class ExactDecompositionMode(Mode):
    """Exact: the LUT as a few integer rank-1 terms (see :mod:`approxdse.emulator.decomposition`)."""

    name = "exact-decomposition"
    exact = True

    def prepare(self, multiplier, config):
        return decompose(multiplier)  # raises a clear error when there is no structure

    def weight_plan(self, ops, state: Decomposition):
        return plan_terms(ops, state.terms, exact=True)

    def partial_sum(self, ops, state: Decomposition, generator=None, plan=None):
        acc = term_sums(ops, state.terms, exact=True, plans=plan)
        if state.denominator != 1:
            acc = Accumulator(acc.dense() // state.denominator, exact=True)
        return acc

    def report(self, state):
        return {"mode": self.name, "exact": True, "terms": state.rank, "structure": state.structure}


@dataclass(frozen=True)
class LowRankState:
    exact_term: Term
    factors: tuple[tuple[np.ndarray, np.ndarray], ...]
    rank: int
    relative_error: float  # ||E - E_r||_F / ||E||_F (0 when E = 0)
    mean_abs_error: float  # mean |E - E_r| over all 65,536 products
    max_abs_error: float


class LowRankMode(Mode):
    """Approximate: exact product + the rank-r SVD of the error matrix (rank from ``config.rank``)."""

    name = "low-rank"
    exact = False

    def prepare(self, multiplier, config):
        vals = operand_values(multiplier.signed).astype(np.int64)
        err = multiplier.error_matrix.astype(np.float64)
        r = int(config.rank)
        if not np.any(err):
            return LowRankState(Term(vals, vals), (), 0, 0.0, 0.0, 0.0)
        u, sv, vt = np.linalg.svd(err)
        r = min(r, int(np.sum(sv > sv[0] * 1e-12)))
        factors = tuple((u[:, t] * sv[t], vt[t]) for t in range(r))
        approx = (u[:, :r] * sv[:r]) @ vt[:r]
        resid = err - approx
        return LowRankState(
            Term(vals, vals), factors, r,
            float(np.linalg.norm(resid) / np.linalg.norm(err)),
            float(np.abs(resid).mean()), float(np.abs(resid).max()),
        )

    def partial_sum(self, ops, state: LowRankState, generator=None, plan=None):
        acc = term_sums(ops, [state.exact_term], exact=True)
        if state.factors:
            acc = acc.merge(term_sums(ops, state.factors, exact=False))
        acc.exact = False
        return acc

    def report(self, state):
        return {"mode": self.name, "exact": False, "rank": state.rank, "relative_error": state.relative_error,
                "mean_abs_error": state.mean_abs_error, "max_abs_error": state.max_abs_error}


@dataclass(frozen=True)
class NoiseState:
    exact_term: Term
    error: np.ndarray  # float64 [256, 256] error matrix
    operand_dependent: bool
    mean: float  # mean error per product over all operand pairs
    std: float


class NoiseMode(Mode):
    """Approximate: exact product + Gaussian noise with the multiplier's error mean and variance.

    The mean and variance of ``E[a, w]`` are taken over the layer's weight codes
    (its histogram, at each call), per activation code when
    ``config.noise_operand_dependent`` (else over all activation codes too).
    Each output gets ``sum_k mean(a_k)`` plus a normal sample with variance
    ``sum_k var(a_k)`` (errors of different products taken as independent).
    """

    name = "noise"
    exact = False

    def prepare(self, multiplier, config):
        vals = operand_values(multiplier.signed).astype(np.int64)
        err = multiplier.error_matrix.astype(np.float64)
        return NoiseState(Term(vals, vals), err, bool(config.noise_operand_dependent),
                          float(err.mean()), float(err.std()))

    def partial_sum(self, ops, state: NoiseState, generator=None, plan=None):
        acc = term_sums(ops, [state.exact_term], exact=True)
        acc.exact = False
        if not np.any(state.error):
            return acc
        w_idx = (ops.w_codes + ops.fmt.index_offset).reshape(-1)
        hist = torch.bincount(w_idx, minlength=256).to(torch.float64)
        hist = hist / hist.sum()
        err = torch.as_tensor(state.error)
        mean_a = err @ hist  # [256]: mean error per activation index
        var_a = (err ** 2) @ hist - mean_a ** 2
        if not state.operand_dependent:
            mean_a = torch.full_like(mean_a, float(mean_a.mean()))
            var_a = torch.full_like(var_a, float(((err ** 2) @ hist).mean() - mean_a[0] ** 2))
        var_a = torch.clamp(var_a, min=0.0)
        m, _, r, s = ops.w_codes.shape
        k = ops.reduction
        a_idx = ops.a_codes + ops.fmt.index_offset
        pad = ops.pad_index
        mu = window_sum((mean_a[a_idx] - mean_a[pad]).to(torch.float32), ops.geometry, r, s, m).to(torch.float64)
        var = window_sum((var_a[a_idx] - var_a[pad]).to(torch.float32), ops.geometry, r, s, m).to(torch.float64)
        mu = mu + k * mean_a[pad]
        var = torch.clamp(var + k * var_a[pad], min=0.0)
        noise = torch.randn(var.shape, generator=generator, dtype=torch.float64)
        return Accumulator(acc.dense() + mu + noise * torch.sqrt(var), exact=False)

    def report(self, state):
        return {"mode": self.name, "exact": False, "error_mean": state.mean, "error_std": state.std,
                "operand_dependent": state.operand_dependent}
