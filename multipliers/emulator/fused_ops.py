"""Fused element-wise kernels (numba) around the convolutions of a layer.

A layer's cost outside its products is a few passes over its input and output
tensors; done one torch operation at a time they cost more than the
convolution itself on small layers. These kernels do each side in one pass:

* :func:`quantize_index` -- float input -> uint8 LUT index (bit-identical to
  :func:`multipliers.emulator.quantization.quantize`: float32 division,
  round-half-even, clamp);
* :func:`table_lookup` -- uint8 index -> float32 ``table[index] - centre``;
* :func:`epilogue` -- the integer accumulator ``main + sum_j coef_j[m] * S_j + const[m]``
  (wrapped to int32 for exact modes), times ``step[m]``, as float32.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from numba import njit, prange


def _quantize_index_py(x, scale, zero, qmin, qmax, offset, out):
    n = x.size
    for i in prange(n):
        q = np.rint(x[i] / scale) + zero
        if q < qmin:
            q = qmin
        elif q > qmax:
            q = qmax
        out[i] = np.uint8(np.int32(q) + offset)


def quantize_index(x: torch.Tensor, scale: float, zero: int, qmin: int, qmax: int, offset: int) -> torch.Tensor:
    """uint8 LUT indices of ``clamp(round(x / scale) + zero, qmin, qmax) + offset`` (x float32, CPU)."""
    xf = np.ascontiguousarray(x.detach().to(torch.float32).cpu().numpy()).reshape(-1)
    out = np.empty(xf.size, dtype=np.uint8)
    _pick(_quantize_index_k, xf.size)(xf, np.float32(scale), np.float32(zero), np.float32(qmin), np.float32(qmax),
                    np.int32(offset), out)
    return torch.from_numpy(out.reshape(tuple(x.shape)))


def _table_lookup_py(idx, table, centre, out):
    for i in prange(idx.size):
        out[i] = table[idx[i]] - centre


def table_lookup(index: torch.Tensor, table: np.ndarray, centre: float) -> torch.Tensor:
    """float32 ``table[index] - centre`` for a uint8 index tensor (table of 256 floats)."""
    idx = np.ascontiguousarray(index.numpy()).reshape(-1)
    out = np.empty(idx.size, dtype=np.float32)
    _pick(_table_lookup_k, idx.size)(idx, np.ascontiguousarray(table, dtype=np.float32), np.float32(centre), out)
    return torch.from_numpy(out.reshape(tuple(index.shape)))


def _epilogue_py(main, coefs, sums, group_of, const, step, wrap, out):
    n, m, pq = main.shape
    nsum = coefs.shape[0]
    for task in prange(n * m):
        b = task // m
        oc = task % m
        g = group_of[oc]
        row = np.empty(pq, dtype=np.float64)
        c = const[oc]
        for l in range(pq):
            row[l] = np.float64(main[b, oc, l]) + c
        for j in range(nsum):
            cj = coefs[j, oc]
            for l in range(pq):
                row[l] += cj * np.float64(sums[j, b, g, l])
        if wrap:  # int32 accumulator: keep the low 32 bits (two's complement)
            for l in range(pq):
                row[l] = np.float64(np.int32(np.int64(row[l])))
        st = step[oc]
        for l in range(pq):
            out[b, oc, l] = np.float32(row[l] * st)


def _group_sums_py(idx, table, centre, groups, out):
    n, c, hw = idx.shape
    cg = c // groups
    for task in prange(n * groups):
        b = task // groups
        g = task % groups
        for l in range(hw):
            out[b, g, l] = 0
        for ci in range(g * cg, (g + 1) * cg):
            for l in range(hw):
                out[b, g, l] += table[idx[b, ci, l]] - centre


def group_sums(index: torch.Tensor, table: np.ndarray, centre: float, groups: int, dtype=torch.float32) -> torch.Tensor:
    """[N, G, H, W]: per group, the sum over its channels of ``table[index] - centre``."""
    n, c, h, w = index.shape
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    out = np.empty((n, groups, h * w), dtype=np_dtype)
    _pick(_group_sums_k, index.numel())(np.ascontiguousarray(index.numpy()).reshape(n, c, h * w), np.asarray(table, dtype=np_dtype),
                np_dtype(centre), groups, out)
    return torch.from_numpy(out.reshape(n, groups, h, w))


def _both(fn):
    """(parallel, serial) numba builds of one kernel: small tensors skip the thread start-up."""
    return njit(cache=True, parallel=True)(fn), njit(cache=True)(fn)


#: Below this many elements a kernel runs serially.
SMALL = 1 << 16

_quantize_index_k = _both(_quantize_index_py)
_table_lookup_k = _both(_table_lookup_py)
_epilogue_k = _both(_epilogue_py)
_group_sums_k = _both(_group_sums_py)


def _pick(kernels, size: int):
    return kernels[1] if size < SMALL else kernels[0]


@dataclass
class Accumulator:
    """``main + sum_j coefs[j][m] * sums[j][n, group(m), p, q] + const[m]``: a layer's accumulators, unmaterialised.

    ``main`` is [N, M, P, Q] (integer-valued for exact modes), each ``sums[j]``
    is [N, G, P, Q], ``coefs[j]`` and ``const`` are float64 [M].
    """

    main: torch.Tensor
    exact: bool
    coefs: list[torch.Tensor] = field(default_factory=list)
    sums: list[torch.Tensor] = field(default_factory=list)
    const: torch.Tensor | None = None

    def add_sum(self, coef: torch.Tensor, s: torch.Tensor) -> None:
        self.coefs.append(coef.to(torch.float64).reshape(-1))
        self.sums.append(s)

    def add_const(self, c: torch.Tensor) -> None:
        c = c.to(torch.float64).reshape(-1)
        self.const = c if self.const is None else self.const + c

    def merge(self, other: "Accumulator") -> "Accumulator":
        """The sum of two accumulators of the same shape."""
        main = self.main.to(torch.float64) + other.main.to(torch.float64) \
            if (self.main.dtype.is_floating_point or other.main.dtype.is_floating_point) \
            else self.main.to(torch.int64) + other.main.to(torch.int64)
        out = Accumulator(main, self.exact and other.exact, self.coefs + other.coefs, self.sums + other.sums,
                          self.const)
        if other.const is not None:
            out.add_const(other.const)
        return out

    def dense(self) -> torch.Tensor:
        """The accumulators as one tensor: int64 for exact modes, float64 otherwise."""
        n, m = self.main.shape[:2]
        total = self.main.to(torch.float64)
        for coef, s in zip(self.coefs, self.sums):
            g = s.shape[1]
            total = total + coef.view(1, m, 1, 1) * s.to(torch.float64).repeat_interleave(m // g, dim=1)
        if self.const is not None:
            total = total + self.const.view(1, m, 1, 1)
        return torch.round(total).to(torch.int64) if self.exact else total

    def finish(self, step: torch.Tensor, extra_const: torch.Tensor | None = None) -> torch.Tensor:
        """float32 ``(accumulator + extra_const[m]) * step[m]``, int32-wrapped first for exact modes."""
        n, m, p, q = self.main.shape
        main = self.main
        if main.dtype not in (torch.float32, torch.float64, torch.int32, torch.int64):
            main = main.to(torch.int64)
        const = torch.zeros(m, dtype=torch.float64) if self.const is None else self.const.clone()
        if extra_const is not None:
            const += extra_const.to(torch.float64)
        if self.sums:
            g = max(s.shape[1] for s in self.sums)
            dtype = torch.float64 if any(s.dtype == torch.float64 for s in self.sums) else torch.float32
            sums = torch.stack([s.to(dtype) if s.shape[1] == g else s.to(dtype).expand(-1, g, -1, -1)
                                for s in self.sums])
            sums = sums.reshape(len(self.sums), n, g, p * q).numpy()
            coefs = torch.stack(self.coefs).numpy()
        else:
            g = 1
            sums = np.zeros((0, n, 1, p * q), dtype=np.float32)
            coefs = np.zeros((0, m), dtype=np.float64)
        group_of = (np.arange(m) // (m // g)).astype(np.int64)
        out = np.empty((n, m, p * q), dtype=np.float32)
        _pick(_epilogue_k, out.size)(np.ascontiguousarray(main.reshape(n, m, p * q).numpy()), np.ascontiguousarray(coefs),
                  np.ascontiguousarray(sums), group_of, const.numpy(), step.to(torch.float64).numpy(),
                  self.exact, out)
        return torch.from_numpy(out.reshape(n, m, p, q))
