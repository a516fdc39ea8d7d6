"""``ApproxConv2d`` and ``ApproxLinear``: float layers whose products go through a multiplier's LUT.

Forward pass: quantise the input (calibrated per-tensor scale and zero point,
or the batch's own range before calibration) and the weight (per output
channel), compute the int32 accumulators with the configured mode and backend
(see :mod:`approxdse.emulator.integer_conv`), add the quantised bias and
dequantise. Backward pass (when gradients are needed): straight-through, the
gradient of the float layer on the fake-quantised operands.

>>> import torch, multipliers
>>> from approxdse.emulator import ApproxConv2d
>>> layer = ApproxConv2d.from_float(torch.nn.Conv2d(3, 4, 3, padding=1), multipliers.get("u8_exact"))
>>> layer(torch.rand(1, 3, 8, 8)).shape
torch.Size([1, 4, 8, 8])
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.backends import get_backend
from approxdse.emulator.backends.base import ConvGeometry
from approxdse.emulator.channelwise import channel_partial_sum, channel_plan
from approxdse.emulator.config import EmulationConfig
from approxdse.emulator.gradients import straight_through
from approxdse.emulator.fused_ops import Accumulator, quantize_index
from approxdse.emulator.integer_conv import IntegerOperands, add_zero_point_corrections, quantized_bias
from approxdse.emulator.modes import get_mode
from approxdse.emulator.quantization import (
    NumberFormat,
    fake_quantize,
    number_format,
    qparams_from_range,
    quantize,
    shape_for_channels,
    weight_qparams,
)
from approxdse.multipliers.multiplier import Multiplier

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
#: Weight plans a layer keeps (one per activation zero point seen most recently).
_PLANS_KEPT = 4


@dataclass
class WeightCache:
    """A layer's quantised weights and its mode's weight plans, valid while the weights equal ``weight``.

    Weights are constant at inference; the layer compares them with this copy
    at every call (one pass over the weights, cheaper than re-deriving them),
    so in-place edits, ``load_state_dict`` and optimiser steps all invalidate it.
    """

    weight: torch.Tensor  # a copy of the float weights these were derived from
    fmt: NumberFormat
    scale: torch.Tensor  # [M] float32
    zero: torch.Tensor  # [M] int64
    codes: torch.Tensor  # int64 [M, C/g, R, S] on the CPU
    plans: dict = field(default_factory=dict)  # activation zero point -> the mode's weight plan

    def matches(self, weight: torch.Tensor, fmt: NumberFormat) -> bool:
        w = weight.detach()
        return (fmt == self.fmt and w.dtype == self.weight.dtype and w.device == self.weight.device
                and w.shape == self.weight.shape and torch.equal(w, self.weight))


class _ApproxLayer(nn.Module):
    """What ApproxConv2d and ApproxLinear share: multiplier, format, calibration state, forward."""

    weight: nn.Parameter
    bias: nn.Parameter | None

    def _init_emulation(self, multiplier: Multiplier, config: EmulationConfig | None, layer_name: str) -> None:
        if not isinstance(multiplier, Multiplier):
            raise ApproxDSEError(f"{layer_name}: expected a Multiplier, got {type(multiplier).__name__}")
        self.config = config or EmulationConfig()
        self.layer_name = layer_name
        self.multiplier = multiplier
        self.fmt: NumberFormat = number_format(self.config.scheme, multiplier.signed, layer=layer_name)
        self.mode = get_mode(self.config.mode)
        self._mode_state: Any = self.mode.prepare(multiplier, self.config)
        get_backend(self.config.backend)  # fail early on an unusable backend
        self.register_buffer("act_scale", torch.ones((), dtype=torch.float32))
        self.register_buffer("act_zero_point", torch.zeros((), dtype=torch.int64))
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool))
        self._observer = None  # set by calibrate()
        self._generator: torch.Generator | None = None
        self._weight_cache: WeightCache | None = None

    # ----------------------------------------------------------------- state
    def __getstate__(self) -> dict[str, Any]:
        """Pickles and deep copies leave the weight cache behind (it is rebuilt on the next call)."""
        state = self.__dict__.copy()
        state["_weight_cache"] = None
        return state

    def set_multiplier(self, multiplier: Multiplier) -> None:
        """Swap the multiplier (same signedness as the calibrated format)."""
        fmt = number_format(self.config.scheme, multiplier.signed, layer=self.layer_name)
        if fmt != self.fmt and bool(self.calibrated):
            raise ApproxDSEError(
                f"{self.layer_name}: cannot swap a {self.fmt.name} multiplier for a {fmt.name} one after "
                "calibration; convert and calibrate the float model again"
            )
        self._mode_state = self.mode.prepare(multiplier, self.config)
        self.multiplier, self.fmt = multiplier, fmt
        self._weight_cache = None
        self._channel_plan = None  # one multiplier for every channel again

    @property
    def channel_mix(self):
        """The per-output-channel multipliers (a ChannelMix) when they differ, else None
        (see :mod:`approxdse.emulator.channelwise`)."""
        plan = channel_plan(self)
        return None if plan is None else plan.mix

    def set_activation_range(self, lo: float, hi: float) -> None:
        """Fix the activation quantisation to cover ``[lo, hi]`` (what calibrate() does)."""
        scale, zero = qparams_from_range(torch.tensor(float(lo)), torch.tensor(float(hi)), self.fmt)
        self.act_scale.copy_(scale)
        self.act_zero_point.copy_(zero)
        self.calibrated.fill_(True)

    @property
    def mode_report(self) -> dict[str, Any]:
        return self.mode.report(self._mode_state)

    # --------------------------------------------------------------- forward
    def _geometry(self) -> ConvGeometry:  # pragma: no cover - overridden
        raise NotImplementedError

    def _float_forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _to_4d(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _from_4d(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return y

    def _activation_qparams(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if bool(self.calibrated):
            return self.act_scale, self.act_zero_point
        x = x.detach()
        return qparams_from_range(x.min(), x.max(), self.fmt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._observer is not None:
            self._observer.observe(x)
            return self._float_forward(x, self.weight)
        if x.device.type != "cpu" and self.config.backend in ("auto", "cuda"):
            get_backend("cuda", x.device.type)  # raises the clear "needs a CUDA GPU and cupy" error
        fmt = self.fmt
        a_scale, a_zero = self._activation_qparams(x)
        cache = self.quantized_weight()
        w_scale, w_zero = cache.scale, cache.zero
        wdim = self.weight.dim()
        w_scale_b, w_zero_b = shape_for_channels(w_scale, wdim), shape_for_channels(w_zero, wdim)
        x4 = self._to_4d(x)
        with torch.no_grad():
            index = quantize_index(x4.cpu(), float(a_scale), int(a_zero), fmt.qmin, fmt.qmax, fmt.index_offset)
            ops = IntegerOperands(
                None, cache.codes, int(a_zero), w_zero.cpu(), fmt, self._geometry(), self.multiplier,
                get_backend(self.config.backend, x.device.type), a_index=index,
            )
            acc = self.accumulate(ops, cache)
            bias_q = quantized_bias(self.bias, a_scale, w_scale)
            if bias_q is not None:
                bias_q = torch.clamp(bias_q, _INT32_MIN, _INT32_MAX)
            step = a_scale.to(torch.float64) * w_scale.to(torch.float64)
            y = acc.finish(step, bias_q).to(dtype=x.dtype, device=x.device)
            y = self._from_4d(y, x)
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            xq = fake_quantize(x, a_scale.to(x.device), a_zero.to(x.device), fmt)
            wq = fake_quantize(self.weight, w_scale_b, w_zero_b, fmt)
            y = straight_through(self._float_forward(xq, wq), y)
        return y

    def _weight_4d(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def _w4(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def quantized_weight(self) -> WeightCache:
        """The weights' per-channel scale, zero point and codes (cached while the weights stay the same)."""
        cache = self._weight_cache
        if cache is None or not cache.matches(self.weight, self.fmt):
            with torch.no_grad():
                fmt = self.fmt
                w = self.weight.detach()
                scale, zero = weight_qparams(w, fmt)
                wdim = w.dim()
                codes = quantize(self._weight_4d(w).cpu(), self._w4(shape_for_channels(scale, wdim)).cpu(),
                                 self._w4(shape_for_channels(zero, wdim)).cpu(), fmt)
                cache = WeightCache(w.clone(), fmt, scale, zero, codes)
            self._weight_cache = cache
        return cache

    def accumulate(self, ops: IntegerOperands, cache: WeightCache | None = None) -> Accumulator:
        """The accumulators (LUT sums + zero-point corrections), before the bias.

        With ``cache`` (the :meth:`quantized_weight` that ``ops`` was built from),
        the mode's weight plan for this activation zero point is cached in it.
        """
        if channel_plan(self) is not None:
            return add_zero_point_corrections(channel_partial_sum(self, ops, self._noise_generator()), ops)
        plan = None
        if cache is not None:
            key = (ops.a_zero, id(self._mode_state))
            if key not in cache.plans:
                while len(cache.plans) >= _PLANS_KEPT:  # uncalibrated layers: a zero point per batch
                    cache.plans.pop(next(iter(cache.plans)))
                cache.plans[key] = (self._mode_state, self.mode.weight_plan(ops, self._mode_state))
            plan = cache.plans[key][1]
        acc = self.mode.partial_sum(ops, self._mode_state, self._noise_generator(), plan=plan)
        return add_zero_point_corrections(acc, ops)

    def _noise_generator(self) -> torch.Generator | None:
        if self.mode.exact:
            return None
        if self._generator is None:
            seed = (int(self.config.seed) * 1_000_003 + sum(map(ord, self.layer_name))) % (1 << 63)
            self._generator = torch.Generator().manual_seed(seed)
        return self._generator

    def extra_repr(self) -> str:
        return (f"multiplier={self.multiplier.name!r}, format={self.fmt.name}, mode={self.config.mode!r}, "
                f"backend={self.config.backend!r}, calibrated={bool(self.calibrated)}")


