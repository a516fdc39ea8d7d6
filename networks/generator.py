"""The random CNN generator: samples :class:`~approxdse.networks.genome.Genome` objects from a bounded space.

EvoApproxNAS-like variety: 2-30 conv layers in 1-5 stages; plain, residual,
bottleneck and depthwise-separable blocks; 8-512 channels; kernels 1/3/5/7;
stride-1 and stride-2 stages; presets for 8x8x1 digits, 32x32x3 CIFAR and
224x224x3 ImageNet inputs. Everything is drawn from one ``numpy`` Generator,
so a seed fixes the genome.

>>> from approxdse.networks.generator import GeneratorSpace, sample_genome
>>> g = sample_genome(0, GeneratorSpace.preset("cifar"))
>>> g == sample_genome(0, GeneratorSpace.preset("cifar"))
True
>>> 2 <= g.num_conv_layers <= 30
True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, Sequence

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.genome import BLOCK_KINDS, BlockGene, Genome, StageGene, _out_size

#: Width multipliers a stage may apply to the previous width.
WIDTH_STEPS = (0.5, 1.0, 1.0, 1.5, 2.0, 2.0)


@dataclass(frozen=True)
class GeneratorSpace:
    """Bounds of the random CNN space.

    ``min_conv_layers``/``max_conv_layers`` count every conv (stem, block convs,
    projection shortcuts), not the classifier. ``max_macs`` (optional) rejects
    networks heavier than that. ``min_output_size`` keeps the last feature map
    at least that many pixels wide.
    """

    input_shape: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10
    min_conv_layers: int = 2
    max_conv_layers: int = 30
    block_kinds: tuple[str, ...] = BLOCK_KINDS
    min_channels: int = 8
    max_channels: int = 512
    kernels: tuple[int, ...] = (1, 3, 5, 7)
    strides: tuple[int, ...] = (1, 2)
    bottleneck_expansions: tuple[int, ...] = (2, 4)
    dwsep_expansions: tuple[int, ...] = (1, 2, 4, 6)
    max_stages: int = 5
    max_blocks_per_stage: int = 4
    stem_kernels: tuple[int, ...] = (3, 5, 7)
    stem_strides: tuple[int, ...] = (1,)
    min_output_size: int = 1
    max_macs: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        if len(self.input_shape) != 3 or any(int(v) <= 0 for v in self.input_shape):
            raise ApproxDSEError(f"generator space: input_shape must be (C, H, W), got {self.input_shape!r}")
        if not 1 <= self.min_conv_layers <= self.max_conv_layers:
            raise ApproxDSEError(
                f"generator space: need 1 <= min_conv_layers <= max_conv_layers, got "
                f"{self.min_conv_layers}..{self.max_conv_layers}"
            )
        if not 1 <= self.min_channels <= self.max_channels:
            raise ApproxDSEError(
                f"generator space: need 1 <= min_channels <= max_channels, got {self.min_channels}..{self.max_channels}"
            )
        bad = [k for k in self.block_kinds if k not in BLOCK_KINDS]
        if bad or not self.block_kinds:
            raise ApproxDSEError(
                f"generator space: block_kinds must be a non-empty subset of {', '.join(BLOCK_KINDS)}, got {self.block_kinds!r}"
            )
        for name in ("kernels", "stem_kernels"):
            ks = getattr(self, name)
            if not ks or any(k <= 0 or k % 2 == 0 for k in ks):
                raise ApproxDSEError(f"generator space: {name} must be odd positive sizes, got {ks!r}")
        if not self.strides or any(s <= 0 for s in self.strides) or not self.stem_strides:
            raise ApproxDSEError(f"generator space: strides must be positive, got {self.strides!r}")
        if self.max_stages < 1 or self.max_blocks_per_stage < 1:
            raise ApproxDSEError("generator space: max_stages and max_blocks_per_stage must be at least 1")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "GeneratorSpace":
        """``digits`` (1x8x8), ``cifar`` (3x32x32) or ``imagenet`` (3x224x224), with optional overrides."""
        if name not in PRESETS:
            raise ApproxDSEError(f"unknown generator preset {name!r}; known: {', '.join(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GeneratorSpace":
        """Build a space from a mapping; a ``preset`` key starts from that preset."""
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"preset"}
        if unknown:
            raise ApproxDSEError(f"generator space has unknown keys: {', '.join(sorted(unknown))}")
        preset = data.pop("preset", None)
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        if preset is not None:
            return cls.preset(preset, **data)
        return cls(**data)


PRESETS: dict[str, GeneratorSpace] = {
    "digits": GeneratorSpace(
        input_shape=(1, 8, 8), num_classes=10, max_channels=256, stem_kernels=(3,), max_macs=200_000_000
    ),
    "cifar": GeneratorSpace(input_shape=(3, 32, 32), num_classes=10, max_macs=2_000_000_000),
    "imagenet": GeneratorSpace(
        input_shape=(3, 224, 224),
        num_classes=1000,
        stem_kernels=(3, 5, 7),
        stem_strides=(2, 4),
        min_output_size=4,
        max_macs=10_000_000_000,
    ),
}


def _rng(seed_or_rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is not None and (not isinstance(seed_or_rng, (int, np.integer)) or seed_or_rng < 0):
        raise ApproxDSEError(f"a seed must be a non-negative integer, got {seed_or_rng!r}")
    return np.random.default_rng(seed_or_rng)


def _snap_channels(value: float, space: GeneratorSpace) -> int:
    """Round to a multiple of 8 (or of min_channels below 8) inside the channel bounds."""
    step = 8 if space.min_channels >= 8 else 1
    snapped = int(round(value / step)) * step
    return int(min(max(snapped, space.min_channels), space.max_channels))


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _draw(rng: np.random.Generator, space: GeneratorSpace) -> Genome:
    c, h, w = space.input_shape
    stem_stride = _pick(rng, space.stem_strides)
    if _out_size(min(h, w), stem_stride) < space.min_output_size:
        stem_stride = 1
    stem_channels = _snap_channels(
        float(rng.choice([8, 16, 24, 32, 48, 64])) * (1 + (min(h, w) >= 128)), space
    )
    size = _out_size(min(h, w), stem_stride)
    stem_kernel = _pick(rng, [k for k in space.stem_kernels if k <= max(size * stem_stride, 1)] or [1])
    width = stem_channels
    stages = []
    for _ in range(int(rng.integers(1, space.max_stages + 1))):
        kind = _pick(rng, space.block_kinds)
        n_blocks = int(rng.integers(1, space.max_blocks_per_stage + 1))
        kernels = [k for k in space.kernels if k <= max(size, 1)] or [1]
        if kind == "dwsep":
            kernels = [k for k in kernels if k > 1] or kernels
        kernel = _pick(rng, kernels)
        strides = [s for s in space.strides if _out_size(size, s) >= space.min_output_size] or [1]
        stride = _pick(rng, strides)
        width = _snap_channels(width * _pick(rng, WIDTH_STEPS) * (1.5 if stride > 1 else 1.0), space)
        if kind == "bottleneck":
            expansion = _pick(rng, space.bottleneck_expansions)
        elif kind == "dwsep":
            expansion = _pick(rng, space.dwsep_expansions)
        else:
            expansion = 1
        blocks = [BlockGene(kind, width, kernel, stride if j == 0 else 1, expansion) for j in range(n_blocks)]
        stages.append(StageGene(tuple(blocks)))
        size = _out_size(size, stride)
    return Genome(
        input_shape=tuple(int(v) for v in space.input_shape),
        num_classes=space.num_classes,
        stages=tuple(stages),
        stem_channels=stem_channels,
        stem_kernel=stem_kernel,
        stem_stride=stem_stride,
    )


def in_space(genome: Genome, space: GeneratorSpace) -> bool:
    """Whether a genome respects the space's depth, MAC and output-size bounds."""
    if not space.min_conv_layers <= genome.num_conv_layers <= space.max_conv_layers:
        return False
    if min(genome.output_hw) < space.min_output_size:
        return False
    return space.max_macs is None or genome.macs <= space.max_macs


