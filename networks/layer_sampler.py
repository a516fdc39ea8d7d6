"""Random layer shapes beyond the genome: what real CNN families use and the generator never draws.

The CNN genome (:mod:`approxdse.networks.genome`) draws widths in multiples of 8,
depthwise kernels 3-7 only inside its blocks, no groups, no dilation, no
squeeze-excite layers. Real families have them all: ShuffleNetV2's 58/116/232
channels, ResNeXt's and RegNet's grouped 3x3 convs, EfficientNet's 5x5 and
MobileNetV3's 5x5 depthwise, SE "fc" layers (1x1 convs on a 1x1 map), large
stems (7x7/2, 11x11/4, ConvNeXt's 4x4/4 patchify), DeepLab-style dilation.
:func:`sample_layers` draws single layers from such a space (:class:`LayerSpace`);
:func:`sample_layer_workloads` groups them into pseudo-networks (the dataset spec
``layers:N``) so that the reference prices them like any network. The learned
predictor's layer model learns from every layer alike.

Layer kinds (:data:`LAYER_KINDS`, drawn with :attr:`LayerSpace.weights`):

============ ===========================================================================
conv         k x k (3, 5, 7), stride 1 or 2, dilation 2 for some 3x3, groups 1
pointwise    1x1, stride 1 (sometimes 2: a ResNet projection)
grouped      1x1 or 3x3 with groups in 2..64 (fixed group width 4/8/16 or a group count)
depthwise    k x k (3, 5, 7), stride 1 or 2, groups = C = M
se           1x1 on a 1x1 map, C -> C/r or C/r -> C (r in 4, 8, 16; MobileNet rounding too)
fc           fully connected, 256..4096 -> 10..4096
stem         3 input channels, 16..96 outputs, 3x3/2, 4x4/4, 7x7/2 or 11x11/4 on 224 (or 3x3/1 on 32)
patchify     k x k with stride k (2, 4): ConvNeXt / Swin-style downsampling
============ ===========================================================================

In 40% of the conv and pointwise layers the output width follows the input's (equal,
mostly; else doubled or halved), as inside residual and ShuffleNet blocks. Half the
conv, pointwise and depthwise layers take their widths and output size
as a network stage would (output 112 down to 7, widths from half to 8x the
stage's base of 16 x 2^stage); the rest draw them independently. Channel counts are
a power of two times a prime from 11 to 127 a quarter of the time (few ways to
split them into tiles: 58, 116, 232 map up to 3x worse than 64 or 240 on
Eyeriss), else log-uniform integers in ``[min_channels, max_channels]``, half of
them rounded to a multiple of 8 (odd counts included).
Output sizes come from the sizes ImageNet and CIFAR networks reach (7, 13,
14, 27, 28, 54-56, 112, ...) or any integer 2..112. Layers above ``max_macs``
are redrawn from the same generator, so a seed fixes the result.

>>> layers = sample_layers(5, seed=0)
>>> len(layers), all(layer.macs <= LayerSpace().max_macs for layer in layers)
(5, True)
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer, Workload

LAYER_KINDS = ("conv", "pointwise", "grouped", "depthwise", "se", "fc", "stem", "patchify")
#: Output sizes real ImageNet / CIFAR networks reach.
COMMON_SIZES = (2, 4, 7, 8, 13, 14, 16, 27, 28, 32, 54, 55, 56, 109, 111, 112)


def _default_weights() -> dict[str, float]:
    return {"conv": 0.18, "pointwise": 0.2, "grouped": 0.14, "depthwise": 0.2, "se": 0.1, "fc": 0.04,
            "stem": 0.08, "patchify": 0.06}


@dataclass(frozen=True)
class LayerSpace:
    """Bounds of :func:`sample_layers` (see the module docstring)."""

    min_channels: int = 3
    max_channels: int = 2048
    max_size: int = 112
    max_macs: int = 600_000_000
    weights: Mapping[str, float] = field(default_factory=_default_weights)

    def __post_init__(self) -> None:
        if not (1 <= self.min_channels <= self.max_channels):
            raise ApproxDSEError(f"layer space: need 1 <= min_channels <= max_channels, got "
                                 f"{self.min_channels}, {self.max_channels}")
        if self.max_size < 2 or self.max_macs < 1:
            raise ApproxDSEError("layer space: max_size must be >= 2 and max_macs >= 1")
        unknown = set(self.weights) - set(LAYER_KINDS)
        if unknown or not self.weights or any(v < 0 for v in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ApproxDSEError(f"layer space weights must be non-negative over {', '.join(LAYER_KINDS)} "
                                 f"with a positive sum; got {dict(self.weights)}")


#: Primes behind channel counts that map badly (ShuffleNetV2's 58 = 2 x 29, 116, 232, 464).
_PRIMES = (11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107,
           109, 113, 127)


def _channels(rng: np.random.Generator, space: LayerSpace, lo: int | None = None, hi: int | None = None) -> int:
    lo = max(lo or space.min_channels, 1)
    hi = max(min(hi or space.max_channels, space.max_channels), lo)
    if rng.random() < 0.25:  # a power of two times a prime: few ways to split it into tiles
        p = int(rng.choice(_PRIMES))
        ks = [k for k in range(8) if lo <= p << k <= hi]
        if ks:
            return p << int(rng.choice(ks))
    c = int(round(math.exp(rng.uniform(math.log(lo), math.log(hi + 0.499)))))
    if rng.random() < 0.5 and c >= 8:
        c = max(8, int(round(c / 8)) * 8)
    return int(min(max(c, lo), hi))


def _size(rng: np.random.Generator, space: LayerSpace) -> int:
    if rng.random() < 0.6:
        sizes = [s for s in COMMON_SIZES if s <= space.max_size]
        return int(rng.choice(sizes))
    return int(rng.integers(2, space.max_size + 1))


def _staged(rng: np.random.Generator, space: LayerSpace) -> tuple[int, int, int] | None:
    """Half the time, (C, M, P) as a network's stage has them: width grows as the map shrinks."""
    if rng.random() >= 0.5:
        return None
    stage = int(rng.integers(5))
    P = (112, 56, 28, 14, 7)[stage]
    if rng.random() < 0.25:
        P = (111, 55, 27, 13, 7)[stage] if rng.random() < 0.5 else max(2, P // 2 + 1)
    base = 16 * 2 ** stage
    lo, hi = max(space.min_channels, base // 2), min(space.max_channels, base * 8)
    return _channels(rng, space, lo, hi), _channels(rng, space, lo, hi), min(P, space.max_size)


def _conv(name: str, C: int, M: int, P: int, k: int, stride: int = 1, groups: int = 1, dilation: int = 1,
          pad: int | None = None) -> Layer:
    pad = (k // 2) * dilation if pad is None else pad
    return Layer(name, C=C, M=M, P=P, Q=P, R=k, S=k, stride_h=stride, stride_w=stride, pad_h=pad, pad_w=pad,
                 dilation_h=dilation, dilation_w=dilation, groups=groups)


def _draw(rng: np.random.Generator, space: LayerSpace, kind: str, name: str) -> Layer:
    staged = _staged(rng, space) if kind in ("conv", "pointwise", "depthwise") else None
    C, M, P = staged or (_channels(rng, space), _channels(rng, space), _size(rng, space))
    if kind in ("conv", "pointwise") and rng.random() < 0.4:  # blocks keep (or double) their width
        M = min(space.max_channels, C * int(rng.choice([1, 1, 1, 2]))) if rng.random() < 0.8 else max(1, C // 2)
    if kind == "conv":
        k = int(rng.choice([3, 3, 5, 7]))
        dilation = 2 if (k == 3 and rng.random() < 0.2) else 1
        return _conv(name, C, M, P, k, int(rng.choice([1, 1, 2])), dilation=dilation)
    if kind == "pointwise":
        return _conv(name, C, M, P, 1, 2 if rng.random() < 0.15 else 1, pad=0)
    if kind == "grouped":
        k = int(rng.choice([1, 3, 3]))
        if rng.random() < 0.5:  # fixed group width (RegNet 8/16, ResNeXt 4): groups = C / width
            width = int(rng.choice([4, 8, 16]))
            groups = max(1, _channels(rng, space, 16, space.max_channels) // width)
            C = groups * width
        else:  # a group count (ResNeXt 32, ShuffleNet v1 2-8)
            groups = int(rng.choice([2, 3, 4, 8, 32]))
            C = groups * max(1, _channels(rng, space, 1, max(1, space.max_channels // groups)))
        M = groups * max(1, int(round(C / groups * float(rng.choice([0.5, 1, 1, 2])))))
        return _conv(name, C, M, _size(rng, space), k, int(rng.choice([1, 1, 2])), groups=groups,
                     pad=0 if k == 1 else None)
    if kind == "depthwise":
        C = max(C, 8) if staged else _channels(rng, space, 8)
        return _conv(name, C, C, P, int(rng.choice([3, 5, 7])), int(rng.choice([1, 1, 2])), groups=C)
    if kind == "se":
        big = _channels(rng, space, 16)
        r = int(rng.choice([4, 8, 16]))
        small = max(1, big // r)
        if rng.random() < 0.3:
            small = max(8, int(small + 4) // 8 * 8)
        C, M = (big, small) if rng.random() < 0.5 else (small, big)
        return Layer(name, C=C, M=M)
    if kind == "fc":
        return Layer(name, C=_channels(rng, space, 256, 4096), M=_channels(rng, space, 10, 4096), kind="fc")
    if kind == "stem":
        k, stride, size = [(3, 2, 224), (4, 4, 224), (7, 2, 224), (11, 4, 224), (3, 1, 32), (5, 2, 224)][
            int(rng.integers(6))]
        pad = 0 if k in (4, 11) and rng.random() < 0.7 else k // 2
        P = (size + 2 * pad - k) // stride + 1
        return _conv(name, 3, int(rng.integers(16, 97)), P, k, stride, pad=pad)
    if kind == "patchify":
        k = int(rng.choice([2, 4]))
        return _conv(name, _channels(rng, space), _channels(rng, space), max(1, _size(rng, space) // k), k, k, pad=0)
    raise ApproxDSEError(f"unknown layer kind {kind!r}")  # pragma: no cover - kinds are checked above


def sample_layers(n: int, seed: int | np.random.Generator = 0, space: LayerSpace | None = None,
                  prefix: str = "layer") -> list[Layer]:
    """``n`` random layers (deterministic for a seed), named ``{prefix}{i}_{kind}``."""
    if not isinstance(n, int) or n < 0:
        raise ApproxDSEError(f"the number of layers must be a non-negative integer, got {n!r}")
    space = space or LayerSpace()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    kinds = [k for k in LAYER_KINDS if space.weights.get(k, 0) > 0]
    p = np.array([space.weights[k] for k in kinds], dtype=np.float64)
    p /= p.sum()
    out: list[Layer] = []
    while len(out) < n:
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        layer = _draw(rng, space, kind, f"{prefix}{len(out)}_{kind}")
        if 1 <= layer.macs <= space.max_macs and layer.C <= 4096 and layer.M <= 4096:
            out.append(layer)
    return out


def sample_layer_workloads(n: int, seed: int = 0, layers_per_network: int = 12,
                           space: LayerSpace | None = None) -> list[Workload]:
    """``n`` pseudo-networks of ``layers_per_network`` independent random layers each, named
    ``layers_<16 hex digits of their shapes>``; ``layers:10`` is a prefix of ``layers:20``."""
    if not isinstance(layers_per_network, int) or layers_per_network < 1:
        raise ApproxDSEError(f"layers_per_network must be a positive integer, got {layers_per_network!r}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        layers = sample_layers(layers_per_network, rng, space)
        text = json.dumps([list(map(list, l.shape_key())) for l in layers], separators=(",", ":"))
        out.append(Workload(f"layers_{hashlib.sha256(text.encode()).hexdigest()[:16]}", tuple(layers)))
    return out