class ApproxConv2d(_ApproxLayer):
    """A ``Conv2d`` (stride, padding, dilation, groups incl. depthwise) with approximate products.

    Build it with :meth:`from_float` or through :func:`approxdse.emulator.approximate`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, *, multiplier: Multiplier, config: EmulationConfig | None = None,
                 layer_name: str = "conv") -> None:
        super().__init__()
        pair = nn.modules.utils._pair
        if isinstance(padding, str):
            raise ApproxDSEError(f"{layer_name}: string padding {padding!r} is not supported; give explicit sizes")
        if in_channels % groups or out_channels % groups:
            raise ApproxDSEError(f"{layer_name}: channels ({in_channels}, {out_channels}) must divide by groups={groups}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride = pair(kernel_size), pair(stride)
        self.padding, self.dilation, self.groups = pair(padding), pair(dilation), int(groups)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._init_emulation(multiplier, config, layer_name)

    @classmethod
    def from_float(cls, conv: nn.Conv2d, multiplier: Multiplier, config: EmulationConfig | None = None,
                   layer_name: str = "conv") -> "ApproxConv2d":
        """An ApproxConv2d with ``conv``'s hyper-parameters and a copy of its weights."""
        if conv.padding_mode != "zeros":
            raise ApproxDSEError(f"{layer_name}: padding_mode={conv.padding_mode!r} is not supported (only 'zeros')")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    conv.groups, conv.bias is not None, multiplier=multiplier, config=config, layer_name=layer_name)
        with torch.no_grad():
            layer.weight.copy_(conv.weight)
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)
        return layer.to(conv.weight.device)

    def _geometry(self) -> ConvGeometry:
        return ConvGeometry(self.stride, self.padding, self.dilation, self.groups)

    def _float_forward(self, x, weight):
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ApproxLinear(_ApproxLayer):
    """A ``Linear`` layer with approximate products (inputs of any leading shape)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, multiplier: Multiplier,
                 config: EmulationConfig | None = None, layer_name: str = "linear") -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._init_emulation(multiplier, config, layer_name)

    @classmethod
    def from_float(cls, linear: nn.Linear, multiplier: Multiplier, config: EmulationConfig | None = None,
                   layer_name: str = "linear") -> "ApproxLinear":
        """An ApproxLinear with a copy of ``linear``'s weights."""
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, multiplier=multiplier,
                    config=config, layer_name=layer_name)
        with torch.no_grad():
            layer.weight.copy_(linear.weight)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer.to(linear.weight.device)

    def _geometry(self) -> ConvGeometry:
        return ConvGeometry()

    def _float_forward(self, x, weight):
        return F.linear(x, weight, self.bias)

    def _to_4d(self, x):
        if x.shape[-1] != self.in_features:
            raise ApproxDSEError(
                f"{self.layer_name}: expected inputs with {self.in_features} features, got shape {tuple(x.shape)}")
        return x.reshape(-1, self.in_features, 1, 1)

    def _from_4d(self, y, x):
        return y.reshape(*x.shape[:-1], self.out_features)

    def _weight_4d(self, w):
        return w[:, :, None, None]

    def _w4(self, t):
        return t[:, :, None, None]
