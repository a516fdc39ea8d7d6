"""The reference backend: unfold + integer gather, in plain torch (slow, obviously right)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from approxdse.emulator.backends.base import Backend, ConvGeometry, wrap_int32

#: Largest gather (elements) done at once, to bound memory.
_CHUNK_ELEMENTS = 1 << 24


def unfold_indices(a_index: torch.Tensor, r: int, s: int, geometry: ConvGeometry, pad_index: int) -> torch.Tensor:
    """im2col of LUT indices: int64 [N, C*R*S, P*Q], padding filled with ``pad_index``."""
    ph, pw = geometry.padding
    x = a_index.to(torch.float32)  # 0..255 are exact in float32
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph), value=float(pad_index))
    cols = F.unfold(x, (r, s), dilation=geometry.dilation, stride=geometry.stride)
    return cols.to(torch.int64)


class ReferenceBackend(Backend):
    """unfold + ``lut[a * 256 + w]`` gather + int64 sum, chunked over output channels."""

    name = "reference"

    def lut_conv2d(self, a_index, w_index, lut, geometry, pad_index):
        n, c, h, w = a_index.shape
        m, cg, r, s = w_index.shape
        g = geometry.groups
        p, q = geometry.output_size(h, w, r, s)
        cols = unfold_indices(a_index, r, s, geometry, pad_index)  # [N, C*R*S, L]
        lut_flat = torch.from_numpy(np.ascontiguousarray(lut, dtype=np.int64).reshape(-1))
        kg = cg * r * s
        mg = m // g
        out = torch.empty((n, m, p * q), dtype=torch.int64)
        wflat = w_index.reshape(m, kg).to(torch.int64)
        for gi in range(g):
            a_rows = cols[:, gi * kg:(gi + 1) * kg, :] * 256  # [N, Kg, L]
            per_m = max(1, _CHUNK_ELEMENTS // max(1, a_rows.numel()))
            for m0 in range(gi * mg, (gi + 1) * mg, per_m):
                m1 = min(m0 + per_m, (gi + 1) * mg)
                idx = a_rows[:, None, :, :] + wflat[m0:m1, :, None]  # [N, mb, Kg, L]
                out[:, m0:m1, :] = lut_flat[idx].sum(dim=2)
        return wrap_int32(out).reshape(n, m, p, q)

    def lut_linear(self, a_index, w_index, lut):
        lut_flat = torch.from_numpy(np.ascontiguousarray(lut, dtype=np.int64).reshape(-1))
        a = a_index.to(torch.int64) * 256
        w = w_index.to(torch.int64)
        out = torch.empty((a.shape[0], w.shape[0]), dtype=torch.int64)
        per_m = max(1, _CHUNK_ELEMENTS // max(1, a.numel()))
        for m0 in range(0, w.shape[0], per_m):
            m1 = min(m0 + per_m, w.shape[0])
            out[:, m0:m1] = lut_flat[a[:, None, :] + w[None, m0:m1, :]].sum(dim=2)
        return wrap_int32(out)
