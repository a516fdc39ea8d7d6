"""Whole-network reference energy: ``estimate_energy(network, accelerator, multiplier)``.

The pipeline: resolve the network to a :class:`~approxdse.networks.workload.Workload`
(zoo name, Workload, ``nn.Module`` + input shape, Timeloop problem file or folder,
``path/file.py:factory``), load the architecture, find each distinct layer
shape's best mapping once (``accelerators.mapper.map_layer``, cached per shape,
architecture and objective), evaluate it with the analytical model
(``accelerators.model.evaluate``) at the multiplier's relative energy, and
collect an :class:`~accelerators.report.EnergyReport`.

The multiplier enters only as its ``relative_energy`` (exact = 1.0), which
scales the multiplier part of every MAC. For the ``energy`` (default)
and ``latency`` objectives, changing the multiplier never re-runs the mapper:
every legal mapping performs the same multiplications, so the multiplier adds
the same energy to every candidate, and cycles do not depend on energy. For
``edp`` the MAC energy weighs against the cycles, so the search is re-run with
the multiplier's energy in the MAC (see :func:`_search_arch`).

Grouped convolutions (depthwise included) go to the model as they are: its loop
nest has a ``G`` dimension (groups) beside the per-group ``C`` and ``M``.

>>> report = estimate_energy("lenet5", accelerator="eyeriss", multiplier="exact")  # doctest: +SKIP
>>> report.energy_pJ, report.by_component()                                         # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping as TMapping, Sequence

import numpy as np

from approxdse.accelerators.reference_version import model_version
from approxdse.accelerators.report import EnergyReport, LayerReport, MultiplierComparison
from approxdse.multipliers.resolve import relative_energy_of, resolve_multiplier
from approxdse.networks.workload import Layer, Workload
from approxdse.networks.onnx_import import workload_from_onnx
from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.accelerators import mapper
from approxdse.accelerators.architecture import Architecture, load_architecture
from approxdse.accelerators.mapping import Mapping, load_timeloop_mapping
from approxdse.accelerators.model import evaluate
from approxdse.networks import zoo
from approxdse.networks.problem_files import load_problems
from approxdse.networks.tracing import trace_module
from approxdse.multipliers.channel_mix import ChannelMix

OBJECTIVES = ("energy", "edp", "latency")

#: A network can be given as any of these.
NetworkLike = Any  # str | Path | Workload | Layer | Sequence[Layer] | torch.nn.Module


# ------------------------------------------------------------------ resolution


def _default_input_shape(source) -> tuple[int, ...]:
    shape = getattr(source, "input_shape", None) or getattr(source, "INPUT_SHAPE", None)
    return tuple(shape) if shape else (1, 3, 224, 224)


def _load_factory(spec: str):
    """Import ``path/file.py`` and return its callable ``factory`` (and the module)."""
    file_part, _, func_name = spec.rpartition(":")
    path = Path(file_part)
    if not path.is_file():
        raise ApproxDSEError(f"network file {file_part!r} does not exist")
    if not func_name.isidentifier():
        raise ApproxDSEError(f"{spec!r}: {func_name!r} is not a Python function name (use path/file.py:factory)")
    module_name = f"_approxdse_network_{abs(hash(str(path.resolve())))}"
    mod_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as exc:
        raise ApproxDSEError(f"importing {file_part!r} failed: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, func_name, None)
    if not callable(factory):
        defined = sorted(n for n, v in vars(module).items()
                         if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == module_name)
        raise ApproxDSEError(f"{file_part!r} has no function {func_name!r}; it defines: {', '.join(defined) or 'none'}")
    return factory, module


def resolve_network(network: NetworkLike, input_shape: Sequence[int] | str | None = None,
                    name: str | None = None) -> Workload:
    """Any supported network description -> :class:`Workload`.

    * a zoo name (``"resnet18"``), with an optional ``input_shape``;
    * a :class:`Workload`, a :class:`Layer` or a list of layers;
    * a ``torch.nn.Module``: traced with ``input_shape`` (default ``1,3,224,224`` or the
      module's ``input_shape`` attribute);
    * a Timeloop problem file (``.yaml``) or a folder of them;
    * an ONNX model (``.onnx``, see :mod:`approxdse.networks.onnx_import`);
    * ``"path/file.py:factory"``: ``factory()`` returns an ``nn.Module`` (traced as above,
      the file may set ``INPUT_SHAPE``), a :class:`Workload` or a list of layers.
    """
    return resolve_network_and_multipliers(network, input_shape, name)[0]


def resolve_network_and_multipliers(network: NetworkLike, input_shape: Sequence[int] | str | None = None,
                                    name: str | None = None) -> tuple[Workload, dict[str, Any]]:
    """:func:`resolve_network` plus the multipliers an approximated module's layers carry
    (``{layer name: Multiplier}``, empty for anything but such modules)."""
    if isinstance(network, Workload):
        return network, {}
    if isinstance(network, Layer):
        return Workload(name or network.name, (network,)), {}
    if isinstance(network, (list, tuple)) and network and all(isinstance(x, Layer) for x in network):
        return Workload(name or "network", tuple(network)), {}
    if isinstance(network, (str, Path)):
        text = str(network)
        if zoo.has(text):
            return zoo.workload(text, input_shape), {}
        file_part, sep, func = text.rpartition(":")
        if sep and file_part.endswith(".py"):
            factory, module = _load_factory(text)
            try:
                params = inspect.signature(factory).parameters
                built = factory()
            except TypeError as exc:
                if params and any(p.default is inspect.Parameter.empty for p in params.values()):
                    raise ApproxDSEError(f"{text!r}: the factory must be callable without arguments") from None
                raise ApproxDSEError(f"{text!r}: calling the factory failed: {exc}") from None
            except Exception as exc:
                raise ApproxDSEError(f"{text!r}: calling the factory failed: {type(exc).__name__}: {exc}") from None
            shape = input_shape if input_shape is not None else _default_input_shape(module)
            return resolve_network_and_multipliers(built, shape, name=name or f"{Path(file_part).stem}:{func}")
        path = Path(text)
        if path.suffix.lower() == ".onnx":
            shape = zoo.normalize_input_shape(input_shape) if input_shape is not None else None
            return workload_from_onnx(path, shape, name=name), {}
        if path.exists():
            return load_problems(path, name=name), {}
        if path.suffix in (".yaml", ".yml", ".py") or "/" in text:
            raise ApproxDSEError(f"network file {text!r} does not exist")
        raise UnknownNameError(
            f"unknown network {text!r}; give a zoo name ({', '.join(zoo.names())}), a Timeloop problem "
            f"file or folder, or path/file.py:factory")
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        nn = None
    if nn is not None and isinstance(network, nn.Module):
        shape = zoo.normalize_input_shape(input_shape) if input_shape is not None else _default_input_shape(network)
        trace = trace_module(network, shape, name=name or type(network).__name__)
        return trace.workload, dict(trace.multipliers)
    raise ApproxDSEError(
        f"cannot make a workload out of a {type(network).__name__}; give a zoo name, a Workload, "
        f"an nn.Module, a Timeloop problem file or path/file.py:factory")


def resolve_accelerator(accelerator):
    """A built-in architecture name, a YAML path or an ``Architecture`` -> ``Architecture``."""
    if isinstance(accelerator, Architecture):
        return accelerator
    if not isinstance(accelerator, (str, Path)):
        raise ApproxDSEError(f"accelerator must be a name or a YAML file, got {type(accelerator).__name__}")
    return load_architecture(str(accelerator))


def _arch_name(arch) -> str:
    return str(getattr(arch, "name", None) or "architecture")


def _priced(multiplier) -> tuple[str, float]:
    """A multiplier (name, file, ``Multiplier``) or a bare relative energy -> ``(name, relative_energy)``.

    A multiplier without an energy figure is refused (:func:`approxdse.multipliers.relative_energy_of`).
    A per-output-channel list of multipliers or a :class:`ChannelMix` is priced at the
    channel-weighted mean (every channel performs the same multiplications).
    """
    if isinstance(multiplier, (list, tuple)) and multiplier:
        multiplier = ChannelMix.of(multiplier, resolve_multiplier)
    if isinstance(multiplier, ChannelMix):
        return multiplier.name, float(np.mean([relative_energy_of(m) for m in multiplier.multipliers]))
    if isinstance(multiplier, (int, float)) and not isinstance(multiplier, bool):
        if multiplier < 0:
            raise ApproxDSEError(f"a multiplier's relative energy must not be negative, got {multiplier}")
        return (f"rel{float(multiplier):g}", float(multiplier))
    m = resolve_multiplier(multiplier)
    return m.name, relative_energy_of(m)


def _check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise ApproxDSEError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    return objective


# ------------------------------------------------------------------ mappings


def _load_mapping(mapping, layer: Layer, arch):
    """A ``Mapping`` object or a Timeloop ``map.yaml`` path -> ``Mapping`` for ``layer``."""
    if isinstance(mapping, Mapping):
        return mapping
    path = Path(mapping)
    if not path.is_file():
        raise ApproxDSEError(f"mapping file {str(path)!r} does not exist")
    return load_timeloop_mapping(path, layer, arch)


def _mapping_for(mapping, workload: Workload) -> dict[str, Any]:
    """Normalise the ``mapping`` argument to ``{layer name: Mapping | path}``."""
    if mapping is None:
        return {}
    if isinstance(mapping, TMapping):
        unknown = [k for k in mapping if k not in workload.names]
        if unknown:
            raise ApproxDSEError(f"mapping given for unknown layer(s) {', '.join(unknown)}; "
                                 f"layers: {', '.join(workload.names[:12])}{'...' if len(workload) > 12 else ''}")
        return dict(mapping)
    if len(workload) != 1:
        raise ApproxDSEError(
            f"one mapping was given for {len(workload)} layers; give a single-layer network (e.g. a Timeloop "
            f"problem file) or a {{layer name: mapping}} dict")
    return {workload.layers[0].name: mapping}


# ------------------------------------------------------------------ evaluation


def _mapping_text(mapping, arch) -> str:
    if mapping is None:
        return ""
    try:
        return mapping.to_text(arch)
    except Exception:  # a readable form is a convenience; never fail a report on it
        return str(mapping)


def _search_arch(arch, objective: str, rel: float):
    """The architecture the mapper searches on.

    Energy: every legal mapping does the same multiplications, so the multiplier adds the
    same energy to every candidate and the exact-multiplier search (cached) is also the
    best for any multiplier. Latency: cycles do not depend on energy. EDP: the MAC energy
    weighs against the cycles, so the search runs with the multiplier's energy in the MAC
    (a different architecture id, hence its own cache entry).
    """
    if objective != "edp" or rel == 1.0 or not hasattr(arch, "with_mac_energy"):
        return arch
    return arch.with_mac_energy(multiplier=arch.compute.energy.multiplier * rel)


#: Evaluated layers at the exact multiplier, keyed by (shape, architecture id, objective,
#: search multiplier energy): a swap of multiplier only rescales the multiplier component.
_EVALUATED: "OrderedDict[tuple, tuple[Any, str, int]]" = OrderedDict()
_EVALUATED_MAX = 8192


def _check_mapper(which: str) -> str:
    if which not in mapper.MAPPERS:
        raise ApproxDSEError(f"unknown mapper {which!r}; choose one of {', '.join(mapper.MAPPERS)}")
    return which


def _check_factorization(factorization: str) -> str:
    if factorization not in mapper.FACTORIZATIONS:
        raise ApproxDSEError(f"unknown factorization {factorization!r}; choose one of "
                             f"{', '.join(mapper.FACTORIZATIONS)}")
    return factorization


def clear_cache() -> None:
    """Forget cached evaluations and the mapper's cached mappings (for cold-cache timing)."""
    _EVALUATED.clear()
    if hasattr(mapper, "clear_cache"):
        mapper.clear_cache()


def _searched(layer: Layer, arch, arch_id: str, objective: str, rel: float,
              which: str = "auto", factorization: str = "exact") -> tuple[Any, str, int, dict]:
    """(LayerEnergy at the exact multiplier, mapping text, mappings explored, the search's report) for a layer."""
    search_rel = rel if objective == "edp" else 1.0
    key = (layer.shape_key(), arch_id, objective, search_rel, which, factorization)
    hit = _EVALUATED.get(key)
    if hit is not None:
        _EVALUATED.move_to_end(key)
        return hit[0], hit[1], 0, hit[2]
    search_arch = _search_arch(arch, objective, rel)
    mapping, rep = mapper.map_layer_report(layer, search_arch, objective=objective, mapper=which,
                                           factorization=factorization)
    explored = 0 if rep.cached else rep.evaluated
    res = evaluate(layer, arch, mapping, multiplier_energy=1.0)
    search = {"mapper": rep.mapper, "proven_optimal": bool(rep.proven_optimal), "factorization": rep.factorization}
    if rep.padded:
        search["padded"] = dict(rep.padded)
    if rep.budget_exhausted:
        search["budget_exhausted"] = True
    entry = (res, _mapping_text(getattr(res, "mapping", None) or mapping, arch), search)
    _EVALUATED[key] = entry
    if len(_EVALUATED) > _EVALUATED_MAX:
        _EVALUATED.popitem(last=False)
    return entry[0], entry[1], int(explored), search


@dataclass(frozen=True)
class LayerResult:
    """One evaluated layer shape: energy (pJ) by component, cycles, utilisation, the mapping's
    text and how many mappings the mapper explored for it (0 when given or cached)."""

    energy_pJ: float
    components: dict[str, float]
    cycles: int
    utilization: float
    mapping: str
    explored: int
    #: which mapper found the mapping and whether it is proven optimal ({"mapper": "given"} for a given one)
    search: dict


def _evaluate(layer: Layer, arch, arch_id: str, objective: str, rel: float, mapping=None,
              which: str = "auto", factorization: str = "exact") -> LayerResult:
    """Map (unless ``mapping``) and evaluate one layer."""
    if mapping is None:
        base, text, explored, search = _searched(layer, arch, arch_id, objective, rel, which, factorization)
        res = base.with_multiplier(rel, arch) if rel != 1.0 else base
    else:
        mapping = _load_mapping(mapping, layer, arch)
        res = evaluate(layer, arch, mapping, multiplier_energy=rel)
        text, explored, search = _mapping_text(mapping, arch), 0, {"mapper": "given", "proven_optimal": False}
    return LayerResult(float(res.energy_pJ), {k: float(v) for k, v in res.components.items()}, int(res.cycles),
                       float(res.utilization), text, int(explored), search)


def _layer_multiplier_table(workload: Workload, default: tuple[str, float],
                            layer_multipliers) -> list[tuple[str, float]]:
    if layer_multipliers is None:
        return [default] * len(workload)
    if isinstance(layer_multipliers, TMapping):
        unknown = [k for k in layer_multipliers if k not in workload.names]
        if unknown:
            raise ApproxDSEError(f"layer_multipliers names unknown layer(s) {', '.join(map(str, unknown))}; "
                                 f"layers: {', '.join(workload.names[:12])}{'...' if len(workload) > 12 else ''}")
        cache: dict = {}
        out = []
        for layer in workload:
            spec = layer_multipliers.get(layer.name)
            _check_channels(layer, spec)
            if spec is None:
                out.append(default)
            else:
                key = spec if isinstance(spec, (str, int, float)) else id(spec)
                if key not in cache:
                    cache[key] = _priced(spec)
                out.append(cache[key])
        return out
    specs = list(layer_multipliers)
    if len(specs) != len(workload):
        raise ApproxDSEError(f"layer_multipliers has {len(specs)} entries for {len(workload)} layers")
    for layer, spec in zip(workload, specs):
        _check_channels(layer, spec)
    return [default if s is None else _priced(s) for s in specs]


def _check_channels(layer: Layer, spec) -> None:
    """A per-channel multiplier list must name one multiplier per output channel."""
    channels = spec.channels if isinstance(spec, ChannelMix) else len(spec) if isinstance(spec, (list, tuple)) else None
    if channels is not None and channels != layer.M:
        raise ApproxDSEError(f"layer {layer.name!r}: {channels} per-channel multipliers for {layer.M} output channels")


def estimate_energy(network: NetworkLike, accelerator="eyeriss", multiplier="exact", objective: str = "energy",
                    mapping=None, progress: bool = False, layer_multipliers=None,
                    input_shape: Sequence[int] | str | None = None, mapper: str = "auto",
                    factorization: str = "imperfect") -> EnergyReport:
    """The reference inference energy of ``network`` on ``accelerator`` with ``multiplier``.

    Parameters
    ----------
    network : zoo name, Workload, Layer(s), nn.Module, Timeloop problem file/folder or ``file.py:factory``.
    accelerator : ``"eyeriss"``, ``"simba"``, ``"eyeriss-2022"``, ``"simba-2022"``, a YAML file or an
        ``Architecture``.
    multiplier : a name for ``multipliers.get`` (default ``"exact"``), a ``Multiplier``, or a bare
        relative energy (float).
    objective : what the mapper minimises: ``"energy"`` (default), ``"edp"`` or ``"latency"``.
    mapping : a Timeloop ``map.yaml`` path or ``Mapping`` to evaluate instead of searching
        (single-layer networks), or ``{layer name: mapping}``.
    progress : show a tqdm bar over the distinct layer shapes.
    layer_multipliers : ``{layer name: multiplier}`` or a list aligned with the layers (``None``
        entries take ``multiplier``): per-layer multipliers. A module approximated with the
        emulator (``approxdse.emulator.approximate``) brings its layers' multipliers
        itself; a dict given here overrides them per layer.
    input_shape : ``N,C,H,W`` for zoo networks and modules.
    mapper : ``"auto"`` (default: the exhaustive mapper under a step budget, the proven optimum
        where it finishes), ``"exhaustive"`` (no budget) or ``"fast"``; the report's
        ``extra["mappers"]`` says which ran for each layer and whether it is proven optimal.
    factorization : ``"imperfect"`` (default: N, G, C and M may also run a partial last tile,
        counted for the real partial tiles; never more energy than exact, not proven optimal over
        the imperfect map space; ``extra["mappers"]`` names the padded dimensions per layer) or
        ``"exact"`` (every loop bound divides its dimension, as Timeloop v3; what the energy
        predictors learn).
    """
    start = time.perf_counter()
    objective = _check_objective(objective)
    which = _check_mapper(mapper)
    factorization = _check_factorization(factorization)
    workload, traced = resolve_network_and_multipliers(network, input_shape)
    arch = resolve_accelerator(accelerator)
    default = _priced(multiplier)
    if traced and (layer_multipliers is None or isinstance(layer_multipliers, TMapping)):
        layer_multipliers = {**traced, **(layer_multipliers or {})}
    per_layer = _layer_multiplier_table(workload, default, layer_multipliers)
    given = _mapping_for(mapping, workload)
    arch_id = getattr(arch, "id", None) or repr(arch)

    # one mapper call per distinct (shape, multiplier energy) unless a mapping is given
    results: dict[tuple, LayerResult | None] = {}
    todo: list[tuple[tuple, Layer, float, Any]] = []
    for layer, (_, rel) in zip(workload, per_layer):
        key = (layer.shape_key(), rel) if layer.name not in given else (layer.name, rel)
        if key not in results:
            results[key] = None
            todo.append((key, layer, rel, given.get(layer.name)))
    iterator = todo
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(todo, desc=f"{workload.name} on {_arch_name(arch)}", unit="layer",
                        leave=False, file=sys.stderr)
    for key, layer, rel, layer_mapping in iterator:
        results[key] = _evaluate(layer, arch, arch_id, objective, rel, layer_mapping, which, factorization)

    rows = []
    for layer, (mname, rel) in zip(workload, per_layer):
        key = (layer.shape_key(), rel) if layer.name not in given else (layer.name, rel)
        r = results[key]
        rows.append(LayerReport(layer=layer, energy_pJ=r.energy_pJ, components=r.components,
                                cycles=r.cycles, utilization=r.utilization, multiplier=mname,
                                relative_energy=rel, mapping=r.mapping))
    shape = _report_input_shape(network, input_shape)
    return EnergyReport(network=workload.name, accelerator=_arch_name(arch), multiplier=default[0],
                        objective=objective, layers=tuple(rows), input_shape=shape,
                        wall_s=time.perf_counter() - start,
                        extra={"distinct_shapes": len(todo),
                               "mappings_evaluated": sum(r.explored for r in results.values()),
                               "mappers": {layer.name: results[(layer.shape_key(), rel) if layer.name not in given
                                                               else (layer.name, rel)].search
                                           for layer, (_, rel) in zip(workload, per_layer)},
                               "proven_optimal_layers": sum(
                                   1 for layer, (_, rel) in zip(workload, per_layer)
                                   if results[(layer.shape_key(), rel) if layer.name not in given
                                              else (layer.name, rel)].search.get("proven_optimal"))})


def compare_multipliers(network: NetworkLike, multipliers: Sequence, accelerator="eyeriss",
                        objective: str = "energy", mapping=None, progress: bool = False, mapper: str = "auto",
                        input_shape: Sequence[int] | str | None = None,
                        factorization: str = "imperfect") -> MultiplierComparison:
    """:func:`estimate_energy` for each multiplier (the mapper runs once per layer shape)."""
    if not multipliers:
        raise ApproxDSEError("give at least one multiplier to compare")
    workload = resolve_network(network, input_shape)  # one multiplier for every layer, per report
    arch = resolve_accelerator(accelerator)
    reports = []
    for m in multipliers:
        rep = estimate_energy(workload, arch, m, objective=objective, mapping=mapping, progress=progress,
                              mapper=mapper, factorization=factorization)
        reports.append(replace(rep, input_shape=_report_input_shape(network, input_shape)))
    return MultiplierComparison(tuple(reports))


def _report_input_shape(network, input_shape) -> tuple[int, ...] | None:
    """The input shape a report should show for ``network`` (None when unknown)."""
    if input_shape is not None:
        return zoo.normalize_input_shape(input_shape)
    if isinstance(network, str) and zoo.has(network):
        return zoo.entry(network).input_shape
    return None


def __getattr__(name: str):
    if name == "MODEL_VERSION":  # kept for callers of the old name: reference_version.model_version()
        return model_version()
    raise AttributeError(f"module 'approxdse.accelerators.estimate' has no attribute {name!r}")