def sample_genome(
    seed_or_rng: int | np.random.Generator | None = None,
    space: GeneratorSpace | str | None = None,
    max_tries: int = 10_000,
) -> Genome:
    """Draw one genome from ``space`` (a :class:`GeneratorSpace` or a preset name; default CIFAR).

    Draws are rejected until one satisfies :func:`in_space`; the result is a
    function of the seed (or of the Generator's state) alone.
    """
    if space is None:
        space = PRESETS["cifar"]
    elif isinstance(space, str):
        space = GeneratorSpace.preset(space)
    rng = _rng(seed_or_rng)
    for _ in range(max_tries):
        genome = _draw(rng, space)
        if in_space(genome, space):
            return genome
    raise ApproxDSEError(f"no genome within the space's bounds after {max_tries} draws; widen the bounds")


def sample_genomes(
    n: int, seed: int = 0, space: GeneratorSpace | str | None = None, unique: bool = True
) -> list[Genome]:
    """``n`` genomes drawn in sequence from one seed (distinct keys when ``unique``)."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ApproxDSEError(f"the number of genomes must be a non-negative integer, got {n!r}")
    rng = _rng(seed)
    out: list[Genome] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        genome = sample_genome(rng, space)
        tries += 1
        if unique and genome.key() in seen:
            if tries > 100 * (n + 10):
                raise ApproxDSEError(f"the generator space holds fewer than {n} distinct genomes")
            continue
        seen.add(genome.key())
        out.append(genome)
    return out
