"""8-bit quantisation as an integer accelerator does it.

Two number formats:

* ``unsigned`` (for unsigned multipliers): affine quantisation
  ``x ~= scale * (code - zero_point)`` with codes 0..255. The multiplier sees the
  raw codes; the zero-point cross terms are exact integer corrections in the
  int32 accumulator (see :func:`zero_point_corrections`).
* ``signed`` (for signed multipliers): symmetric quantisation
  ``x ~= scale * code`` with codes -128..127 (zero point 0).

Weights get one scale (and zero point) per output channel, activations one per
tensor. The LUT *index* of a code is the code itself (unsigned) or code + 128
(signed), as in :mod:`multipliers.multiplier`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from approxdse.core.errors import ApproxDSEError

#: Smallest scale used when a tensor is all zeros (any positive value works).
MIN_SCALE = 1e-12


@dataclass(frozen=True)
class NumberFormat:
    """An 8-bit code range and how it maps to LUT indices."""

    name: str
    qmin: int
    qmax: int
    index_offset: int  # LUT index = code + index_offset

    @property
    def signed(self) -> bool:
        return self.name == "signed"


UNSIGNED = NumberFormat("unsigned", 0, 255, 0)
SIGNED = NumberFormat("signed", -128, 127, 128)


def number_format(scheme: str, multiplier_signed: bool, *, layer: str = "layer") -> NumberFormat:
    """The format for a quantisation ``scheme`` (``auto``/``unsigned``/``signed``) and a multiplier.

    Raises :class:`ApproxDSEError` when the scheme and the multiplier disagree.
    """
    if scheme == "auto":
        return SIGNED if multiplier_signed else UNSIGNED
    if scheme not in ("unsigned", "signed"):
        raise ApproxDSEError(f"unknown quantisation scheme {scheme!r}; choose auto, unsigned or signed")
    wanted_signed = scheme == "signed"
    if wanted_signed != bool(multiplier_signed):
        lut_kind = "signed" if multiplier_signed else "unsigned"
        raise ApproxDSEError(
            f"{layer}: a {lut_kind} multiplier cannot be used with {scheme} quantisation; "
            f"use {'signed (symmetric)' if multiplier_signed else 'unsigned (affine)'} quantisation or scheme='auto'"
        )
    return SIGNED if wanted_signed else UNSIGNED


def qparams_from_range(lo: torch.Tensor, hi: torch.Tensor, fmt: NumberFormat) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale (float32) and zero point (int64) that cover ``[lo, hi]`` (elementwise, 0 always included)."""
    lo = torch.clamp(lo.detach().to(torch.float64), max=0.0)
    hi = torch.clamp(hi.detach().to(torch.float64), min=0.0)
    if fmt.signed:
        scale = torch.maximum(-lo, hi) / fmt.qmax
        scale = torch.clamp(scale, min=MIN_SCALE)
        zero_point = torch.zeros_like(scale, dtype=torch.int64)
    else:
        scale = torch.clamp((hi - lo) / (fmt.qmax - fmt.qmin), min=MIN_SCALE)
        zero_point = torch.clamp(torch.round(fmt.qmin - lo / scale), fmt.qmin, fmt.qmax).to(torch.int64)
    return scale.to(torch.float32), zero_point


def weight_qparams(weight: torch.Tensor, fmt: NumberFormat) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output-channel scale [M] and zero point [M] of a weight tensor [M, ...]."""
    flat = weight.detach().reshape(weight.shape[0], -1)
    return qparams_from_range(flat.min(dim=1).values, flat.max(dim=1).values, fmt)


def quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, fmt: NumberFormat) -> torch.Tensor:
    """Integer codes (int64) of ``x``: ``clamp(round(x / scale) + zero_point)``.

    ``scale`` and ``zero_point`` broadcast against ``x`` (reshape per-channel
    parameters to ``[M, 1, ...]`` first).
    """
    q = torch.round(x.detach().to(torch.float32) / scale) + zero_point.to(torch.float32)
    return torch.clamp(q, fmt.qmin, fmt.qmax).to(torch.int64)


def fake_quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, fmt: NumberFormat) -> torch.Tensor:
    """``dequantize(quantize(x))`` with a straight-through gradient (zero where clipped)."""
    lo = (fmt.qmin - zero_point.to(x.dtype)) * scale
    hi = (fmt.qmax - zero_point.to(x.dtype)) * scale
    q = (quantize(x, scale, zero_point, fmt).to(x.dtype) - zero_point.to(x.dtype)) * scale
    inside = (x >= lo) & (x <= hi)
    return torch.where(inside, x + (q - x).detach(), q.detach())


def to_index(codes: torch.Tensor, fmt: NumberFormat) -> torch.Tensor:
    """LUT indices (uint8) of integer codes."""
    return (codes + fmt.index_offset).to(torch.uint8)


def shape_for_channels(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """Reshape a per-channel vector [M] to broadcast over a weight/output of ``ndim`` dims."""
    return t.reshape((-1,) + (1,) * (ndim - 1))
