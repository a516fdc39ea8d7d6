"""The fast CPU backend: numba im2col of uint8 indices + a LUT GEMM kernel.

The GEMM is the fastest native kernel of :mod:`.native_kernel` that this CPU
supports and a C compiler builds (AVX-512 VBMI, AVX-512, AVX2, NEON, SWAR C,
portable C), else the numba kernel of :mod:`.cpu_kernels`. All are bit-exact with the
reference backend.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.backends import native_kernel
from approxdse.emulator.backends.base import Backend, ConvGeometry
from approxdse.emulator.backends.cpu_kernels import im2col_u8, lut_gemm_batched, lut_gemm_serial

#: Below this many lookups a layer runs the serial numba kernel (no thread start-up).
SMALL_WORK = 1 << 18
#: ``auto``: the fastest that runs here (or ``$APPROXDSE_CPU_KERNEL``); ``native``: the fastest native one.
KERNELS = ("auto", "native", *native_kernel.KERNELS, "numba")


class CPUBackend(Backend):
    """LUT GEMM on the CPU with one of :data:`KERNELS` (``auto`` by default).

    ``auto`` takes ``$APPROXDSE_CPU_KERNEL`` when set, else the fastest native
    kernel that this CPU supports and that builds, else numba. Naming a kernel
    forces it (an error if it cannot run here). :attr:`kernel` says which runs.
    """

    name = "cpu"

    def __init__(self, kernel: str = "auto") -> None:
        if kernel == "auto" and os.environ.get(native_kernel.KERNEL_VARIABLE):
            kernel = os.environ[native_kernel.KERNEL_VARIABLE].strip()
        if kernel not in KERNELS:
            raise ApproxDSEError(f"unknown CPU kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
        chosen = None
        if kernel in ("auto", "native"):
            chosen = native_kernel.best()
            if chosen is None and kernel == "native":
                reasons = "; ".join(f"{n}: {native_kernel.why_not(n)}" for n in native_kernel.PREFERENCE
                                    if native_kernel.why_not(n))
                raise ApproxDSEError(f"no native CPU kernel runs here ({reasons})")
        elif kernel != "numba":
            if native_kernel.load(kernel) is None:
                raise ApproxDSEError(f"the {kernel} CPU kernel cannot run here: {native_kernel.why_not(kernel)}")
            chosen = kernel
        self._fn = native_kernel.load(chosen) if chosen else None
        self._table = native_kernel.KERNELS[chosen].table if chosen else ""
        #: Which GEMM kernel runs: a name of :data:`native_kernel.KERNELS` or ``"numba"``.
        self.kernel = chosen or "numba"

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
        lp = -(-(p * q) // 64) * 64 if self._fn is not None else p * q
        out = np.empty((n, m, p * q), dtype=np.int32)
        for gi in range(g):
            cols = im2col_u8(x, r, s, sh, sw, ph, pw, dh, dw, p, q, np.uint8(pad_index), gi * cg, (gi + 1) * cg, lp)
            wt = np.ascontiguousarray(wq[gi * mg:(gi + 1) * mg].reshape(mg, cg * r * s), dtype=np.uint8)
            self._gemm(cols, wt, lut, out, gi * mg)
        return torch.from_numpy(out.reshape(n, m, p, q))

    def lut_linear(self, a_index, w_index, lut):
        a = a_index.cpu().numpy()
        lp = -(-a.shape[0] // 64) * 64 if self._fn is not None else a.shape[0]
        cols = np.zeros((1, a.shape[1], lp), dtype=np.uint8)
        cols[0, :, :a.shape[0]] = a.T
        wt = np.ascontiguousarray(w_index.cpu().numpy(), dtype=np.uint8)
        out = np.empty((1, wt.shape[0], a.shape[0]), dtype=np.int32)
        self._gemm(cols, wt, lut, out, 0)
        return torch.from_numpy(np.ascontiguousarray(out[0].T))

    def _build_table(self, lut: np.ndarray) -> tuple[np.ndarray, int, int]:
        table, bias = native_kernel.TABLE[self._table](lut)
        return table, bias, native_kernel.table_parameter(self._table, table)

    def _gemm(self, cols: np.ndarray, wt: np.ndarray, lut: np.ndarray, out: np.ndarray, m_offset: int) -> None:
        if self._fn is not None:
            table, bias, parameter = _cached(lut, self._table, self._build_table)
            native_kernel.lut_gemm(self._fn, cols, out.shape[2], wt, table, bias, out, m_offset, parameter)
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
