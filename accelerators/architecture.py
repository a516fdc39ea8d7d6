"""Accelerator architectures: a hierarchy of storage levels, spatial fan-outs and a MAC.

An architecture is read from YAML (schema in ``docs/accelerators_model.md``).
Levels are listed from the outermost (DRAM) to the innermost; a ``storage``
level holds some of the three tensors (``Weights``, ``Inputs``, ``Outputs``)
and bypasses the rest; a ``spatial`` level fans out into ``meshX * meshY``
copies of everything below it. ``factors`` on a level pins problem dimensions
to the given loop bound there (Timeloop's factor constraints; ``N: 1`` means no
N loop at that level), ``allowed`` is the alternative spelling that lists the
only dimensions that may have a loop there. The MAC closes the hierarchy.

Example::

    >>> from accelerators.architecture import load_architecture
    >>> arch = load_architecture("eyeriss")
    >>> [lv.name for lv in arch.storage_levels]
    ['DRAM', 'shared_glb', 'ifmap_spad', 'weights_spad', 'psum_spad']
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from approxdse.accelerators.constraints import (
    OPS,
    FactorLimit,
    Permutation,
    parse_factors,
    parse_permutation,
    split_x_dims,
)
from approxdse.accelerators.energy_tables import (
    ActionEnergy,
    ComputeEnergy,
    estimate_storage_energy,
    mac_energy,
    parse_technology,
)
from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.core.yaml_files import load_yaml_file

#: Problem dimensions: batch, group, input channels, output channels, output
#: rows/cols, filter rows/cols. G behaves like M for constraints.
DIMS: tuple[str, ...] = ("N", "G", "C", "M", "P", "Q", "R", "S")
DATASPACES: tuple[str, ...] = ("Weights", "Inputs", "Outputs")
STORAGE_CLASSES = ("DRAM", "SRAM", "regfile")

_BUILTIN = {
    "eyeriss": "eyeriss.yaml",
    "simba": "simba.yaml",
    "eyeriss-2022": "eyeriss-2022.yaml",
    "simba-2022": "simba-2022.yaml",
}


@dataclass(frozen=True)
class StorageLevel:
    """A buffer level (instances: one per spatial copy above it)."""

    name: str
    cls: str
    width: int
    datawidth: int
    keep: frozenset[str]
    energy: ActionEnergy
    depth: int | None = None  # None = unbounded (DRAM)
    cluster_size: int = 1
    n_banks: int = 1
    read_bandwidth: float | None = None
    write_bandwidth: float | None = None
    factors: tuple[FactorLimit, ...] = ()
    energy_source: str = "table"
    permutation: Permutation = Permutation()
    kind: str = field(default="storage", init=False)

    @property
    def block_size(self) -> int:
        """Words per vector access (Timeloop's block size)."""
        return max(1, self.width // (self.datawidth * self.cluster_size))

    @property
    def capacity_words(self) -> float:
        return float("inf") if self.depth is None else self.depth * self.block_size

    def fixed(self) -> dict[str, int]:
        """``{dim: value}`` of the ``dim=value`` constraints (0: the whole dimension)."""
        return {f.dim: f.value for f in self.factors if f.op == "="}


@dataclass(frozen=True)
class SpatialLevel:
    """A fan-out into ``mesh_x * mesh_y`` copies of the levels below."""

    name: str
    mesh_x: int = 1
    mesh_y: int = 1
    factors: tuple[FactorLimit, ...] = ()
    permutation: Permutation = Permutation()
    split: int | None = None
    kind: str = field(default="spatial", init=False)

    @property
    def fanout(self) -> int:
        return self.mesh_x * self.mesh_y

    @property
    def x_dims(self) -> frozenset[str] | None:
        """Dimensions unrolled along meshX (the rest along meshY); None when the split is free."""
        return split_x_dims(self.permutation, self.split)

    def fixed(self) -> dict[str, int]:
        """``{dim: value}`` of the ``dim=value`` constraints (0: the whole dimension)."""
        return {f.dim: f.value for f in self.factors if f.op == "="}


@dataclass(frozen=True)
class ComputeLevel:
    """The MAC: its energy is the multiplier's plus the adder's."""

    name: str
    multiplier_width: int
    adder_width: int
    energy: ComputeEnergy
    energy_source: str = "table"


@dataclass(frozen=True)
class Architecture:
    """A whole accelerator: ``levels`` outer to inner, then ``compute``."""

    name: str
    technology: str
    levels: tuple[StorageLevel | SpatialLevel, ...]
    compute: ComputeLevel
    description: str = ""
    source: str = ""
    #: Timeloop v3 skips reading (filling) a partial sum that was never written
    #: (the first write of an output); the Timeloop of the 2022 exercises fills it
    #: from the parent (charged as a parent read less the parent's own first writes).
    elide_first_output_fill: bool = True

    @property
    def storage_levels(self) -> list[StorageLevel]:
        return [lv for lv in self.levels if isinstance(lv, StorageLevel)]

    @property
    def spatial_levels(self) -> list[SpatialLevel]:
        return [lv for lv in self.levels if isinstance(lv, SpatialLevel)]

    @property
    def num_macs(self) -> int:
        n = 1
        for lv in self.spatial_levels:
            n *= lv.fanout
        return n

    def level_index(self, name: str) -> int:
        for i, lv in enumerate(self.levels):
            if lv.name == name:
                return i
        raise UnknownNameError(
            f"architecture {self.name!r} has no level {name!r}; levels: {', '.join(lv.name for lv in self.levels)}"
        )

    def instances(self, index: int) -> int:
        """Physical instances of level ``index`` (product of fan-outs above it)."""
        n = 1
        for lv in self.levels[:index]:
            if isinstance(lv, SpatialLevel):
                n *= lv.fanout
        return n

    def component_names(self) -> list[str]:
        """Energy components, outer to inner, with the MAC split into multiplier and adder."""
        return [lv.name for lv in self.storage_levels] + ["multiplier", "adder"]

    @property
    def id(self) -> str:
        """A content hash: two architectures with the same id cost the same."""
        payload = json.dumps(_arch_to_plain(self), sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha1(payload.encode()).hexdigest()[:12]}"

    def with_mac_energy(self, multiplier: float | None = None, adder: float | None = None) -> "Architecture":
        """A copy with the exact MAC's multiplier/adder energy replaced (pJ per op)."""
        e = self.compute.energy
        new = ComputeEnergy(e.multiplier if multiplier is None else multiplier, e.adder if adder is None else adder)
        compute = ComputeLevel(self.compute.name, self.compute.multiplier_width, self.compute.adder_width, new, "user")
        return Architecture(self.name, self.technology, self.levels, compute, self.description, self.source,
                            self.elide_first_output_fill)


def with_energy_table(arch: Architecture, table: dict[str, dict[str, float]], name: str | None = None) -> Architecture:
    """A copy of ``arch`` whose energies come from an ERT ``{component: {action: pJ}}``.

    Storage levels take ``read``/``write``/``update`` where given; the MAC's
    ``compute`` (or ``mac_random``) energy is split between multiplier and adder in
    the ratio of ``arch``'s own split. Components missing from the table keep theirs.
    """
    import dataclasses

    levels = []
    for lv in arch.levels:
        acts = table.get(lv.name)
        if isinstance(lv, StorageLevel) and acts:
            e = lv.energy
            new = ActionEnergy(acts.get("read", e.read), acts.get("write", e.write),
                               acts.get("update", acts.get("write", e.update)))
            lv = dataclasses.replace(lv, energy=new, energy_source="table")
        levels.append(lv)
    compute = arch.compute
    acts = table.get(compute.name, {})
    total = acts.get("compute", acts.get("mac_random"))
    if total is not None:
        share = compute.energy.multiplier / compute.energy.mac
        compute = ComputeLevel(compute.name, compute.multiplier_width, compute.adder_width,
                               ComputeEnergy(total * share, total * (1 - share)), "table")
    return Architecture(name or arch.name, arch.technology, tuple(levels), compute, arch.description, arch.source,
                        arch.elide_first_output_fill)


def _arch_to_plain(arch: Architecture) -> dict:
    levels = []
    for lv in arch.levels:
        d = dict(lv.__dict__)
        d["factors"] = [str(f) for f in lv.factors]
        d["permutation"] = lv.permutation.as_text()
        if isinstance(lv, StorageLevel):
            d["keep"] = sorted(lv.keep)
            d["energy"] = lv.energy.as_dict()
        levels.append(d)
    return {"levels": levels, "elide": arch.elide_first_output_fill,
            "compute": [arch.compute.multiplier_width, arch.compute.adder_width,
                        arch.compute.energy.multiplier, arch.compute.energy.adder]}


def available_architectures() -> list[str]:
    """Names of the built-in architectures."""
    return sorted(_BUILTIN)


_CACHE: dict[str, Architecture] = {}


def load_architecture(name_or_path: str | Path) -> Architecture:
    """A built-in architecture by name, or a user YAML file by path.

    Raises :class:`UnknownNameError` (listing the built-ins) for an unknown name
    and :class:`ApproxDSEError` naming the YAML path of the bad key for an
    invalid file.
    """
    key = str(name_or_path)
    cache_key = key
    if key not in _BUILTIN and Path(key).is_file():
        cache_key = f"{Path(key).resolve()}@{Path(key).stat().st_mtime_ns}"  # an edited file is re-read
    if cache_key in _CACHE:
        return _CACHE[cache_key]
    if key in _BUILTIN:
        text = resources.files("approxdse.accelerators.data").joinpath(_BUILTIN[key]).read_text()
        arch = parse_architecture(yaml.safe_load(text), origin=key)
    else:
        path = Path(key)
        if not (path.suffix in (".yaml", ".yml") or path.exists()):
            raise UnknownNameError(
                f"unknown accelerator {key!r}; built-in: {', '.join(available_architectures())} (or a path to a YAML file)"
            )
        data = load_yaml_file(path, "architecture file")
        arch = parse_architecture(data, origin=key)
    _CACHE[cache_key] = arch
    return arch


# --------------------------------------------------------------------------- parsing


def _err(path: str, msg: str) -> ApproxDSEError:
    return ApproxDSEError(f"{path}: {msg}")


def _pos_int(d: dict, key: str, path: str, default: Any = ..., allow_none: bool = False) -> Any:
    if key not in d:
        if default is ...:
            raise _err(f"{path}.{key}", "is required")
        return default
    v = d[key]
    if v is None and allow_none:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise _err(f"{path}.{key}", f"must be a positive integer, got {v!r}")
    return v


def _pos_num(d: dict, key: str, path: str, default: Any = None) -> Any:
    if key not in d or d[key] is None:
        return default
    v = d[key]
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
        raise _err(f"{path}.{key}", f"must be a positive number, got {v!r}")
    return float(v)


def _check_keys(d: Any, allowed: set[str], path: str) -> dict:
    if not isinstance(d, dict):
        raise _err(path, f"must be a mapping, got {type(d).__name__}")
    for k in d:
        if k not in allowed:
            raise _err(f"{path}.{k}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return d


def _factors(d: dict, path: str) -> tuple[FactorLimit, ...]:
    limits = list(parse_factors(d.get("factors"), f"{path}.factors"))
    if "allowed" in d and d["allowed"] is not None:
        allowed = d["allowed"]
        if not isinstance(allowed, list) or any(a not in DIMS for a in allowed):
            raise _err(f"{path}.allowed", f"must be a list of dimensions from {', '.join(DIMS)}, got {allowed!r}")
        have = {f.dim for f in limits if f.op == "="}
        for dim in DIMS:
            if dim not in allowed and not (dim == "G" and "M" in allowed) and dim not in have:
                limits.append(FactorLimit(dim, "=", 1))
    for f in limits:
        if f.op == "=" and f.value == 0 and any(g.dim == f.dim and g is not f for g in limits):
            raise _err(f"{path}.factors.{f.dim}", f"{f.dim}=0 (the whole dimension here) cannot be combined with other limits")
    return tuple(sorted(set(limits), key=lambda f: (DIMS.index(f.dim), OPS.index(f.op))))


def _energy(d: dict, path: str, keys: tuple[str, ...]) -> dict[str, float] | None:
    if "energy" not in d or d["energy"] is None:
        return None
    e = _check_keys(d["energy"], set(keys), f"{path}.energy")
    out = {}
    for k in keys:
        if k in e:
            v = e[k]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise _err(f"{path}.energy.{k}", f"must be a non-negative number (pJ), got {v!r}")
            out[k] = float(v)
    return out


_STORAGE_KEYS = {"name", "type", "class", "depth", "width", "datawidth", "keep", "energy", "cluster_size",
                 "n_banks", "read_bandwidth", "write_bandwidth", "factors", "allowed", "dram_type", "technology",
                 "permutation"}
_SPATIAL_KEYS = {"name", "type", "meshX", "meshY", "factors", "allowed", "permutation", "split"}
_COMPUTE_KEYS = {"name", "multiplier_width", "adder_width", "energy"}
_TOP_KEYS = {"name", "description", "source", "technology", "levels", "compute", "conventions"}


def parse_architecture(data: Any, origin: str = "<yaml>") -> Architecture:
    """Validate a parsed YAML document and build the :class:`Architecture`."""
    if isinstance(data, dict) and set(data) == {"architecture"}:
        data = data["architecture"]
        root = "architecture"
    else:
        root = "architecture"
    top = _check_keys(data, _TOP_KEYS, root)
    name = top.get("name")
    if not isinstance(name, str) or not name:
        raise _err(f"{root}.name", f"must be a non-empty string, got {name!r}")
    node = parse_technology(top.get("technology", "45nm")) if "technology" in top else None
    if node is None:
        raise _err(f"{root}.technology", "is required (e.g. '45nm')")
    levels_raw = top.get("levels")
    if not isinstance(levels_raw, list) or not levels_raw:
        raise _err(f"{root}.levels", "must be a non-empty list of levels (outer to inner)")
    levels: list[StorageLevel | SpatialLevel] = []
    seen: set[str] = set()
    for i, raw in enumerate(levels_raw):
        path = f"{root}.levels[{i}]"
        if not isinstance(raw, dict):
            raise _err(path, f"must be a mapping, got {type(raw).__name__}")
        kind = raw.get("type", "storage")
        lname = raw.get("name")
        if not isinstance(lname, str) or not lname:
            raise _err(f"{path}.name", f"must be a non-empty string, got {lname!r}")
        if lname in seen or lname in ("multiplier", "adder"):
            raise _err(f"{path}.name", f"duplicate or reserved level name {lname!r}")
        seen.add(lname)
        if kind == "spatial":
            _check_keys(raw, _SPATIAL_KEYS, path)
            mx = _pos_int(raw, "meshX", path, 1)
            my = _pos_int(raw, "meshY", path, 1)
            split = raw.get("split")
            if split is not None and (not isinstance(split, int) or isinstance(split, bool) or split < 0):
                raise _err(f"{path}.split", f"must be a non-negative integer, got {split!r}")
            levels.append(SpatialLevel(lname, mx, my, _factors(raw, path),
                                       parse_permutation(raw.get("permutation"), f"{path}.permutation"), split))
        elif kind == "storage":
            _check_keys(raw, _STORAGE_KEYS, path)
            cls = raw.get("class")
            if cls not in STORAGE_CLASSES:
                raise _err(f"{path}.class", f"must be one of {', '.join(STORAGE_CLASSES)}, got {cls!r}")
            depth = _pos_int(raw, "depth", path, None if cls == "DRAM" else ..., allow_none=cls == "DRAM")
            width = _pos_int(raw, "width", path)
            datawidth = _pos_int(raw, "datawidth", path)
            cluster = _pos_int(raw, "cluster_size", path, 1)
            if width % datawidth:
                raise _err(f"{path}.width", f"must be a multiple of datawidth ({datawidth}), got {width}")
            keep = raw.get("keep")
            if not isinstance(keep, list) or any(k not in DATASPACES for k in keep) or not keep:
                raise _err(f"{path}.keep", f"must be a non-empty list from {', '.join(DATASPACES)}, got {keep!r}")
            lnode = parse_technology(raw["technology"]) if "technology" in raw else node
            e = _energy(raw, path, ("read", "write", "update"))
            est = estimate_storage_energy(cls, depth, width, lnode, raw.get("dram_type", "LPDDR4"))
            if e is None:
                energy, src = est, "estimated"
            else:
                r = e.get("read", est.read)
                w = e.get("write", est.write)
                energy, src = ActionEnergy(r, w, e.get("update", w)), "table"
            levels.append(StorageLevel(
                name=lname, cls=cls, width=width, datawidth=datawidth, keep=frozenset(keep), energy=energy,
                depth=depth, cluster_size=cluster, n_banks=_pos_int(raw, "n_banks", path, 1),
                read_bandwidth=_pos_num(raw, "read_bandwidth", path), write_bandwidth=_pos_num(raw, "write_bandwidth", path),
                factors=_factors(raw, path), energy_source=src,
                permutation=parse_permutation(raw.get("permutation"), f"{path}.permutation"),
            ))
        else:
            raise _err(f"{path}.type", f"must be 'storage' or 'spatial', got {kind!r}")
    if not isinstance(levels[0], StorageLevel):
        raise _err(f"{root}.levels[0]", "the outermost level must be a storage level (DRAM)")
    if set(levels[0].keep) != set(DATASPACES):
        raise _err(f"{root}.levels[0].keep", "the outermost level must keep Weights, Inputs and Outputs")
    comp_raw = top.get("compute")
    cpath = f"{root}.compute"
    if comp_raw is None:
        raise _err(cpath, "is required (the MAC: multiplier_width, adder_width)")
    _check_keys(comp_raw, _COMPUTE_KEYS, cpath)
    mw = _pos_int(comp_raw, "multiplier_width", cpath, 8)
    aw = _pos_int(comp_raw, "adder_width", cpath, 16)
    ce = _energy(comp_raw, cpath, ("multiplier", "adder"))
    est = mac_energy(mw, aw, node)
    if ce is None:
        cenergy, csrc = est, "estimated"
    else:
        cenergy, csrc = ComputeEnergy(ce.get("multiplier", est.multiplier), ce.get("adder", est.adder)), "table"
    compute = ComputeLevel(comp_raw.get("name", "mac"), mw, aw, cenergy, csrc)
    elide = True
    if top.get("conventions") is not None:
        conv = _check_keys(top["conventions"], {"elide_first_output_fill"}, f"{root}.conventions")
        elide = conv.get("elide_first_output_fill", True)
        if not isinstance(elide, bool):
            raise _err(f"{root}.conventions.elide_first_output_fill", f"must be true or false, got {elide!r}")
    return Architecture(name, f"{node}nm", tuple(levels), compute, str(top.get("description", "")),
                        str(top.get("source", "")), elide)
