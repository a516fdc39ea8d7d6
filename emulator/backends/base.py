"""The backend interface: how a LUT convolution is computed.

A backend computes, for every output position, the sum over the receptive
field of ``lut[a, w]`` where ``a`` and ``w`` are the 8-bit LUT *indices* of the
activation and the weight (padding positions hold ``pad_index``). That sum is
the raw int32 accumulator of an integer accelerator before its zero-point
corrections, which the layers add (identically for every backend). All backends
must agree bit for bit; the reference backend is the oracle.

A GPU backend plugs in by subclassing :class:`Backend` and calling
:func:`approxdse.emulator.backends.register_backend`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, padding, dilation and groups of a 2-D convolution (a linear layer is a 1x1 conv)."""

    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def output_size(self, h: int, w: int, r: int, s: int) -> tuple[int, int]:
        p = (h + 2 * self.padding[0] - self.dilation[0] * (r - 1) - 1) // self.stride[0] + 1
        q = (w + 2 * self.padding[1] - self.dilation[1] * (s - 1) - 1) // self.stride[1] + 1
        return p, q


class Backend(ABC):
    """Computes LUT convolutions on integer indices.

    Subclasses set :attr:`name` and implement :meth:`lut_conv2d`; they may
    override :meth:`lut_linear` with a faster GEMM.
    """

    name: str = "abstract"
    #: Device type of the tensors this backend works on.
    device_type: str = "cpu"

    @classmethod
    def is_available(cls) -> bool:
        """Whether this backend can run here (libraries and hardware present)."""
        return True

    @classmethod
    def unavailable_reason(cls) -> str:
        return ""

    @abstractmethod
    def lut_conv2d(
        self,
        a_index: torch.Tensor,
        w_index: torch.Tensor,
        lut: np.ndarray,
        geometry: ConvGeometry,
        pad_index: int,
    ) -> torch.Tensor:
        """Sum of ``lut[a, w]`` over each receptive field.

        Parameters
        ----------
        a_index: uint8 [N, C, H, W] activation LUT indices.
        w_index: uint8 [M, C // groups, R, S] weight LUT indices.
        lut: int32 [256, 256] (row = activation index, column = weight index).
        geometry: stride, padding, dilation, groups.
        pad_index: the LUT index of the padding value (the activation zero point).

        Returns
        -------
        int32 [N, M, P, Q] accumulators (int32 wrap-around on overflow).
        """

    def lut_linear(self, a_index: torch.Tensor, w_index: torch.Tensor, lut: np.ndarray) -> torch.Tensor:
        """``out[n, m] = sum_k lut[a[n, k], w[m, k]]`` for uint8 ``a`` [N, K] and ``w`` [M, K] (int32 [N, M])."""
        out = self.lut_conv2d(a_index[:, :, None, None], w_index[:, :, None, None], lut, ConvGeometry(), 0)
        return out[:, :, 0, 0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def wrap_int32(x: torch.Tensor) -> torch.Tensor:
    """int64 -> int32 with two's-complement wrap-around (what an int32 accumulator holds)."""
    return ((x + (1 << 31)) % (1 << 32) - (1 << 31)).to(torch.int32)
