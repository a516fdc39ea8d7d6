"""The CNN genome: a network described as a stem, stages of blocks, and a classifier.

A :class:`Genome` is a small, frozen, JSON-safe description of a CNN. It
becomes a ``torch.nn.Module`` (:meth:`Genome.to_module`) and, analytically,
a :class:`approxdse.networks.workload.Workload` (:meth:`Genome.to_workload`) whose
layers are exactly the conv / linear layers the module runs, in execution
order, named by their module paths.

Network layout::

    stem:        conv(k x k, stride) + BN + ReLU          in_channels -> stem_channels
    stages[i]:   blocks, each one of
      plain:       conv(k x k, stride) + BN + ReLU
      residual:    conv(k, stride)+BN+ReLU, conv(k)+BN, (+ 1x1 projection+BN when the
                   shape changes), add, ReLU                       (ResNet basic block)
      bottleneck:  conv1x1 -> mid +BN+ReLU, conv(k, stride) mid->mid +BN+ReLU,
                   conv1x1 mid -> out +BN, (+ projection), add, ReLU,
                   mid = max(8, out // expansion)                   (ResNet bottleneck)
      dwsep:       [conv1x1 in -> in*expansion +BN+ReLU when expansion > 1],
                   depthwise conv(k, stride) +BN+ReLU, conv1x1 -> out +BN(+ReLU),
                   residual add when stride 1, in == out and expansion > 1
                   (MobileNet v1 block for expansion 1, MobileNetV2 block otherwise)
    head:        global average pooling, linear -> num_classes

Every conv uses "same" padding ``k // 2``, so a layer with stride ``s`` maps a
spatial size ``H`` to ``(H - 1) // s + 1`` whatever its kernel.

The torch classes live in :mod:`approxdse.networks.torch_modules`, imported by
:meth:`Genome.to_module` only, so that importing this module stays torch-free.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer, Workload

BLOCK_KINDS = ("plain", "residual", "bottleneck", "dwsep")
KERNELS = (1, 3, 5, 7)

#: Bump when the genome -> module / workload translation changes (it enters dataset manifests).
GENOME_VERSION = 1


def _positive_int(owner: str, key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ApproxDSEError(f"{owner}: {key} must be a positive integer, got {value!r}")


def _out_size(size: int, stride: int) -> int:
    """Output size of a "same"-padded conv (padding k // 2, odd k) with this stride."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class BlockGene:
    """One block: its kind, output channels, kernel size, stride and expansion factor.

    ``expansion`` is the bottleneck reduction (mid = out // expansion) or the
    depthwise-separable expansion (hidden = in * expansion); plain and
    residual blocks ignore it (keep it 1).
    """

    kind: str
    out_channels: int
    kernel: int = 3
    stride: int = 1
    expansion: int = 1

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise ApproxDSEError(
                f"block kind must be one of {', '.join(BLOCK_KINDS)}, got {self.kind!r}"
            )
        for key in ("out_channels", "kernel", "stride", "expansion"):
            _positive_int(f"{self.kind} block", key, getattr(self, key))
        if self.kernel % 2 == 0:
            raise ApproxDSEError(f"{self.kind} block: kernel must be odd, got {self.kernel}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def mid_channels(self) -> int:
        """Width of a bottleneck block's inner convs (:func:`bottleneck_mid`)."""
        return bottleneck_mid(self)

    def has_projection(self, in_channels: int) -> bool:
        """Whether this block adds a 1x1 projection conv on its shortcut."""
        return block_has_projection(self, in_channels)

    def has_identity(self, in_channels: int) -> bool:
        """Whether this block adds its input unchanged to its output."""
        return block_has_identity(self, in_channels)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BlockGene":
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ApproxDSEError(f"bad block description {dict(data)!r}: {exc}") from None


@dataclass(frozen=True)
class StageGene:
    """A sequence of blocks (usually one kind; the first block typically downsamples)."""

    blocks: tuple[BlockGene, ...]

    def __post_init__(self) -> None:
        blocks = tuple(b if isinstance(b, BlockGene) else BlockGene.from_dict(b) for b in self.blocks)
        if not blocks:
            raise ApproxDSEError("a stage needs at least one block")
        object.__setattr__(self, "blocks", blocks)

    def __iter__(self) -> Iterator[BlockGene]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def to_dict(self) -> dict:
        return {"blocks": [b.to_dict() for b in self.blocks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StageGene":
        if not isinstance(data, Mapping) or "blocks" not in data:
            raise ApproxDSEError(f"a stage must be a mapping with 'blocks', got {data!r}")
        return cls(tuple(BlockGene.from_dict(b) for b in data["blocks"]))


@dataclass(frozen=True)
class ConvSpec:
    """One conv (or linear) layer of a genome's network, in execution order."""

    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    groups: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    kind: str = "conv"  # "conv" or "fc"


@dataclass(frozen=True)
class Genome:
    """A CNN: input shape ``(C, H, W)``, stem conv, stages of blocks, linear classifier.

    Examples
    --------
    >>> g = Genome((3, 32, 32), 10, stem_channels=16,
    ...            stages=(StageGene((BlockGene("residual", 32, 3, 2),)),))
    >>> [l.name for l in g.to_workload().layers]
    ['stem', 'stages.0.0.conv1', 'stages.0.0.conv2', 'stages.0.0.shortcut', 'classifier']
    """

    input_shape: tuple[int, int, int]
    num_classes: int
    stages: tuple[StageGene, ...]
    stem_channels: int = 16
    stem_kernel: int = 3
    stem_stride: int = 1
    version: int = GENOME_VERSION

    def __post_init__(self) -> None:
        shape = tuple(self.input_shape)
        if len(shape) != 3:
            raise ApproxDSEError(f"input_shape must be (C, H, W), got {self.input_shape!r}")
        for key, value in zip(("input channels", "input height", "input width"), shape):
            _positive_int("genome", key, value)
        object.__setattr__(self, "input_shape", shape)
        stages = tuple(s if isinstance(s, StageGene) else StageGene.from_dict(s) for s in self.stages)
        if not stages:
            raise ApproxDSEError("a genome needs at least one stage")
        object.__setattr__(self, "stages", stages)
        for key in ("num_classes", "stem_channels", "stem_kernel", "stem_stride"):
            _positive_int("genome", key, getattr(self, key))
        if self.stem_kernel % 2 == 0:
            raise ApproxDSEError(f"genome: stem_kernel must be odd, got {self.stem_kernel}")
        if self.version != GENOME_VERSION:
            raise ApproxDSEError(
                f"genome version {self.version} is not supported (this approxdse reads version {GENOME_VERSION})"
            )

    # ----------------------------------------------------------------- identity
    def to_dict(self) -> dict:
        """A JSON-safe dict (lists, ints, strings) that :meth:`from_dict` reads back."""
        return {
            "version": self.version,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "stem_channels": self.stem_channels,
            "stem_kernel": self.stem_kernel,
            "stem_stride": self.stem_stride,
            "stages": [s.to_dict() for s in self.stages],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Genome":
        if not isinstance(data, Mapping):
            raise ApproxDSEError(f"a genome must be a mapping, got {type(data).__name__}")
        missing = {"input_shape", "num_classes", "stages"} - set(data)
        if missing:
            raise ApproxDSEError(f"genome description lacks {', '.join(sorted(missing))}")
        known = {"version", "input_shape", "num_classes", "stem_channels", "stem_kernel", "stem_stride", "stages"}
        unknown = set(data) - known
        if unknown:
            raise ApproxDSEError(f"genome description has unknown keys: {', '.join(sorted(unknown))}")
        kwargs = dict(data)
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
        kwargs["stages"] = tuple(StageGene.from_dict(s) for s in kwargs["stages"])
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApproxDSEError(f"genome JSON is malformed: {exc}") from None
        return cls.from_dict(data)

    def key(self) -> str:
        """A stable 16-hex-digit hash of the genome (same genome, same key, any process)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @property
    def default_name(self) -> str:
        return f"nas_{self.key()}"

    # ----------------------------------------------------------------- structure
    @property
    def blocks(self) -> list[BlockGene]:
        return [b for s in self.stages for b in s.blocks]

    def conv_specs(self) -> list[ConvSpec]:
        """Every conv and the final linear layer, in execution order, with their shapes."""
        c, h, w = self.input_shape
        specs: list[ConvSpec] = []

        def conv(name: str, cin: int, cout: int, k: int, s: int, groups: int = 1) -> None:
            nonlocal h, w
            oh, ow = _out_size(h, s), _out_size(w, s)
            specs.append(ConvSpec(name, cin, cout, k, s, groups, (h, w), (oh, ow)))
            h, w = oh, ow

        conv("stem", c, self.stem_channels, self.stem_kernel, self.stem_stride)
        c = self.stem_channels
        for i, stage in enumerate(self.stages):
            for j, b in enumerate(stage.blocks):
                p = f"stages.{i}.{j}"
                h0, w0 = h, w
                if b.kind == "plain":
                    conv(f"{p}.conv", c, b.out_channels, b.kernel, b.stride)
                elif b.kind == "residual":
                    conv(f"{p}.conv1", c, b.out_channels, b.kernel, b.stride)
                    conv(f"{p}.conv2", b.out_channels, b.out_channels, b.kernel, 1)
                elif b.kind == "bottleneck":
                    mid = bottleneck_mid(b)
                    conv(f"{p}.conv1", c, mid, 1, 1)
                    conv(f"{p}.conv2", mid, mid, b.kernel, b.stride)
                    conv(f"{p}.conv3", mid, b.out_channels, 1, 1)
                else:  # dwsep
                    hidden = c * b.expansion
                    if b.expansion > 1:
                        conv(f"{p}.expand", c, hidden, 1, 1)
                    conv(f"{p}.depthwise", hidden, hidden, b.kernel, b.stride, groups=hidden)
                    conv(f"{p}.pointwise", hidden, b.out_channels, 1, 1)
                if block_has_projection(b, c):
                    h1, w1 = h, w
                    h, w = h0, w0
                    conv(f"{p}.shortcut", c, b.out_channels, 1, b.stride)
                    assert (h, w) == (h1, w1)
                c = b.out_channels
        specs.append(ConvSpec("classifier", c, self.num_classes, 1, 1, 1, (1, 1), (1, 1), kind="fc"))
        return specs

    @property
    def num_conv_layers(self) -> int:
        """Conv layers (stem, block convs and projection shortcuts; not the classifier)."""
        return len(self.conv_specs()) - 1

    @property
    def output_hw(self) -> tuple[int, int]:
        """Spatial size of the last feature map (before global pooling)."""
        return self.conv_specs()[-2].out_hw

    @property
    def macs(self) -> int:
        return self.to_workload().macs

    # ----------------------------------------------------------------- translations
    def to_workload(self, name: str | None = None, batch: int = 1):
        """The network's layers as a :class:`~approxdse.networks.workload.Workload` (8-bit operands)."""
        layers = []
        for spec in self.conv_specs():
            if spec.kind == "fc":
                layers.append(Layer(spec.name, C=spec.in_channels, M=spec.out_channels, N=batch, kind="fc"))
                continue
            pad = spec.kernel // 2
            layers.append(
                Layer(
                    spec.name,
                    C=spec.in_channels,
                    M=spec.out_channels,
                    P=spec.out_hw[0],
                    Q=spec.out_hw[1],
                    R=spec.kernel,
                    S=spec.kernel,
                    N=batch,
                    stride_h=spec.stride,
                    stride_w=spec.stride,
                    pad_h=pad,
                    pad_w=pad,
                    groups=spec.groups,
                )
            )
        return Workload(name or self.default_name, tuple(layers))

    def to_module(self):
        """A freshly initialised ``torch.nn.Module`` (conv + BN + ReLU blocks, GAP, linear).

        The class is :class:`approxdse.networks.torch_modules.GenomeNet` (module level, so it pickles).
        """
        from approxdse.networks.torch_modules import GenomeNet  # lazy: imports torch (module docstring)

        return GenomeNet(self)


def bottleneck_mid(block: BlockGene) -> int:
    """Width of a bottleneck block's inner convs."""
    return max(8, block.out_channels // block.expansion)


def block_has_projection(block: BlockGene, in_channels: int) -> bool:
    """Whether a block adds a 1x1 projection conv on its shortcut."""
    if block.kind in ("residual", "bottleneck"):
        return block.stride != 1 or in_channels != block.out_channels
    return False


def block_has_identity(block: BlockGene, in_channels: int) -> bool:
    """Whether a block adds its input unchanged to its output."""
    if block.kind in ("residual", "bottleneck"):
        return not block_has_projection(block, in_channels)
    if block.kind == "dwsep":
        return block.stride == 1 and in_channels == block.out_channels and block.expansion > 1
    return False
