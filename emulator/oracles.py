"""Independent oracles for checking the emulator (used by the tests, handy for users).

* :func:`integer_conv` -- plain integer convolution of centred codes, via unfold
  and an int64 matmul (never cuDNN/oneDNN, whose algorithms are not exact on integers);
* :func:`lut_conv_loops` -- the LUT sum written as explicit loops in numpy (tiny shapes);
* :func:`structured_test_multipliers` -- LUTs with known structure (masked
  operands, a broken array, a random low-rank error) and without (random), built
  here so the tests do not depend on the catalog.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from approxdse.emulator.backends.base import ConvGeometry
from approxdse.multipliers.multiplier import Multiplier, exact_lut, operand_values


def integer_conv(a_codes: torch.Tensor, w_codes: torch.Tensor, a_zero: int, w_zero: torch.Tensor,
                 geometry: ConvGeometry) -> torch.Tensor:
    """``sum_k (a_k - z_a)(w_k - z_w[m])`` as int64 [N, M, P, Q] (padding = real zero)."""
    n, c, h, w = a_codes.shape
    m, cg, r, s = w_codes.shape
    g = geometry.groups
    p, q = geometry.output_size(h, w, r, s)
    centred = (a_codes - a_zero).to(torch.float64)
    cols = F.unfold(centred, (r, s), dilation=geometry.dilation, padding=geometry.padding,
                    stride=geometry.stride).round().to(torch.int64)  # [N, C*R*S, L]
    wc = (w_codes - w_zero.view(-1, 1, 1, 1)).reshape(m, cg * r * s)
    kg, mg = cg * r * s, m // g
    out = torch.empty((n, m, p * q), dtype=torch.int64)
    for gi in range(g):
        out[:, gi * mg:(gi + 1) * mg] = torch.matmul(wc[gi * mg:(gi + 1) * mg], cols[:, gi * kg:(gi + 1) * kg])
    return out.reshape(n, m, p, q)


def lut_conv_loops(a_index: np.ndarray, w_index: np.ndarray, lut: np.ndarray, geometry: ConvGeometry,
                   pad_index: int) -> np.ndarray:
    """The LUT sum by explicit loops (int64 [N, M, P, Q]); only for tiny shapes."""
    n, c, h, w = a_index.shape
    m, cg, r, s = w_index.shape
    g = geometry.groups
    p, q = geometry.output_size(h, w, r, s)
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    out = np.zeros((n, m, p, q), dtype=np.int64)
    mg = m // g
    for b in range(n):
        for oc in range(m):
            gi = oc // mg
            for y in range(p):
                for x in range(q):
                    acc = 0
                    for ci in range(cg):
                        for i in range(r):
                            for j in range(s):
                                yy, xx = y * sh - ph + i * dh, x * sw - pw + j * dw
                                inside = 0 <= yy < h and 0 <= xx < w
                                a = a_index[b, gi * cg + ci, yy, xx] if inside else pad_index
                                acc += int(lut[a, w_index[oc, ci, i, j]])
                    out[b, oc, y, x] = acc
    return out


def bam_lut(h: int, v: int, signed: bool = False) -> np.ndarray:
    """A broken-array LUT built from its partial-product bits: cell (i, j) (bit i of the
    activation byte, bit j of the weight byte) is kept when ``j >= h`` and ``i + j >= v``.
    For signed LUTs the two's-complement weights of bit 7 are negative (Baugh-Wooley style)."""
    idx = np.arange(256)
    byte = idx ^ 0x80 if signed else idx
    bits = (byte[:, None] >> np.arange(8)) & 1
    weight = np.array([1 << k for k in range(7)] + [(-128 if signed else 128)])
    out = np.zeros((256, 256), dtype=np.int64)
    for i in range(8):
        for j in range(8):
            if j >= h and i + j >= v:
                out += np.multiply.outer(bits[:, i] * weight[i], bits[:, j] * weight[j])
    return out


def structured_test_multipliers(signed: bool = False, seed: int = 0) -> dict[str, Multiplier]:
    """Test multipliers: ``exact``, ``masked`` (low bits of both operands cleared), ``bam``,
    ``lowrank_err`` (exact + a random rank-2 integer error) and ``random`` (no structure)."""
    rng = np.random.default_rng(seed)
    vals = operand_values(signed)
    ex = exact_lut(signed).astype(np.int64)
    prefix = "s8" if signed else "u8"
    masked = np.multiply.outer(vals & ~3, vals & ~7)
    u = rng.integers(0, 4, size=(256, 2))  # non-negative, so unsigned products stay >= 0
    v = rng.integers(0, 41, size=(256, 2))
    lowrank = ex + u @ v.T
    noise = rng.integers(-300, 301, size=(256, 256))
    rand = ex + noise if signed else np.clip(ex + noise, 0, None)
    luts = {"exact": ex, "masked": masked, "bam": bam_lut(2, 6, signed), "lowrank_err": lowrank, "random": rand}
    return {k: Multiplier(f"test_{prefix}_{k}", signed=signed, lut=v_, family="test") for k, v_ in luts.items()}
