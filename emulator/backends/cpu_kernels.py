"""numba kernels of the CPU backend: im2col of uint8 indices and the LUT GEMM.

The GEMM is weight-stationary: for one weight index ``w`` the 256 products
``lut[:, w]`` form one contiguous column of the transposed LUT (1 KiB), and it
is gathered by a run of activation indices of the same reduction step. A task
owns a block of output channels x a tile of output positions, so its int32
accumulators (``_MB x _LT``) and the activation tile stay in L1 while the LUT
(256 KiB) stays in L2.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Output channels per task and output positions per tile.
_MB = 8
_LT = 256


def _im2col_u8(x, r, s, sh, sw, ph, pw, dh, dw, p, q, pad, c0, c1, lp):
    """uint8 [N, (c1-c0)*R*S, lp] columns of channels c0..c1 of ``x`` [N, C, H, W].

    Columns P*Q .. lp-1 (alignment padding for the native kernel) are zero.
    """
    n, _, h, w = x.shape
    cg = c1 - c0
    out = np.empty((n, cg * r * s, lp), dtype=np.uint8)
    for task in prange(n * cg):
        b = task // cg
        c = task % cg
        for i in range(r):
            for j in range(s):
                k = (c * r + i) * s + j
                for pp in range(p):
                    y = pp * sh - ph + i * dh
                    base = pp * q
                    if y < 0 or y >= h:
                        for qq in range(q):
                            out[b, k, base + qq] = pad
                        continue
                    for qq in range(q):
                        xx = qq * sw - pw + j * dw
                        if xx < 0 or xx >= w:
                            out[b, k, base + qq] = pad
                        else:
                            out[b, k, base + qq] = x[b, c0 + c, y, xx]
                for extra in range(p * q, lp):
                    out[b, k, extra] = 0
    return out


def _lut_gemm(a, wt, lut_t, out, m_offset):
    """``out[n, m_offset + m, l] = sum_k lut_t[wt[m, k], a[n, k, l]]`` for ``l < out.shape[2]``.

    a: uint8 [N, K, Lp >= L]; wt: uint8 [M, K]; lut_t: int32 [256, 256], the
    transposed LUT (row = weight index); out: int32 [N, M_total, L].
    """
    n, kk, _ = a.shape
    ll = out.shape[2]
    m = wt.shape[0]
    mblocks = (m + _MB - 1) // _MB
    ltiles = (ll + _LT - 1) // _LT
    for task in prange(n * mblocks * ltiles):
        b = task // (mblocks * ltiles)
        rest = task % (mblocks * ltiles)
        m0 = (rest // ltiles) * _MB
        l0 = (rest % ltiles) * _LT
        m1 = min(m0 + _MB, m)
        l1 = min(l0 + _LT, ll)
        lt = l1 - l0
        acc = np.zeros((_MB, _LT), dtype=np.int32)
        for k in range(kk):
            arow = a[b, k, l0:l1]
            for mi in range(m1 - m0):
                col = lut_t[wt[m0 + mi, k]]
                accr = acc[mi]
                for li in range(lt):
                    accr[li] += col[arow[li]]
        for mi in range(m1 - m0):
            for li in range(lt):
                out[b, m_offset + m0 + mi, l0 + li] = acc[mi, li]


#: Parallel and serial builds of the same LUT GEMM (the serial one avoids thread
#: start-up costs on small layers).
lut_gemm_batched = njit(cache=True, parallel=True)(_lut_gemm)
lut_gemm_serial = njit(cache=True)(_lut_gemm)

_im2col_parallel = njit(cache=True, parallel=True)(_im2col_u8)
_im2col_serial = njit(cache=True)(_im2col_u8)


def im2col_u8(x, r, s, sh, sw, ph, pw, dh, dw, p, q, pad, c0, c1, lp):
    """uint8 im2col (see :func:`_im2col_u8`); serial for small outputs."""
    small = x.shape[0] * (c1 - c0) * r * s * lp < (1 << 18)
    return (_im2col_serial if small else _im2col_parallel)(x, r, s, sh, sw, ph, pw, dh, dw, p, q, pad, c0, c1, lp)
