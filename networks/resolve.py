"""Networks as the predictors see them: resolving names and specs, JSON form, shape keys.

A *network* here is anything that becomes an :class:`approxdse.networks.workload.Workload`:
a Workload, a :class:`approxdse.networks.genome.Genome`, a zoo name, or a JSON mapping of either.

Dataset network specs (``approxdse dataset --networks``), comma-separated:

* ``nas:N``: N genomes from the CIFAR preset of the random generator
  (``nas-digits:N``, ``nas-cifar:N``, ``nas-imagenet:N`` pick a preset);
* ``resnet:N``: N ResNet-like genomes (CIFAR input; residual and bottleneck
  blocks only);
* ``layers:N``: N pseudo-networks of 12 random layers each from the layer-shape
  sampler (:mod:`approxdse.networks.layer_sampler`: odd channel counts, groups,
  depthwise 3-7, SE layers, stems, dilation), kind ``layers``;
* ``family:NAME``: the zoo networks of one architecture family (:func:`zoo.families`);
* ``zoo``: every network in :mod:`approxdse.networks.zoo`; ``zoo-resnets``: its ResNets;
* any zoo name (``resnet20``, ``mobilenet_v2``...).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from approxdse.core.errors import ApproxDSEError
from approxdse.networks import zoo
from approxdse.networks.generator import GeneratorSpace, sample_genomes
from approxdse.networks.genome import Genome
from approxdse.networks.layer_sampler import sample_layer_workloads
from approxdse.networks.workload import Layer, Workload


@dataclass(frozen=True)
class NetworkEntry:
    """One network of a dataset: name, kind (``nas``, ``resnet``, ``zoo``), workload, genome JSON."""

    name: str
    kind: str
    workload: Any  # approxdse.networks.workload.Workload
    genome_json: str | None = None

    @property
    def key(self) -> str:
        return workload_key(self.workload)


def workload_to_dict(workload) -> dict:
    return {"name": workload.name, "layers": [layer.to_dict() for layer in workload.layers]}


def workload_from_dict(data: Mapping[str, Any]):
    try:
        return Workload(data["name"], tuple(Layer(**dict(layer)) for layer in data["layers"]))
    except (KeyError, TypeError) as exc:
        raise ApproxDSEError(f"malformed workload description: {exc}") from None


def workload_to_json(workload) -> str:
    return json.dumps(workload_to_dict(workload), sort_keys=True, separators=(",", ":"))


def workload_from_json(text: str):
    try:
        return workload_from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ApproxDSEError(f"malformed workload JSON: {exc}") from None


def workload_key(workload) -> str:
    """A 16-hex-digit hash of the layer shapes in order (names ignored)."""
    text = json.dumps([list(map(list, layer.shape_key())) for layer in workload.layers], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def as_workload(network: Any, name: str | None = None):
    """A Workload from a Workload, Genome, zoo name, or a JSON-like mapping of a genome or workload."""
    if isinstance(network, Workload):
        return network
    if isinstance(network, Genome):
        return network.to_workload(name)
    if isinstance(network, str):
        return zoo.workload(network)
    if isinstance(network, Mapping):
        if "layers" in network:
            return workload_from_dict(network)
        if "stages" in network:
            return Genome.from_dict(network).to_workload(name)
    raise ApproxDSEError(
        f"cannot read a network from {type(network).__name__}; pass a Workload, Genome or zoo name"
    )


def _count(spec: str, text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ApproxDSEError(f"network spec {spec!r}: expected a count after ':', got {text!r}") from None
    if n < 0:
        raise ApproxDSEError(f"network spec {spec!r}: the count must be non-negative")
    return n


def resnet_space():
    """The generator space of ``resnet:N`` networks."""
    return GeneratorSpace.preset("cifar", block_kinds=("residual", "bottleneck"), kernels=(3,), max_stages=4)


def resolve_networks(specs: str | Sequence[str], seed: int = 0) -> list[NetworkEntry]:
    """Expand dataset network specs into entries (deterministic for a seed; duplicates dropped)."""
    if isinstance(specs, str):
        specs = [s.strip() for s in specs.split(",") if s.strip()]
    if not specs:
        raise ApproxDSEError("no networks given; use e.g. --networks nas:50,zoo")
    entries: list[NetworkEntry] = []
    for spec in specs:
        head, _, tail = spec.partition(":")
        head = head.lower()
        if head.startswith("nas") and tail:
            preset = head[4:] if head.startswith("nas-") else "cifar"
            space = GeneratorSpace.preset(preset)
            # Each spec gets its own stream so that nas:10 is a prefix of nas:20.
            for g in sample_genomes(_count(spec, tail), seed=seed * 1000 + _stream(preset), space=space):
                name = f"nas_{preset}_{g.key()}"
                entries.append(NetworkEntry(name, "nas", g.to_workload(name), g.to_json()))
        elif head == "resnet" and tail:
            for g in sample_genomes(_count(spec, tail), seed=seed * 1000 + _stream("resnet"), space=resnet_space()):
                entries.append(NetworkEntry(f"resnet_{g.key()}", "resnet", g.to_workload(f"resnet_{g.key()}"), g.to_json()))
        elif head == "layers" and tail:
            for w in sample_layer_workloads(_count(spec, tail), seed=seed * 1000 + _stream("layers")):
                entries.append(NetworkEntry(w.name, "layers", w))
        elif head == "family" and tail:
            fams = zoo.families()
            if tail not in fams:
                raise ApproxDSEError(f"unknown family {tail!r}; the zoo has: {', '.join(fams)}")
            entries += [NetworkEntry(n, "resnet" if n.startswith("resnet") else "zoo", zoo.workload(n))
                        for n in fams[tail]]
        elif head == "zoo" and not tail:
            entries += [NetworkEntry(n, "zoo", zoo.workload(n)) for n in zoo.names()]
        elif head == "zoo-resnets" and not tail:
            entries += [NetworkEntry(n, "resnet", zoo.workload(n)) for n in zoo.names() if n.startswith("resnet")]
        elif not tail:
            name = zoo.entry(spec).name
            entries.append(NetworkEntry(name, "resnet" if name.startswith("resnet") else "zoo", zoo.workload(name)))
        else:
            raise ApproxDSEError(
                f"unknown network spec {spec!r}; use nas:N, nas-digits:N, nas-imagenet:N, resnet:N, layers:N, zoo, "
                "zoo-resnets, family:NAME or a zoo name"
            )
    seen: set[str] = set()
    unique = []
    for e in entries:
        if e.name not in seen:
            seen.add(e.name)
            unique.append(e)
    return unique


def _stream(label: str) -> int:
    return {"cifar": 1, "digits": 2, "imagenet": 3, "resnet": 4, "layers": 6}.get(label, 5)


def network_names(entries: Iterable[NetworkEntry]) -> list[str]:
    return [e.name for e in entries]
