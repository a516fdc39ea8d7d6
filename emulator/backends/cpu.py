"""The fast CPU backend: numba im2col of uint8 indices + a LUT GEMM kernel.

The GEMM is the AVX-512 VBMI kernel of :mod:`.native_kernel` where the CPU and
a C compiler allow it, else the numba kernel of :mod:`.cpu_kernels`. Both are
bit-exact with the reference backend.
"""
from __future__ import annotations

import numpy as np
import torch

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.backends.base import Backend, ConvGeometry
from approxdse.emulator.backends import native_kernel
from approxdse.emulator.backends.cpu_kernels import im2col_u8, lut_gemm_batched, lut_gemm_serial

#: Below this many lookups a layer runs the serial numba kernel (no thread start-up).
SMALL_WORK = 1 << 18
KERNELS = ("auto", "native", "numba")


class CPUBackend(Backend):
    """LUT GEMM on the CPU; ``kernel`` is ``"auto"`` (native if it builds, else numba), ``"native"`` or ``"numba"``."""

    name = "cpu"

    def __init__(self, kernel: str = "auto") -> None:
        if kernel not in KERNELS:
            raise ApproxDSEError(f"unknown CPU kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
        self._lib = None
        if kernel in ("auto", "native"):
            self._lib = native_kernel.load()
            if self._lib is None and kernel == "native":
                raise ApproxDSEError(
                    "the native CPU kernel needs an x86 CPU with AVX-512 VBMI and a C compiler (cc)")
        #: Which GEMM kernel runs: ``"avx512-vbmi"`` or ``"numba"``.
        self.kernel = "avx512-vbmi" if self._lib is not None else "numba"

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
        x = np.ascontiguousarray(a_index.cpu().numpy(), dtype=np.uint8)
        wq = w_index.cpu().numpy()
        n, c, h, w = x.shape
        m, cg, r, s = wq.shape
        g = geometry.groups
        p, q = geometry.output_size(h, w, r, s)
        mg = m // g
        (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
        native = self._lib is not None
        lp = -(-(p * q) // 64) * 64 if native else p * q
        out = np.empty((n, m, p * q), dtype=np.int32)
        for gi in range(g):
            cols = im2col_u8(x, r, s, sh, sw, ph, pw, dh, dw, p, q, np.uint8(pad_index), gi * cg, (gi + 1) * cg, lp)
            wt = np.ascontiguousarray(wq[gi * mg:(gi + 1) * mg].reshape(mg, cg * r * s), dtype=np.uint8)
            self._gemm(cols, wt, lut, out, gi * mg)
        return torch.from_numpy(out.reshape(n, m, p, q))

    def lut_linear(self, a_index, w_index, lut):
        a = a_index.cpu().numpy()
        native = self._lib is not None
        lp = -(-a.shape[0] // 64) * 64 if native else a.shape[0]
        cols = np.zeros((1, a.shape[1], lp), dtype=np.uint8)
        cols[0, :, :a.shape[0]] = a.T
        wt = np.ascontiguousarray(w_index.cpu().numpy(), dtype=np.uint8)
        out = np.empty((1, wt.shape[0], a.shape[0]), dtype=np.int32)
        self._gemm(cols, wt, lut, out, 0)
        return torch.from_numpy(np.ascontiguousarray(out[0].T))

    def _gemm(self, cols: np.ndarray, wt: np.ndarray, lut: np.ndarray, out: np.ndarray, m_offset: int) -> None:
        if self._lib is not None:
            planes, bias = _cached(lut, "planes", native_kernel.byte_planes)
            native_kernel.lut_gemm(self._lib, cols, out.shape[2], wt, planes, bias, out, m_offset)
            return

        lut_t = _cached(lut, "transposed", lambda t: np.ascontiguousarray(np.asarray(t, dtype=np.int32).T))
        work = cols.shape[0] * cols.shape[1] * out.shape[2] * wt.shape[0]
        (lut_gemm_serial if work < SMALL_WORK else lut_gemm_batched)(cols, wt, lut_t, out, m_offset)


_CACHE: dict[tuple[int, str], tuple[np.ndarray, object]] = {}


def _cached(lut: np.ndarray, what: str, build):
    """A derived form of a LUT, cached per LUT object (multipliers' LUTs are read-only)."""
    key = (id(lut), what)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is lut:
        return hit[1]
    value = build(lut)
    if len(_CACHE) > 128:
        _CACHE.clear()
    _CACHE[key] = (lut, value)
    return value
