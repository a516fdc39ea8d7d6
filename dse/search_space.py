"""The search space as pymoo mixed variables: a CNN genome plus its multiplier choice(s).

A candidate design is a :class:`Candidate`: a :class:`~approxdse.networks.genome.Genome` and
the multiplier of each layer (one name for the whole network by default; one per
conv / linear layer with ``assignment: layer``).

:class:`SearchSpace` encodes candidates as a fixed set of named pymoo
variables (a dict per individual):

========================  ==========  =============================================
variable                  type        meaning
========================  ==========  =============================================
``n_stages``              Integer     active stages, 1..max_stages
``stem_width``            Integer     index into :attr:`SearchSpace.channels`
``stem_kernel``           Choice      stem kernel size
``stem_stride``           Choice      stem stride
``s{i}_kind``             Choice      block kind of stage i (all its blocks)
``s{i}_blocks``           Integer     blocks in stage i, 1..max_blocks_per_stage
``s{i}_width``            Integer     index into :attr:`SearchSpace.channels`
``s{i}_kernel``           Choice      kernel size of stage i
``s{i}_stride``           Choice      stride of stage i's first block
``s{i}_expansion``        Integer     index into the kind's expansion options
``mult``                  Integer     (network assignment) index into :attr:`multipliers`
``m_stem``, ``m_s{i}b{j}r{k}``,
``m_classifier``          Integer     (layer assignment) multiplier of the stem, of the
                                      k-th conv of block j of stage i, of the classifier
``..._g{k}``              Integer     (``granularity: channel``) each multiplier variable
                                      above, once per channel group k < G
========================  ==========  =============================================

With ``granularity: channel`` every layer's output channels form G groups
(:func:`channel_group_sizes`: group k holds channels ``[k*M//G, (k+1)*M//G)``
of the layer's resilience order, group 0 the most resilient; see
:mod:`approxdse.emulator.kernelwise`), and each group has its own multiplier
(per network: ``mult_g{k}`` for group k of every layer; per layer:
``m_stem_g{k}`` ...). The energy model prices a layer at the channel-weighted
mean of its groups' multipliers; the evaluation ranks the trained network's
channels and gives group k's channels group k's multiplier.

Widths and multipliers are integer indices into sorted lists (channels
ascending, multipliers by decreasing energy), so pymoo's integer crossover and
mutation move to *neighbouring* widths and energies. Stages follow the generator's
convention: every block of a stage shares kind, width, kernel and expansion;
the first block carries the stride. Variables of inactive stages / blocks are
reset to canonical values (:meth:`SearchSpace.canonical`), so two vectors that
decode to the same network compare equal and pymoo's duplicate elimination
sees them as one.

Decoding repairs networks outside the generator's bounds (too deep, feature
map too small, too many MACs) by dropping blocks, removing strides and halving
widths; whatever still violates them is marked by :meth:`Candidate`'s
``in_space`` flag and treated as infeasible by the search.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.genome import BlockGene, Genome, StageGene
from approxdse.networks.generator import GeneratorSpace, in_space
from approxdse import multipliers

#: The widths a stage may take (those inside the space's bounds, plus the bounds).
WIDTH_LADDER = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
#: At most this many convs in one block (bottleneck: 3 + projection; dwsep: 3).
MAX_LAYERS_PER_BLOCK = 4


def channel_group_sizes(channels: int, groups: int) -> list[int]:
    """How many of a layer's ``channels`` output channels fall in each of ``groups`` groups
    (group k holds ``[k*M//G, (k+1)*M//G)``; a layer with fewer channels than groups has empty groups)."""
    return [(k + 1) * channels // groups - k * channels // groups for k in range(groups)]


@dataclass(frozen=True)
class Candidate:
    """A design point: a network and the multiplier of every one of its layers.

    ``multipliers`` holds one name (same multiplier everywhere) or one name per
    layer of ``genome.to_workload()``, in order. With ``channel_groups`` G > 1
    it holds G names (group k of every layer) or G names per layer (layer-major):
    the multiplier of each resilience-ranked channel group.
    """

    genome: Genome
    multipliers: tuple[str, ...]
    in_space: bool = True
    channel_groups: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "multipliers", tuple(self.multipliers))
        if not self.multipliers:
            raise ApproxDSEError("a candidate needs at least one multiplier")
        if int(self.channel_groups) < 1 or len(self.multipliers) % int(self.channel_groups):
            raise ApproxDSEError(f"a candidate with {self.channel_groups} channel groups needs a multiple of "
                                 f"{self.channel_groups} multipliers, got {len(self.multipliers)}")

    @property
    def per_layer(self) -> bool:
        return len(self.multipliers) > 1

    def layer_names(self) -> list[str]:
        return [spec.name for spec in self.genome.conv_specs()]

    def group_multipliers(self) -> dict[str, tuple[str, ...]]:
        """``{layer name: (multiplier of channel group 0, 1, ...)}`` (one entry per layer without groups)."""
        names = self.layer_names()
        g = int(self.channel_groups)
        if len(self.multipliers) == g:
            return {n: self.multipliers for n in names}
        if len(names) * g != len(self.multipliers):
            raise ApproxDSEError(f"candidate has {len(self.multipliers)} multipliers for {len(names)} layers "
                                 f"x {g} channel groups")
        return {n: self.multipliers[i * g:(i + 1) * g] for i, n in enumerate(names)}

    def layer_multipliers(self) -> dict[str, Any]:
        """``{layer name: multiplier name}`` for every conv / linear layer; with channel groups,
        ``{layer name: [multiplier name per output channel]}`` (channels in resilience order)."""
        if self.channel_groups > 1:
            widths = {layer.name: layer.M for layer in self.genome.to_workload().layers}
            out = {}
            for name, groups in self.group_multipliers().items():
                sizes = channel_group_sizes(widths[name], self.channel_groups)
                out[name] = [m for m, size in zip(groups, sizes) for _ in range(size)]
            return out
        names = self.layer_names()
        if not self.per_layer:
            return {n: self.multipliers[0] for n in names}
        if len(names) != len(self.multipliers):
            raise ApproxDSEError(f"candidate has {len(self.multipliers)} multipliers for {len(names)} layers")
        return dict(zip(names, self.multipliers))

    @property
    def multiplier_label(self) -> str:
        """One name, or ``mixed(a, b, ...)`` listing the distinct names of a per-layer choice."""
        distinct = sorted(set(self.multipliers))
        return distinct[0] if len(distinct) == 1 else f"mixed({', '.join(distinct)})"

    def to_dict(self) -> dict:
        out = {"genome": self.genome.to_dict(), "multipliers": list(self.multipliers), "in_space": self.in_space}
        if self.channel_groups > 1:
            out["channel_groups"] = int(self.channel_groups)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Candidate":
        return cls(Genome.from_dict(data["genome"]), tuple(data["multipliers"]), bool(data.get("in_space", True)),
                   int(data.get("channel_groups", 1)))

    def key(self) -> str:
        """A stable hash of genome and multipliers (the cache key of an evaluation)."""
        parts = [self.genome.key(), list(self.multipliers)]
        if self.channel_groups > 1:
            parts.append(int(self.channel_groups))
        text = json.dumps(parts, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def channel_options(space: GeneratorSpace) -> tuple[int, ...]:
    """The widths a stage may take in ``space``: the ladder inside the bounds, plus the bounds."""
    opts = {c for c in WIDTH_LADDER if space.min_channels <= c <= space.max_channels}
    opts |= {space.min_channels, space.max_channels}
    return tuple(sorted(opts))


@dataclass
class SearchSpace:
    """Genome bounds plus multiplier choices, as named pymoo variables (see the module docstring).

    Build it from a config with :meth:`from_config`, or directly::

        space = SearchSpace(GeneratorSpace.preset("digits"), ("u8_exact", "u8_bam_2_4"))
    """

    network: GeneratorSpace
    multipliers: tuple[str, ...]
    assignment: str = "network"
    granularity: str = "layer"
    channel_groups: int = 4
    channels: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.assignment not in ("network", "layer"):
            raise ApproxDSEError(f"assignment must be 'network' or 'layer', got {self.assignment!r}")
        if self.granularity not in ("layer", "channel"):
            raise ApproxDSEError(f"granularity must be 'layer' or 'channel', got {self.granularity!r}")
        if int(self.channel_groups) < 1:
            raise ApproxDSEError(f"channel_groups must be at least 1, got {self.channel_groups}")
        self.multipliers = tuple(self.multipliers)
        if not self.multipliers:
            raise ApproxDSEError("the search space needs at least one multiplier")
        self.channels = channel_options(self.network)

    # ---------------------------------------------------------------- building
    @classmethod
    def from_config(cls, config) -> "SearchSpace":
        """The space of a :class:`dse.config.SearchConfig` (multiplier names checked against the library)."""
        network = dict(config.space.network)
        if "preset" not in network and "input_shape" not in network:
            network["preset"] = "digits" if config.dataset.name == "digits" else "cifar"
        try:
            gen = GeneratorSpace.from_dict(network)
        except ApproxDSEError as exc:
            raise ApproxDSEError(f"space.network: {exc}") from None
        except TypeError as exc:
            raise ApproxDSEError(f"space.network: {exc}") from None
        return cls(gen, config.space.multipliers.resolve(), config.space.assignment,
                   getattr(config.space, "granularity", "layer"), getattr(config.space, "channel_groups", 4))

    @property
    def groups(self) -> int:
        """Channel groups per layer (1 unless ``granularity`` is ``channel``)."""
        return int(self.channel_groups) if self.granularity == "channel" else 1

    def _grouped(self, name: str) -> list[str]:
        g = self.groups
        return [name] if g == 1 else [f"{name}_g{k}" for k in range(g)]

    # ---------------------------------------------------------------- variables
    def _expansions(self, kind: str) -> tuple[int, ...]:
        if kind == "bottleneck":
            return tuple(self.network.bottleneck_expansions) or (1,)
        if kind == "dwsep":
            return tuple(self.network.dwsep_expansions) or (1,)
        return (1,)

    @property
    def max_expansion_options(self) -> int:
        return max(len(self._expansions(k)) for k in self.network.block_kinds)

    def layer_slots(self) -> list[str]:
        """Names of the per-layer multiplier variables (layer assignment only)."""
        slots = ["m_stem"]
        for i in range(self.network.max_stages):
            for j in range(self.network.max_blocks_per_stage):
                slots += [f"m_s{i}b{j}r{k}" for k in range(MAX_LAYERS_PER_BLOCK)]
        return slots + ["m_classifier"]

    def variables(self) -> dict[str, Any]:
        """The pymoo variables, by name (a fresh dict of ``pymoo.core.variable`` objects)."""
        from pymoo.core.variable import Choice, Integer

        g = self.network
        nch = len(self.channels) - 1
        v: dict[str, Any] = {
            "n_stages": Integer(bounds=(1, g.max_stages)),
            "stem_width": Integer(bounds=(0, nch)),
            "stem_kernel": Choice(options=list(g.stem_kernels)),
            "stem_stride": Choice(options=list(g.stem_strides)),
        }
        for i in range(g.max_stages):
            v[f"s{i}_kind"] = Choice(options=list(g.block_kinds))
            v[f"s{i}_blocks"] = Integer(bounds=(1, g.max_blocks_per_stage))
            v[f"s{i}_width"] = Integer(bounds=(0, nch))
            v[f"s{i}_kernel"] = Choice(options=list(g.kernels))
            v[f"s{i}_stride"] = Choice(options=list(g.strides))
            v[f"s{i}_expansion"] = Integer(bounds=(0, max(self.max_expansion_options - 1, 0)))
        nm = len(self.multipliers) - 1
        slots = ["mult"] if self.assignment == "network" else self.layer_slots()
        for slot in slots:
            for name in self._grouped(slot):
                v[name] = Integer(bounds=(0, nm))
        return v

    # ---------------------------------------------------------------- decode / encode
    def decode(self, x: Mapping[str, Any]) -> Candidate:
        """The candidate a variable dict stands for (repaired into the generator's bounds where possible)."""
        g = self.network
        x = {k: (v.item() if hasattr(v, "item") else v) for k, v in x.items()}
        n_stages = int(np.clip(int(x["n_stages"]), 1, g.max_stages))
        width = self._width(x["stem_width"])
        stages = []
        for i in range(n_stages):
            kind = str(x[f"s{i}_kind"])
            exps = self._expansions(kind)
            expansion = exps[int(x[f"s{i}_expansion"]) % len(exps)]
            n_blocks = int(np.clip(int(x[f"s{i}_blocks"]), 1, g.max_blocks_per_stage))
            w = self._width(x[f"s{i}_width"])
            kernel, stride = int(x[f"s{i}_kernel"]), int(x[f"s{i}_stride"])
            stages.append([kind, n_blocks, w, kernel, stride, expansion])
        genome = self._repair(width, int(x["stem_kernel"]), int(x["stem_stride"]), stages)
        ok = in_space(genome, g)
        return Candidate(genome, self._decode_multipliers(x, genome), ok, self.groups)

    def _width(self, index: Any) -> int:
        return self.channels[int(np.clip(int(index), 0, len(self.channels) - 1))]

    def _genome(self, stem_width: int, stem_kernel: int, stem_stride: int, stages: list) -> Genome:
        built = []
        for kind, n_blocks, w, kernel, stride, expansion in stages:
            blocks = tuple(BlockGene(kind, w, kernel, stride if j == 0 else 1, expansion) for j in range(n_blocks))
            built.append(StageGene(blocks))
        g = self.network
        return Genome(tuple(int(v) for v in g.input_shape), g.num_classes, tuple(built),
                      stem_channels=stem_width, stem_kernel=stem_kernel, stem_stride=stem_stride)

    def _repair(self, stem_width: int, stem_kernel: int, stem_stride: int, stages: list) -> Genome:
        """Bring a decoded network inside the generator's bounds, deterministically, where that is possible."""
        g = self.network
        stages = [list(s) for s in stages]
        genome = self._genome(stem_width, stem_kernel, stem_stride, stages)
        # Feature map too small: drop strides from the last stage backwards.
        i = len(stages) - 1
        while min(genome.output_hw) < g.min_output_size and i >= -1:
            if i >= 0 and stages[i][4] > 1:
                stages[i][4] = 1
            elif i == -1 and stem_stride > 1:
                stem_stride = 1
            i -= 1
            genome = self._genome(stem_width, stem_kernel, stem_stride, stages)
        # Too deep: drop the last block of the deepest stage (ties: the later stage).
        while genome.num_conv_layers > g.max_conv_layers:
            j = max(range(len(stages)), key=lambda k: (stages[k][1], k))
            if stages[j][1] > 1:
                stages[j][1] -= 1
            elif len(stages) > 1:
                stages.pop()
            else:
                break
            genome = self._genome(stem_width, stem_kernel, stem_stride, stages)
        # Too heavy: step the widest stage's width down the ladder.
        while g.max_macs is not None and genome.macs > g.max_macs:
            widths = [stem_width] + [s[2] for s in stages]
            j = int(np.argmax(widths))
            k = self.channels.index(widths[j]) if widths[j] in self.channels else 0
            if k == 0:
                break
            if j == 0:
                stem_width = self.channels[k - 1]
            else:
                stages[j - 1][2] = self.channels[k - 1]
            genome = self._genome(stem_width, stem_kernel, stem_stride, stages)
        return genome

    def _decode_multipliers(self, x: Mapping[str, Any], genome: Genome) -> tuple[str, ...]:
        def name(index: Any) -> str:
            return self.multipliers[int(np.clip(int(index), 0, len(self.multipliers) - 1))]

        slots = ["mult"] if self.assignment == "network" else self._slots_of(genome)
        return tuple(name(x[v]) for slot in slots for v in self._grouped(slot))

    def _slots_of(self, genome: Genome) -> list[str]:
        """The multiplier variable of each layer of ``genome``, in workload order."""
        slots, seen = [], {}
        for spec in genome.conv_specs():
            if spec.name == "stem":
                slots.append("m_stem")
            elif spec.name == "classifier":
                slots.append("m_classifier")
            else:
                _, i, j, _role = spec.name.split(".", 3)
                k = seen.get((i, j), 0)
                seen[(i, j)] = k + 1
                slots.append(f"m_s{i}b{j}r{min(k, MAX_LAYERS_PER_BLOCK - 1)}")
        return slots

    def encode(self, candidate: Candidate | Genome, multipliers: Sequence[str] | str | None = None) -> dict[str, Any]:
        """The canonical variable dict of a candidate (stages taken from their first block).

        ``decode(encode(c)) == c`` for every candidate whose stages are uniform
        (as the generator and :meth:`decode` make them) and whose values are options of this space.
        """
        if isinstance(candidate, Genome):
            mults = (multipliers,) if isinstance(multipliers, str) else tuple(multipliers or (self.multipliers[0],))
            if len(mults) == 1:
                mults = mults * self.groups
            if self.assignment == "layer" and len(mults) == self.groups:
                mults = mults * len(candidate.conv_specs())
            candidate = Candidate(candidate, mults, True, self.groups)
        if candidate.channel_groups != self.groups:
            raise ApproxDSEError(f"the candidate has {candidate.channel_groups} channel groups; the space "
                                 f"{self.groups}")
        genome = candidate.genome
        g = self.network
        if len(genome.stages) > g.max_stages:
            raise ApproxDSEError(f"genome has {len(genome.stages)} stages; the space allows {g.max_stages}")

        def width_index(w: int) -> int:
            return int(np.argmin([abs(c - w) for c in self.channels]))

        def mult_index(name: str) -> int:
            if name not in self.multipliers:
                raise ApproxDSEError(f"multiplier {name!r} is not in the search space")
            return self.multipliers.index(name)

        x: dict[str, Any] = {
            "n_stages": len(genome.stages),
            "stem_width": width_index(genome.stem_channels),
            "stem_kernel": genome.stem_kernel,
            "stem_stride": genome.stem_stride,
        }
        for i in range(g.max_stages):
            if i < len(genome.stages):
                first = genome.stages[i].blocks[0]
                exps = self._expansions(first.kind)
                x.update({
                    f"s{i}_kind": first.kind, f"s{i}_blocks": len(genome.stages[i]),
                    f"s{i}_width": width_index(first.out_channels), f"s{i}_kernel": first.kernel,
                    f"s{i}_stride": first.stride,
                    f"s{i}_expansion": exps.index(first.expansion) if first.expansion in exps else 0,
                })
        if self.assignment == "network":
            if len(candidate.multipliers) != self.groups:
                if len(set(candidate.multipliers)) > 1:
                    raise ApproxDSEError("a per-layer multiplier choice does not fit a network-assignment space")
            names = candidate.multipliers[:self.groups] * (self.groups // len(candidate.multipliers[:self.groups]))
            for var, name in zip(self._grouped("mult"), names):
                x[var] = mult_index(name)
        else:
            layers = len(candidate.layer_names())
            names = candidate.multipliers * (layers if len(candidate.multipliers) == self.groups else 1)
            variables = [v for slot in self._slots_of(genome) for v in self._grouped(slot)]
            for var, name in zip(variables, names):
                x[var] = mult_index(name)
        return self.canonical(x)

    def canonical(self, x: Mapping[str, Any]) -> dict[str, Any]:
        """``x`` with every inactive variable reset to its lowest option (and values as plain Python)."""
        variables = self.variables()
        out: dict[str, Any] = {}
        n_stages = int(x["n_stages"])
        active_slots = None
        if self.assignment == "layer":
            active_slots = set(self._slots_of(self.decode_genome_only(x)))
        for name, var in variables.items():
            value = x.get(name)
            active = True
            if name.startswith("s") and name[1].isdigit():
                active = int(name[1:].split("_")[0]) < n_stages
            elif name.startswith("m_") and active_slots is not None:
                active = (name.rsplit("_g", 1)[0] if self.groups > 1 else name) in active_slots
            if value is None or not active:
                value = var.options[0] if hasattr(var, "options") else var.bounds[0]
            out[name] = value.item() if hasattr(value, "item") else value
        return out

    def decode_genome_only(self, x: Mapping[str, Any]) -> Genome:
        """The (repaired) genome of ``x``, ignoring its multipliers."""
        y = {**{v: 0 for slot in self.layer_slots() + ["mult"] for v in self._grouped(slot)}, **dict(x)}
        return self.decode(y).genome

    # ---------------------------------------------------------------- sampling and bounds
    def sample(self, rng: np.random.Generator | int) -> dict[str, Any]:
        """One uniformly drawn, canonical variable dict."""
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        x: dict[str, Any] = {}
        for name, var in self.variables().items():
            if hasattr(var, "options"):
                x[name] = var.options[int(rng.integers(len(var.options)))]
            else:
                lo, hi = var.bounds
                x[name] = int(rng.integers(lo, hi + 1))
        return self.canonical(x)

    def exact_multiplier(self) -> str | None:
        """The exact multiplier in the space, if any (the baseline savings are measured against)."""
        for name in self.multipliers:
            if multipliers.get(name).is_exact:
                return name
        return None

    def min_params(self) -> int:
        """Weights of the smallest one-stage, one-block network the space allows (a lower bound)."""
        g = self.network
        best = None
        for kind in g.block_kinds:
            for exp in self._expansions(kind):
                k = min(g.kernels)
                genome = self._genome(self.channels[0], min(g.stem_kernels), max(g.stem_strides),
                                      [[kind, 1, self.channels[0], k, max(g.strides), exp]])
                weights = genome.to_workload().weights
                best = weights if best is None else min(best, weights)
        return int(best)
