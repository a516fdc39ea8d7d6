"""Kernel-wise approximation in the emulator: one multiplier per output channel of a layer.

``set_channel_multipliers(layer, [m_0, ..., m_{M-1}])`` makes output channel
``m`` of an :class:`~approxdse.emulator.layers.ApproxConv2d` /
``ApproxLinear`` multiply through its own multiplier's LUT. The number format,
the quantisation and the zero-point corrections stay the layer's (they do not
depend on the multiplier); only the LUT sums differ per channel. For each
distinct multiplier the layer's mode computes the LUT sums of the channels
that use it (a weight slice; grouped convolutions compute all channels and
keep theirs), so the result is the single-multiplier result channel by
channel, bit for bit in the exact modes.

>>> import torch
>>> from approxdse.emulator import approximate
>>> q = approximate(torch.nn.Sequential(torch.nn.Linear(4, 3)), "u8_exact")
>>> set_channel_multipliers(q[0], ["u8_exact", "u8_trunc_2", "u8_exact"])
>>> q[0].channel_mix.counts()
{'u8_exact': 2, 'u8_trunc_2': 1}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.fused_ops import Accumulator
from approxdse.emulator.integer_conv import IntegerOperands
from approxdse.emulator.quantization import number_format
from approxdse.multipliers.channel_mix import ChannelMix
from approxdse.multipliers.multiplier import Multiplier
from approxdse.multipliers.resolve import resolve_multiplier


@dataclass
class ChannelPlan:
    """A layer's per-channel multipliers: the mix and, per distinct multiplier, its mode state and channels."""

    mix: ChannelMix
    parts: list  # [(Multiplier, mode state, LongTensor of channel indices)]


def _resolve(spec: Any) -> Multiplier:
    if not isinstance(spec, (Multiplier, str)):
        raise ApproxDSEError(f"a channel's multiplier must be a name or a Multiplier, got {type(spec).__name__}")
    return resolve_multiplier(spec)


def set_channel_multipliers(layer: nn.Module, specs: Sequence[Any] | ChannelMix | None) -> None:
    """Give each output channel of ``layer`` its own multiplier (None: back to the layer's one).

    ``specs`` has one entry (name or Multiplier) per output channel, or is a
    :class:`ChannelMix`. All must share the layer's signedness (its number format).
    """
    if specs is None:
        layer._channel_plan = None
        layer._weight_cache = None
        return
    mix = specs if isinstance(specs, ChannelMix) else ChannelMix.of(list(specs), _resolve)
    channels = int(layer.weight.shape[0])
    if mix.channels != channels:
        raise ApproxDSEError(f"{layer.layer_name}: {mix.channels} channel multipliers for {channels} output channels")
    fmt = number_format(layer.config.scheme, mix.signed, layer=layer.layer_name)
    if fmt != layer.fmt:
        raise ApproxDSEError(f"{layer.layer_name}: the channel multipliers are {fmt.name} but the layer is "
                             f"{layer.fmt.name}; use multipliers of the layer's signedness")
    if len(mix.distinct()) == 1:  # a uniform mix is just the layer's multiplier
        layer.set_multiplier(mix.multipliers[0])
        layer._channel_plan = None
        return
    by_name = {m.name: m for m in mix.multipliers}
    parts = [(by_name[name], layer.mode.prepare(by_name[name], layer.config), torch.tensor(idx, dtype=torch.long))
             for name, idx in mix.distinct().items()]
    layer._channel_plan = ChannelPlan(mix, parts)


def channel_plan(layer: nn.Module) -> ChannelPlan | None:
    """The layer's per-channel plan, or None when one multiplier serves every channel."""
    return getattr(layer, "_channel_plan", None)


def channel_partial_sum(layer: nn.Module, ops: IntegerOperands, generator: torch.Generator | None) -> Accumulator:
    """The LUT sums of every output channel with that channel's multiplier (before zero-point corrections)."""
    plan = channel_plan(layer)
    out = None
    for mult, state, idx in plan.parts:
        if ops.geometry.groups == 1:
            sub = IntegerOperands(None, ops.w_codes[idx], ops.a_zero, ops.w_zero[idx], ops.fmt, ops.geometry,
                                  mult, ops.backend, a_index=ops.a_index)
            dense = layer.mode.partial_sum(sub, state, generator).dense()
        else:
            full = IntegerOperands(None, ops.w_codes, ops.a_zero, ops.w_zero, ops.fmt, ops.geometry, mult,
                                   ops.backend, a_index=ops.a_index)
            dense = layer.mode.partial_sum(full, state, generator).dense()[:, idx]
        if out is None:
            n, _, p, q = dense.shape
            out = torch.zeros((n, ops.w_codes.shape[0], p, q), dtype=dense.dtype)
        out[:, idx] = dense.to(out.dtype)
    return Accumulator(out, exact=layer.mode.exact)


def assign_channels(qmodel: nn.Module, assignment: Mapping[str, Sequence[Any] | ChannelMix | None]) -> nn.Module:
    """:func:`set_channel_multipliers` for several layers of a converted model, by layer name."""
    layers = dict(qmodel.named_modules())
    for name, specs in assignment.items():
        layer = layers.get(name)
        if layer is None or not hasattr(layer, "quantized_weight"):
            raise ApproxDSEError(f"{name!r} is not an approximate conv/linear layer of the model")
        set_channel_multipliers(layer, specs)
    return qmodel
