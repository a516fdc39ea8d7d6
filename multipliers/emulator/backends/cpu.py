"""The fast CPU backend: numba im2col + LUT GEMM (see :mod:`.cpu_kernels`)."""
from __future__ import annotations

import numpy as np
import torch

from multipliers.emulator.backends.base import Backend, ConvGeometry


class CPUBackend(Backend):
    """numba parallel LUT GEMM over uint8 im2col columns; bit-exact with the reference."""

    name = "cpu"

    @classmethod
    def is_available(cls) -> bool:
        try:
            import numba  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def unavailable_reason(cls) -> str:
        return "" if cls.is_available() else "the cpu backend needs numba (pip install numba)"

    def lut_conv2d(self, a_index, w_index, lut, geometry: ConvGeometry, pad_index):
        from multipliers.emulator.backends.cpu_kernels import im2col_u8, lut_gemm_batched

        x = np.ascontiguousarray(a_index.cpu().numpy(), dtype=np.uint8)
        wq = w_index.cpu().numpy()
        n, c, h, w = x.shape
        m, cg, r, s = wq.shape
        g = geometry.groups
        p, q = geometry.output_size(h, w, r, s)
        lut_t = _transposed(lut)
        out = np.empty((n, m, p * q), dtype=np.int32)
        mg = m // g
        (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
        for gi in range(g):
            cols = im2col_u8(x, r, s, sh, sw, ph, pw, dh, dw, p, q, np.uint8(pad_index), gi * cg, (gi + 1) * cg)
            wt = np.ascontiguousarray(wq[gi * mg:(gi + 1) * mg].reshape(mg, cg * r * s), dtype=np.uint8)
            lut_gemm_batched(cols, wt, lut_t, out, gi * mg)
        return torch.from_numpy(out.reshape(n, m, p, q))

    def lut_linear(self, a_index, w_index, lut):
        from multipliers.emulator.backends.cpu_kernels import lut_gemm_batched

        a = np.ascontiguousarray(a_index.cpu().numpy().T, dtype=np.uint8)[None]  # [1, K, N]
        wt = np.ascontiguousarray(w_index.cpu().numpy(), dtype=np.uint8)
        out = np.empty((1, wt.shape[0], a.shape[2]), dtype=np.int32)
        lut_gemm_batched(a, wt, _transposed(lut), out, 0)
        return torch.from_numpy(np.ascontiguousarray(out[0].T))


_LUT_T_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _transposed(lut: np.ndarray) -> np.ndarray:
    """The transposed int32 LUT, cached per LUT object (LUTs are read-only)."""
    hit = _LUT_T_CACHE.get(id(lut))
    if hit is not None and hit[0] is lut:
        return hit[1]
    lut_t = np.ascontiguousarray(np.asarray(lut, dtype=np.int32).T)
    if len(_LUT_T_CACHE) > 64:
        _LUT_T_CACHE.clear()
    _LUT_T_CACHE[id(lut)] = (lut, lut_t)
    return lut_t
