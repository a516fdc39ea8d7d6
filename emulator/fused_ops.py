"""Fused element-wise kernels (numba) around the convolutions of a layer.

A layer's cost outside its products is a few passes over its input and output
tensors; done one torch operation at a time they cost more than the
convolution itself on small layers. These kernels do each side in one pass:

* :func:`quantize_index` -- float input -> uint8 LUT index (bit-identical to
  :func:`approxdse.emulator.quantization.quantize`: float32 division,
  round-half-even, clamp);
* :func:`table_lookup` -- uint8 index -> float32 ``table[index] - centre``;
* :func:`lookup_sums` -- the same (optionally into a padded buffer), plus the
  window sums of other tables of the index (the zero-point corrections), all
  in one more pass;
* :meth:`Accumulator.finish` -- the integer accumulator
  ``main + sum_j coef_j[m] * S_j + const[m]`` with ``S_j`` the window sums of
  the planes (wrapped to int32 for exact modes), times ``step[m]``, as float32.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
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


def _epilogue_py(main, coefs, planes, win, mg, const, step, wrap, out):
    n, m, pq = main.shape
    nplanes, _, groups, _, _ = planes.shape
    r, s, sh, sw, dh, dw, q = win[0], win[1], win[2], win[3], win[4], win[5], win[6]
    p = pq // q
    for task in prange(n * groups):
        b = task // groups
        g = task % groups
        sums = np.zeros((nplanes, pq), dtype=np.float64)
        for j in range(nplanes):  # the window sums of plane j (pre-padded)
            for y in range(p):
                dst = sums[j, y * q:(y + 1) * q]
                for i in range(r):
                    src = planes[j, b, g, y * sh + i * dh]
                    for k in range(s):
                        off = k * dw
                        for x in range(q):
                            dst[x] += src[x * sw + off]
        row = np.empty(pq, dtype=np.float64)
        for oc in range(g * mg, (g + 1) * mg):
            c = const[oc]
            mrow = main[b, oc]
            for l in range(pq):
                row[l] = np.float64(mrow[l]) + c
            for j in range(nplanes):
                cj = coefs[j, oc]
                srow = sums[j]
                for l in range(pq):
                    row[l] += cj * srow[l]
            st = step[oc]
            orow = out[b, oc]
            if wrap:  # int32 accumulator: keep the low 32 bits (two's complement)
                for l in range(pq):
                    orow[l] = np.float32(np.float64(np.int32(np.int64(row[l]))) * st)
            else:
                for l in range(pq):
                    orow[l] = np.float32(row[l] * st)


def _lookup_sums_py(idx, ptabs, groups, win, ph, pw, sums):
    n, c, h, w = idx.shape
    hw = h * w
    nplanes = ptabs.shape[0]
    _, _, _, p, q = sums.shape
    r, s, sh, sw, dh, dw = win[0], win[1], win[2], win[3], win[4], win[5]
    hp, wp = h + 2 * ph, w + 2 * pw
    cg = c // groups
    flat = idx.reshape(n, c, hw)
    for task in prange(n * groups):
        b = task // groups
        g = task % groups
        acc = np.zeros((nplanes, hw), dtype=ptabs.dtype)
        for ci in range(g * cg, (g + 1) * cg):
            irow = flat[b, ci]
            for j in range(nplanes):
                tab = ptabs[j]
                a = acc[j]
                for l in range(hw):
                    a[l] += tab[irow[l]]
        # window sums: the padded plane, summed along rows (s taps), then columns (r taps)
        padded = np.empty((hp, wp), dtype=ptabs.dtype)
        hsum = np.empty((hp, q), dtype=ptabs.dtype)
        for j in range(nplanes):
            padded[:, :] = cg * ptabs[j, 256]
            for y in range(h):
                padded[y + ph, pw:pw + w] = acc[j, y * w:(y + 1) * w]
            hsum[:, :] = 0
            for y in range(hp):
                src = padded[y]
                dst = hsum[y]
                for k in range(s):
                    off = k * dw
                    for x in range(q):
                        dst[x] += src[x * sw + off]
            out = sums[j, b, g]
            out[:, :] = 0
            for y in range(p):
                dst = out[y]
                for i in range(r):
                    src = hsum[y * sh + i * dh]
                    for x in range(q):
                        dst[x] += src[x]


def lookup_sums(index: torch.Tensor, table: np.ndarray | None, centre: float, plane_tables: list[np.ndarray],
                pad_index: int, groups: int, kernel: tuple[int, int], geometry, fc_pad: float | None = None
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """From uint8 indices [N, C, H, W]: float32 ``table[index] - centre`` and window sums of other tables.

    Returns ``(fc, sums)``: ``fc`` (None without ``table``) is [N, C, H, W], or
    [N, C, H + 2ph, W + 2pw] padded with ``fc_pad`` when that is given; ``sums``
    is float64 [J, N, G, P, Q]: per group, the sum of ``plane_tables[j][index]``
    over each receptive field of a ``kernel``-sized conv with ``geometry``
    (stride, padding, dilation), padding positions counting as
    ``plane_tables[j][pad_index]``: one pass for all of them (integer tables are
    summed exactly in int64, two per word; others in float64) and one for ``fc``.
    """
    n, c, h, w = index.shape
    r, s = kernel
    ph, pw = geometry.padding
    p, q = geometry.output_size(h, w, r, s)
    win = np.array([r, s, *geometry.stride, *geometry.dilation], dtype=np.int64)
    count = (c // groups) * r * s  # terms in one window sum
    tables = [np.asarray(t, dtype=np.float64) for t in plane_tables]
    packed = None
    if tables and len(tables) <= 2 and all(np.array_equal(t, np.round(t)) for t in tables):
        offs = [-float(t.min()) for t in tables]
        if all(count * (float(t.max()) + o) < 2.0 ** 31 for t, o in zip(tables, offs)):
            packed = np.zeros((1, 257), dtype=np.int64)
            for j, (t, o) in enumerate(zip(tables, offs)):
                packed[0, :256] += (t + o).astype(np.int64) << (32 * j)
            packed[0, 256] = packed[0, pad_index]
    if packed is not None:
        ptabs = packed
    else:
        ptabs = np.zeros((len(tables), 257), dtype=np.float64)
        for j, t in enumerate(tables):
            ptabs[j, :256] = t
            ptabs[j, 256] = t[pad_index]
    raw = np.empty((ptabs.shape[0], n, groups, p, q), dtype=ptabs.dtype)
    idx = np.ascontiguousarray(index.numpy())
    if tables:
        _pick(_lookup_sums_k, index.numel())(idx, ptabs, groups, win, ph, pw, raw)
    fc = None
    if table is not None and fc_pad is not None and (ph or pw):
        tab = np.asarray(table, dtype=np.float32) - np.float32(centre)
        out = np.empty((n, c, h + 2 * ph, w + 2 * pw), dtype=np.float32)
        _pick(_table_lookup_padded_k, index.numel())(idx, tab, np.float32(fc_pad), ph, pw, out)
        fc = torch.from_numpy(out)
    elif table is not None:
        fc = table_lookup(index, table, centre)
    if packed is not None:
        word = torch.from_numpy(raw[0])
        fields = [(word & 0xFFFFFFFF) - int(count * offs[0])]
        if len(tables) == 2:
            fields.append((word >> 32) - int(count * offs[1]))
        sums = torch.stack(fields).to(torch.float64)
    else:
        sums = torch.from_numpy(raw)
    return fc, sums


def _table_lookup_padded_py(idx, table, pad_value, ph, pw, out):
    n, c, h, w = idx.shape
    for task in prange(n * c):
        b = task // c
        ci = task % c
        out[b, ci, :, :] = pad_value
        for y in range(h):
            irow = idx[b, ci, y]
            orow = out[b, ci, y + ph, pw:pw + w]
            for x in range(w):
                orow[x] = table[irow[x]]


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
    _pick(_group_sums_k, index.numel())(np.ascontiguousarray(index.numpy()).reshape(n, c, h * w),
                                        np.asarray(table, dtype=np_dtype), np_dtype(centre), groups, out)
    return torch.from_numpy(out.reshape(n, groups, h, w))


def _both(fn):
    """(parallel, serial) numba builds of one kernel: small tensors skip the thread start-up."""
    return njit(cache=True, parallel=True)(fn), njit(cache=True)(fn)


#: Below this many elements a kernel runs serially.
SMALL = 1 << 16

_quantize_index_k = _both(_quantize_index_py)
_table_lookup_k = _both(_table_lookup_py)
_epilogue_k = _both(_epilogue_py)
_lookup_sums_k = _both(_lookup_sums_py)
_table_lookup_padded_k = _both(_table_lookup_padded_py)
_group_sums_k = _both(_group_sums_py)


def _pick(kernels, size: int):
    return kernels[1] if size < SMALL else kernels[0]


#: The window of an already window-summed plane: 1x1, stride 1, no dilation.
POINT_WINDOW = (1, 1, 1, 1, 1, 1)


def window_of(r: int, s: int, stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, ...]:
    """``(r, s, stride_h, stride_w, dilation_h, dilation_w)``: how a pre-padded plane is window-summed."""
    return (int(r), int(s), int(stride[0]), int(stride[1]), int(dilation[0]), int(dilation[1]))


def plane_window_sum(plane: torch.Tensor, window: tuple[int, ...]) -> torch.Tensor:
    """float64 [N, G, P, Q]: the window sums of a pre-padded plane [N, G, Hp, Wp]."""
    r, s, sh, sw, dh, dw = window
    plane = plane.to(torch.float64)
    if window == POINT_WINDOW:
        return plane
    g = plane.shape[1]
    ones = torch.ones((g, 1, r, s), dtype=torch.float64)
    return F.conv2d(plane, ones, stride=(sh, sw), dilation=(dh, dw), groups=g)


@dataclass
class Accumulator:
    """``main + sum_j coefs[j][m] * W(planes[j])[n, group(m), p, q] + const[m]``: a layer's accumulators, unmaterialised.

    ``main`` is [N, M, P, Q] (integer-valued for exact modes); each ``planes[j]``
    is [N, G, Hp, Wp] (pre-padded) and ``W`` its window sums over ``window``
    (:func:`window_of`; :data:`POINT_WINDOW` for sums given ready-made);
    ``coefs[j]`` and ``const`` are float64 [M]. The window sums are taken in the
    final pass (:meth:`finish`), in float64.
    """

    main: torch.Tensor
    exact: bool
    coefs: list[torch.Tensor] = field(default_factory=list)
    planes: list[torch.Tensor] = field(default_factory=list)
    const: torch.Tensor | None = None
    window: tuple[int, ...] = POINT_WINDOW

    def add_sum(self, coef: torch.Tensor, s: torch.Tensor) -> None:
        """Add ``coef[m] * s[n, group(m), p, q]`` (``s`` already window-summed)."""
        self.add_plane(coef, s, POINT_WINDOW)

    def add_plane(self, coef: torch.Tensor, plane: torch.Tensor, window: tuple[int, ...]) -> None:
        """Add ``coef[m]`` times the window sums of a pre-padded plane [N, G, Hp, Wp]."""
        if self.planes and window != self.window:
            self._collapse()
            plane, window = plane_window_sum(plane, window), POINT_WINDOW
        self.window = window
        self.coefs.append(coef.to(torch.float64).reshape(-1))
        self.planes.append(plane)

    def _collapse(self) -> None:
        self.planes = [plane_window_sum(p, self.window) for p in self.planes]
        self.window = POINT_WINDOW

    @property
    def sums(self) -> list[torch.Tensor]:
        """The window-summed planes, float64 [N, G, P, Q] each."""
        return [plane_window_sum(p, self.window) for p in self.planes]

    def add_const(self, c: torch.Tensor) -> None:
        c = c.to(torch.float64).reshape(-1)
        self.const = c if self.const is None else self.const + c

    def merge(self, other: "Accumulator") -> "Accumulator":
        """The sum of two accumulators of the same shape."""
        main = self.main.to(torch.float64) + other.main.to(torch.float64) \
            if (self.main.dtype.is_floating_point or other.main.dtype.is_floating_point) \
            else self.main.to(torch.int64) + other.main.to(torch.int64)
        out = Accumulator(main, self.exact and other.exact, list(self.coefs), list(self.planes), self.const,
                          self.window)
        for coef, plane in zip(other.coefs, other.planes):
            out.add_plane(coef, plane, other.window)
        if other.const is not None:
            out.add_const(other.const)
        return out

    def dense(self) -> torch.Tensor:
        """The accumulators as one tensor: int64 for exact modes, float64 otherwise."""
        n, m = self.main.shape[:2]
        total = self.main.to(torch.float64)
        for coef, s in zip(self.coefs, self.sums):
            g = s.shape[1]
            total = total + coef.view(1, m, 1, 1) * s.repeat_interleave(m // g, dim=1)
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
        if self.planes and (len({tuple(pl.shape) for pl in self.planes}) > 1
                            or self.planes[0].shape[0] != n or m % self.planes[0].shape[1]):
            self._collapse()
        if self.planes:
            groups = max(pl.shape[1] for pl in self.planes)
            planes = torch.stack([pl.to(torch.float64) for pl in self.planes]).numpy()
            coefs = torch.stack(self.coefs).numpy()
        else:
            groups = 1
            planes = np.zeros((0, n, 1, p, q), dtype=np.float64)
            coefs = np.zeros((0, m), dtype=np.float64)
        win = np.array(list(self.window) + [q], dtype=np.int64)
        out = np.empty((n, m, p * q), dtype=np.float32)
        _pick(_epilogue_k, out.size)(np.ascontiguousarray(main.reshape(n, m, p * q).numpy()),
                                     np.ascontiguousarray(coefs), np.ascontiguousarray(planes), win, m // groups,
                                     const.numpy(), step.to(torch.float64).numpy(), self.exact, out)
        return torch.from_numpy(out.reshape(n, m, p, q))
