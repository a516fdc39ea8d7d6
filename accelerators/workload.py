"""Workloads: the layers of a network as Timeloop-style loop nests.

A convolution is the 7-deep loop nest over N (batch), M (output channels),
C (input channels), P x Q (output rows x columns) and R x S (filter rows x
columns), with strides, padding and dilation. Grouped convolution runs
``groups`` independent nests, each with C/groups input and M/groups output
channels (depthwise: groups = C = M). A fully connected layer is a conv with
P = Q = R = S = 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

from approxdse.errors import ApproxDSEError


@dataclass(frozen=True)
class Layer:
    """One conv or fully connected layer. ``C`` and ``M`` are the *total* channel counts."""

    name: str
    C: int
    M: int
    P: int = 1
    Q: int = 1
    R: int = 1
    S: int = 1
    N: int = 1
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    dilation_h: int = 1
    dilation_w: int = 1
    groups: int = 1
    kind: str = "conv"  # "conv" or "fc"
    input_bits: int = 8
    weight_bits: int = 8
    output_bits: int = 8

    def __post_init__(self) -> None:
        for key in ("C", "M", "P", "Q", "R", "S", "N", "stride_h", "stride_w", "dilation_h",
                    "dilation_w", "groups", "input_bits", "weight_bits", "output_bits"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ApproxDSEError(f"layer {self.name!r}: {key} must be a positive integer, got {value!r}")
        for key in ("pad_h", "pad_w"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 0:
                raise ApproxDSEError(f"layer {self.name!r}: {key} must be a non-negative integer, got {value!r}")
        if self.C % self.groups or self.M % self.groups:
            raise ApproxDSEError(
                f"layer {self.name!r}: groups={self.groups} must divide C={self.C} and M={self.M}"
            )
        if self.kind not in ("conv", "fc"):
            raise ApproxDSEError(f"layer {self.name!r}: kind must be 'conv' or 'fc', got {self.kind!r}")

    @property
    def stride(self) -> int:
        return self.stride_h

    @property
    def C_per_group(self) -> int:
        return self.C // self.groups

    @property
    def M_per_group(self) -> int:
        return self.M // self.groups

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.C == self.M

    @property
    def macs(self) -> int:
        return self.N * self.M * self.C_per_group * self.P * self.Q * self.R * self.S

    @property
    def weights(self) -> int:
        return self.M * self.C_per_group * self.R * self.S

    @property
    def input_hw(self) -> tuple[int, int]:
        """Input height/width (without padding) implied by the output size."""
        h = (self.P - 1) * self.stride_h + self.dilation_h * (self.R - 1) + 1 - 2 * self.pad_h
        w = (self.Q - 1) * self.stride_w + self.dilation_w * (self.S - 1) + 1 - 2 * self.pad_w
        return max(h, 1), max(w, 1)

    @property
    def inputs(self) -> int:
        h, w = self.input_hw
        return self.N * self.C * h * w

    @property
    def outputs(self) -> int:
        return self.N * self.M * self.P * self.Q

    def shape_key(self) -> tuple:
        """Everything that determines the layer's cost (not its name): a cache key."""
        d = asdict(self)
        d.pop("name")
        return tuple(sorted(d.items()))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Workload:
    """A network as an ordered list of layers."""

    name: str
    layers: tuple[Layer, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ApproxDSEError(f"workload {self.name!r} has no conv or fully connected layers")

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)
