"""The integer pipeline shared by every backend and mode.

For one output position of output channel ``m`` with reduction length ``K``
(``C/groups * R * S``), activation codes ``a_k`` (zero point ``z_a``) and
weight codes ``w_k`` (zero point ``z_w[m]``), an integer accelerator computes

    acc = sum_k (a_k - z_a) * (w_k - z_w)
        = sum_k a_k * w_k - z_w * sum_k a_k - z_a * sum_k w_k + K * z_a * z_w

With an approximate multiplier only the products go through the circuit:
``sum_k a_k * w_k`` becomes ``sum_k LUT[a_k, w_k]`` (the raw codes index the
LUT), while the three cross terms are exact integer corrections. Padding
positions hold the activation zero point ``z_a`` (real value 0), so
``sum_k a_k = S + K * z_a`` with ``S`` the window sum of ``a - z_a``, and

    acc = sum_k LUT[a_k, w_k] - z_w * S - z_a * sum_k w_k

For signed multipliers both zero points are 0 and ``acc = sum_k LUT[a_k, w_k]``.
The bias is quantised to ``round(bias / (s_a * s_w[m]))`` and added in the
accumulator; the output is ``(acc + bias_q) * s_a * s_w[m]``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from approxdse.emulator.backends.base import Backend, ConvGeometry
from approxdse.emulator.quantization import NumberFormat
from approxdse.emulator.fused_ops import Accumulator, group_sums, lookup_sums

if TYPE_CHECKING:
    from approxdse.emulator.fused_ops import Accumulator
    from approxdse.multipliers.multiplier import Multiplier


class IntegerOperands:
    """The quantised operands of one layer call (all on CPU).

    Give the activations as int64 codes or as uint8 LUT indices (``a_index``);
    the other form is derived on demand.
    """

    def __init__(self, a_codes: torch.Tensor | None, w_codes: torch.Tensor, a_zero: int, w_zero: torch.Tensor,
                 fmt: NumberFormat, geometry: ConvGeometry, multiplier: "Multiplier", backend: Backend,
                 a_index: torch.Tensor | None = None) -> None:
        if a_codes is None and a_index is None:
            raise ValueError("IntegerOperands needs a_codes or a_index")
        self._a_codes = a_codes
        self._a_index = a_index
        self.w_codes = w_codes  # int64 [M, C/g, R, S]
        self.a_zero = int(a_zero)
        self.w_zero = w_zero  # int64 [M]
        self.fmt = fmt
        self.geometry = geometry
        self.multiplier = multiplier
        self.backend = backend
        #: The window sums of ``index - pad_index`` [N, G, P, Q] (the zero-point correction's),
        #: when a mode computed them already.
        self.zero_point_sums: torch.Tensor | None = None

    @property
    def a_codes(self) -> torch.Tensor:
        """int64 [N, C, H, W] activation codes."""
        if self._a_codes is None:
            self._a_codes = self._a_index.to(torch.int64) - self.fmt.index_offset
        return self._a_codes

    @property
    def a_index(self) -> torch.Tensor:
        """uint8 [N, C, H, W] activation LUT indices."""
        if self._a_index is None:
            return (self._a_codes + self.fmt.index_offset).to(torch.uint8)
        return self._a_index

    @property
    def w_index(self) -> torch.Tensor:
        return (self.w_codes + self.fmt.index_offset).to(torch.uint8)

    @property
    def pad_index(self) -> int:
        return int(self.a_zero + self.fmt.index_offset)

    @property
    def reduction(self) -> int:
        """K: products summed into one output."""
        _, cg, r, s = self.w_codes.shape
        return cg * r * s

    @property
    def is_linear(self) -> bool:
        shape = self.a_index.shape if self._a_codes is None else self._a_codes.shape
        return shape[2] == 1 and shape[3] == 1 and self.w_codes.shape[2:] == (1, 1) and self.geometry.groups == 1


def window_sum(values: torch.Tensor, geometry: ConvGeometry, r: int, s: int, out_channels: int) -> torch.Tensor:
    """Sum of ``values`` [N, C, H, W] over each receptive field of each group, zero padded.

    Returns [N, out_channels, P, Q] (each group's sum repeated for its output
    channels), in the dtype of ``values`` (use float64 for exact integer sums).
    """
    n, c, h, w = values.shape
    g = geometry.groups
    per_group = values.reshape(n, g, c // g, h, w).sum(dim=2)
    ones = torch.ones((g, 1, r, s), dtype=values.dtype)
    sums = F.conv2d(per_group, ones, stride=geometry.stride, padding=geometry.padding,
                    dilation=geometry.dilation, groups=g)
    if out_channels != g:
        sums = sums.repeat_interleave(out_channels // g, dim=1)
    return sums


def index_window_sum(ops: IntegerOperands, table: np.ndarray, centre: float, dtype: torch.dtype,
                     pad_value: float = 0.0) -> torch.Tensor:
    """[N, G, P, Q]: window sums of ``table[a_index] - centre`` per group, in ``dtype``.

    Padding positions count as ``pad_value`` (``table[pad_index] - centre``).
    """
    _, cg, r, s = ops.w_codes.shape
    g = ops.geometry
    per_group = group_sums(ops.a_index, table, centre, g.groups, dtype)
    padding = g.padding
    if pad_value and any(padding):
        ph, pw = padding
        per_group = F.pad(per_group, (pw, pw, ph, ph), value=float(pad_value) * cg)
        padding = (0, 0)
    ones = torch.ones((g.groups, 1, r, s), dtype=dtype)
    return F.conv2d(per_group, ones, stride=g.stride, padding=padding, dilation=g.dilation, groups=g.groups)


_IDENTITY = np.arange(256, dtype=np.float64)


def needs_zero_point_corrections(ops: IntegerOperands) -> bool:
    """Whether either zero point is non-zero (unsigned formats)."""
    return ops.a_zero != 0 or bool(torch.any(ops.w_zero))


def zero_point_table(ops: IntegerOperands) -> np.ndarray:
    """``index - pad_index`` for every LUT index: the plane table of the zero-point correction."""
    return _IDENTITY - float(ops.pad_index)


def add_zero_point_corrections(acc: "Accumulator", ops: IntegerOperands) -> "Accumulator":
    """Add ``- z_w * S - z_a * sum_k w_k`` to ``acc`` (nothing when both zero points are 0)."""
    if not needs_zero_point_corrections(ops):
        return acc
    m, _, r, s = ops.w_codes.shape
    sums = ops.zero_point_sums
    if sums is None:
        _, planes = lookup_sums(ops.a_index, None, 0.0, [zero_point_table(ops)], ops.pad_index,
                                ops.geometry.groups, (r, s), ops.geometry)
        sums = planes[0]
    acc.add_sum(-ops.w_zero.to(torch.float64), sums)
    acc.add_const(-(ops.a_zero * ops.w_codes.reshape(m, -1).sum(dim=1)).to(torch.float64))
    return acc


def zero_point_corrections(ops: IntegerOperands) -> torch.Tensor | None:
    """``- z_w * S - z_a * sum_k w_k`` as int64 [N, M, P, Q] (None when both zero points are 0)."""
    if ops.a_zero == 0 and not torch.any(ops.w_zero):
        return None
    n, _, h, w = ops.a_index.shape
    m, _, r, s = ops.w_codes.shape
    p, q = ops.geometry.output_size(h, w, r, s)
    acc = Accumulator(torch.zeros((n, m, p, q), dtype=torch.int64), exact=True)
    return add_zero_point_corrections(acc, ops).dense()


def quantized_bias(bias: torch.Tensor | None, a_scale: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor | None:
    """``round(bias / (s_a * s_w))`` as int64 [M], or None."""
    if bias is None:
        return None
    step = a_scale.to(torch.float64) * w_scale.to(torch.float64)
    return torch.round(bias.detach().to(torch.float64) / step).to(torch.int64)
