"""Mappings: how a layer's loop nest is tiled over an architecture.

A :class:`Mapping` gives, for every level of the architecture (outer to inner),
its loops: temporal loops (listed outer to inner) at storage levels, spatial
loops (unrolled over the fan-out) at spatial levels. Loops of bound 1 are
omitted. The product of a dimension's bounds over all levels is the layer's
size in that dimension (perfect factorisation, as Timeloop's mapper uses).
Which tensors each storage level keeps comes from the architecture unless the
mapping overrides it (``keep``).

Timeloop mappings (``timeloop-mapper.map.yaml``) load with
:func:`load_timeloop_mapping`; a Timeloop ``inter_X_spatial`` target is the
spatial level ``X`` here, and temporal loops Timeloop places on such a dummy
level are moved to the innermost position of the storage level above it
(the same position in the loop nest).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from approxdse.accelerators.architecture import DATASPACES, DIMS, Architecture, SpatialLevel, StorageLevel
from approxdse.core.errors import ApproxDSEError
from approxdse.core.yaml_files import load_yaml_file
from approxdse.accelerators.nest_analysis import Problem, legality, order_violation

if TYPE_CHECKING:
    from approxdse.networks.workload import Layer

DIM_INDEX = {d: i for i, d in enumerate(DIMS)}


@dataclass(frozen=True)
class LevelLoops:
    """The loops of one architecture level: ``(dim, bound)`` pairs, outer to inner."""

    level: str
    temporal: tuple[tuple[str, int], ...] = ()
    spatial: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Mapping:
    """One mapping of a layer onto an architecture (see module docstring)."""

    arch_name: str
    levels: tuple[LevelLoops, ...]
    keep: tuple[tuple[str, tuple[str, ...]], ...] = ()
    source: str = field(default="", compare=False)

    def keep_of(self, arch: Architecture) -> dict[str, frozenset[str]]:
        over = {k: frozenset(v) for k, v in self.keep}
        return {lv.name: over.get(lv.name, lv.keep) for lv in arch.storage_levels}

    def to_arrays(self, arch: Architecture) -> tuple[np.ndarray, np.ndarray]:
        """``bounds[level, dim]`` and ``rank[level, dim]`` (0 = innermost temporal loop)."""
        n = len(arch.levels)
        bounds = np.ones((n, len(DIMS)), dtype=np.int64)
        rank = np.tile(np.arange(len(DIMS), dtype=np.int64), (n, 1)) + len(DIMS)
        names = [lv.name for lv in arch.levels]
        if [lv.level for lv in self.levels] != names:
            raise ApproxDSEError(
                f"mapping levels {[lv.level for lv in self.levels]} do not match architecture {arch.name!r} levels {names}"
            )
        for i, (ll, lv) in enumerate(zip(self.levels, arch.levels)):
            loops = ll.spatial if isinstance(lv, SpatialLevel) else ll.temporal
            if isinstance(lv, SpatialLevel) and ll.temporal:
                raise ApproxDSEError(f"mapping has temporal loops on spatial level {lv.name!r}")
            if isinstance(lv, StorageLevel) and ll.spatial:
                raise ApproxDSEError(f"mapping has spatial loops on storage level {lv.name!r}")
            for pos, (dim, b) in enumerate(loops):
                j = DIM_INDEX[dim]
                if bounds[i, j] != 1:
                    raise ApproxDSEError(f"mapping has two {dim} loops at level {lv.name!r}")
                bounds[i, j] = b
                rank[i, j] = len(loops) - 1 - pos
        return bounds, rank

    def to_text(self, arch: Architecture | None = None) -> str:
        """A readable loop nest: one line per loop, grouped per level (outer to inner)."""
        lines: list[str] = []
        depth = 0
        keep = {k: v for k, v in self.keep}
        for ll in self.levels:
            kind = "spatial" if ll.spatial or (arch is not None and isinstance(
                arch.levels[[x.name for x in arch.levels].index(ll.level)], SpatialLevel)) else "storage"
            if kind == "storage":
                kept = keep.get(ll.level)
                if kept is None and arch is not None:
                    kept = tuple(d for d in DATASPACES if d in arch.levels[[x.name for x in arch.levels].index(ll.level)].keep)
                head = f"{ll.level} [{' '.join(kept)}]" if kept else ll.level
            else:
                head = f"{ll.level} (spatial)"
            lines.append(head)
            for dim, b in (ll.spatial or ll.temporal):
                tag = " (spatial)" if ll.spatial else ""
                lines.append(f"{'| ' * (depth + 1)}for {dim} in [0:{b}){tag}")
                depth += 1
        return "\n".join(lines)

    def factor_table(self) -> dict[str, dict[str, int]]:
        """``{level: {dim: bound}}`` for the loops of each level."""
        return {ll.level: dict(ll.spatial or ll.temporal) for ll in self.levels}


def mapping_from_arrays(arch: Architecture, bounds: np.ndarray, rank: np.ndarray, source: str = "") -> Mapping:
    """Inverse of :meth:`Mapping.to_arrays` (loops of bound 1 dropped)."""
    levels = []
    for i, lv in enumerate(arch.levels):
        dims = [(DIMS[j], int(bounds[i, j])) for j in range(len(DIMS)) if bounds[i, j] > 1]
        if isinstance(lv, SpatialLevel):
            levels.append(LevelLoops(lv.name, spatial=tuple(dims)))
        else:
            dims.sort(key=lambda x: -int(rank[i, DIM_INDEX[x[0]]]))
            levels.append(LevelLoops(lv.name, temporal=tuple(dims)))
    return Mapping(arch.name, tuple(levels), source=source)


_FACTOR_RE = re.compile(r"([A-Z])(\d+)")


def _parse_factors(text: str, where: str) -> dict[str, int]:
    out = {}
    for dim, val in _FACTOR_RE.findall(str(text)):
        if dim not in DIMS:
            raise ApproxDSEError(f"{where}: unknown dimension {dim!r} in factors {text!r}")
        out[dim] = int(val)
    return out


def check_mapping(layer: "Layer", arch: Architecture, mapping: Mapping) -> None:
    """Raise :class:`ApproxDSEError` naming the first constraint ``mapping`` breaks."""
    bounds, rank = mapping.to_arrays(arch)
    ok, reasons = legality(Problem.from_layer(layer), arch, bounds[None], mapping.keep_of(arch))
    if not ok[0]:
        raise ApproxDSEError(f"mapping for layer {layer.name!r} on {arch.name}: {reasons[0]}")
    bad = order_violation(arch, bounds, rank)
    if bad:
        raise ApproxDSEError(f"mapping for layer {layer.name!r} on {arch.name}: {bad}")


def load_timeloop_mapping(path: str | Path, layer: "Layer", arch: Architecture) -> Mapping:
    """Read a Timeloop ``map.yaml`` (v0.4 ``mapping:`` list) as a :class:`Mapping` for ``layer`` on ``arch``."""
    doc = load_yaml_file(path, "mapping file")
    entries = doc.get("mapping") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise ApproxDSEError(f"mapping file {str(path)!r} has no 'mapping:' list")
    names = [lv.name for lv in arch.levels]
    temporal: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    spatial: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    extra_inner: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    keep: dict[str, tuple[str, ...]] = {}
    for k, e in enumerate(entries):
        where = f"{path}: mapping[{k}]"
        target = str(e.get("target", ""))
        kind = e.get("type")
        name = target
        if target not in names:
            m = re.fullmatch(r"inter_(.+)_spatial", target)
            if m and m.group(1) in names:
                name = m.group(1)
            else:
                raise ApproxDSEError(f"{where}: target {target!r} is not a level of architecture {arch.name!r}")
        lv = arch.levels[names.index(name)]
        if kind == "datatype":
            if isinstance(lv, StorageLevel):
                keep[name] = tuple(e.get("keep") or ())
            continue
        factors = _parse_factors(e.get("factors", ""), where)
        perm = str(e.get("permutation", "")).strip()
        order_inner_first = [c for c in perm if c in DIMS] + [d for d in DIMS if d not in perm]
        loops = [(d, factors.get(d, 1)) for d in reversed(order_inner_first) if factors.get(d, 1) > 1]
        if kind == "spatial":
            if not isinstance(lv, SpatialLevel):
                raise ApproxDSEError(f"{where}: spatial loops on storage level {name!r}")
            spatial[name] = loops
        elif kind == "temporal":
            if isinstance(lv, SpatialLevel):
                # a dummy level's temporal loops sit just inside the storage level above
                above = next(n for n in reversed(names[: names.index(name)])
                             if isinstance(arch.levels[names.index(n)], StorageLevel))
                extra_inner[above] = extra_inner[above] + loops
            else:
                temporal[name] = loops
        else:
            raise ApproxDSEError(f"{where}: unknown mapping type {kind!r}")
    levels = []
    for lv in arch.levels:
        if isinstance(lv, SpatialLevel):
            levels.append(LevelLoops(lv.name, spatial=tuple(spatial[lv.name])))
        else:
            merged = temporal[lv.name] + extra_inner[lv.name]
            levels.append(LevelLoops(lv.name, temporal=tuple(merged)))
    kp = tuple((n, v) for n, v in keep.items() if frozenset(v) != arch.levels[names.index(n)].keep)
    mapping = Mapping(arch.name, tuple(levels), keep=kp, source=str(path))

    check_mapping(layer, arch, mapping)
    return mapping


_BLOCK_RE = re.compile(r"^(\S+) \[.*\]\s*$")
_LOOP_RE = re.compile(r"for (\w) in \[0:(\d+)\)( \(Spatial-[XY]\))?")


def load_timeloop_map_txt(path: str | Path, layer: "Layer", arch: Architecture) -> Mapping:
    """Read a Timeloop ``map.txt`` loop nest (older Timeloop versions write no ``map.yaml``).

    Loops listed under a storage level are its temporal loops; spatial loops
    listed under a storage level belong to the first spatial level below it in
    ``arch``; a block named after a spatial level of ``arch`` (e.g. the 2022
    Eyeriss ``DummyBuffer``) gives that level's spatial loops.
    """
    p = Path(path)
    if not p.is_file():
        raise ApproxDSEError(f"mapping file {str(path)!r} does not exist")
    names = [lv.name for lv in arch.levels]
    temporal: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    spatial: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
    current = None
    for line in p.read_text().splitlines():
        m = _BLOCK_RE.match(line.strip())
        if m and not line.startswith("|"):
            current = m.group(1)
            if current not in names:
                raise ApproxDSEError(f"{path}: level {current!r} is not in architecture {arch.name!r}")
            continue
        lm = _LOOP_RE.search(line)
        if not lm or current is None:
            continue
        dim, bound, sp = lm.group(1), int(lm.group(2)), bool(lm.group(3))
        if dim not in DIMS:
            raise ApproxDSEError(f"{path}: unknown dimension {dim!r}")
        if bound == 1:
            continue
        idx = names.index(current)
        if isinstance(arch.levels[idx], SpatialLevel):
            if not sp:
                raise ApproxDSEError(f"{path}: temporal loop {dim} on spatial level {current!r}")
            spatial[current].append((dim, bound))
        elif sp:
            below = next((n for n in names[idx + 1:] if isinstance(arch.levels[names.index(n)], SpatialLevel)), None)
            if below is None:
                raise ApproxDSEError(f"{path}: spatial loop {dim} under {current!r} but no fan-out below it")
            spatial[below].append((dim, bound))
        else:
            temporal[current].append((dim, bound))
    levels = tuple(LevelLoops(n, spatial=tuple(spatial[n])) if isinstance(lv, SpatialLevel)
                   else LevelLoops(n, temporal=tuple(temporal[n])) for n, lv in zip(names, arch.levels))
    mapping = Mapping(arch.name, levels, source=str(path))

    check_mapping(layer, arch, mapping)
    return mapping
