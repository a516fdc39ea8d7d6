"""Workloads: the layers of a network as Timeloop-style loop nests.

A convolution is the 7-deep loop nest over N (batch), M (output channels),
C (input channels), P x Q (output rows x columns) and R x S (filter rows x
columns), with strides, padding and dilation. Grouped convolution runs
``groups`` independent nests, each with C/groups input and M/groups output
channels (depthwise: groups = C = M). A fully connected layer is a conv with
P = Q = R = S = 1.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator

from approxdse.core.errors import ApproxDSEError
from approxdse.core.atomic_files import atomic_write_text


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Layer":
        """Build a layer from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ApproxDSEError(
                f"layer {data.get('name', '?')!r}: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        if "name" not in data or "C" not in data or "M" not in data:
            raise ApproxDSEError(f"layer {data.get('name', '?')!r}: needs at least name, C and M")
        return cls(**data)

    @property
    def dims(self) -> dict[str, int]:
        """The loop bounds of one group's nest: N, M, C, P, Q, R, S (C and M per group)."""
        return {"N": self.N, "M": self.M_per_group, "C": self.C_per_group,
                "P": self.P, "Q": self.Q, "R": self.R, "S": self.S}

    def renamed(self, name: str) -> "Layer":
        """The same layer under another name."""
        return replace(self, name=name)

    def describe(self) -> str:
        """A short human-readable shape, e.g. ``conv 64->128 3x3/2 28x28``."""
        if self.kind == "fc":
            return f"fc {self.C}->{self.M}" + (f" x{self.N}" if self.N > 1 else "")
        text = f"conv {self.C}->{self.M} {self.R}x{self.S}"
        if self.stride_h != 1 or self.stride_w != 1:
            text += f"/{self.stride_h}" if self.stride_h == self.stride_w else f"/{self.stride_h}x{self.stride_w}"
        if self.is_depthwise:
            text += " dw"
        elif self.groups > 1:
            text += f" g{self.groups}"
        return text + f" {self.P}x{self.Q}"


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

    def __getitem__(self, key: int | str) -> Layer:
        """A layer by position or by name."""
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise ApproxDSEError(f"workload {self.name!r} has no layer named {key!r}")
        return self.layers[key]

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def unique_shapes(self) -> dict[tuple, list[Layer]]:
        """Layers grouped by :meth:`Layer.shape_key` (first-seen order): what a mapper must solve."""
        groups: dict[tuple, list[Layer]] = {}
        for layer in self.layers:
            groups.setdefault(layer.shape_key(), []).append(layer)
        return groups

    def to_dict(self) -> dict:
        return {"name": self.name, "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Workload":
        if not isinstance(data, dict) or "layers" not in data:
            raise ApproxDSEError("a workload needs a 'layers' list")
        return cls(str(data.get("name", "workload")), tuple(Layer.from_dict(d) for d in data["layers"]))

    def to_json(self, path: str | Path | None = None) -> str:
        """The workload as JSON text; also written to ``path`` (atomically) if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            atomic_write_text(path, text)
        return text

    @classmethod
    def from_json(cls, path: str | Path) -> "Workload":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ApproxDSEError(f"cannot read workload JSON {str(path)!r}: {exc}") from None
        return cls.from_dict(data)

    def to_dataframe(self):
        """One row per layer with its fields and MACs/weights (a pandas DataFrame)."""
        import pandas as pd

        rows = []
        for layer in self.layers:
            row = layer.to_dict()
            row.update(macs=layer.macs, weights=layer.weights, inputs=layer.inputs, outputs=layer.outputs)
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """A plain-text table: one line per layer and the totals."""
        width = max(len(n) for n in self.names)
        lines = [f"{self.name}: {len(self)} layers, {self.macs / 1e6:,.1f} M MACs, {self.weights / 1e6:,.2f} M weights"]
        for layer in self.layers:
            lines.append(f"  {layer.name:<{width}}  {layer.describe():<32} {layer.macs / 1e6:10.2f} M MACs")
        return "\n".join(lines)
