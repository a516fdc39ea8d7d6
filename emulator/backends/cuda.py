"""Placeholder of the CUDA (CuPy) backend.

The GPU kernel (LUT in shared memory, tiled implicit GEMM) plugs in here through
the :class:`~approxdse.emulator.backends.base.Backend` interface. Until it
exists, asking for ``backend="cuda"`` fails with one clear sentence.
"""
from __future__ import annotations

from approxdse.emulator.backends.base import Backend
from approxdse.core.errors import ApproxDSEError


def _cupy_present() -> bool:
    try:
        import cupy  # noqa: F401
    except Exception:
        return False
    return True


def _cuda_present() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


class CUDABackend(Backend):
    """Not implemented yet: raises a clear :class:`ApproxDSEError` when used."""

    name = "cuda"
    device_type = "cuda"

    @classmethod
    def is_available(cls) -> bool:
        return False

    @classmethod
    def unavailable_reason(cls) -> str:
        have = []
        if not _cuda_present():
            have.append("no CUDA GPU was found")
        if not _cupy_present():
            have.append("cupy is not installed")
        detail = " and ".join(have) if have else "the CuPy kernel is not part of this version"
        return f"the cuda backend needs a CUDA GPU and cupy ({detail}); use backend='cpu' or 'auto'"

    def lut_conv2d(self, a_index, w_index, lut, geometry, pad_index):
        raise ApproxDSEError(self.unavailable_reason())
