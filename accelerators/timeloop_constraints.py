"""Read a Timeloop constraints file as it is and apply it to an :class:`Architecture`.

Accepted layouts (Timeloop v0.3/v0.4): a top-level list of targets under
``architecture_constraints:``, ``mapspace_constraints:``, ``mapspace: {constraints: ...}``,
``constraints:`` or ``mapping:``, each either a list or ``{targets: [...]}``;
several files (arch + map-space constraints) can be applied one after another.

Each target: ``target`` (a level name), ``type`` (``temporal``, ``spatial``,
``bypass`` / ``datatype``), and ``factors``, ``permutation``, ``split``,
``keep``, ``bypass`` as Timeloop writes them. A ``spatial`` target on a storage
level constrains the fan-out just below it (Timeloop's ``inter_X_spatial``); a
``temporal`` target on a level that is a fan-out here (the 2022 Eyeriss
``DummyBuffer``) may only forbid loops (every factor ``=1``), because this model
has no temporal loops there. Constraints on the same level and dimension combine
(an ``=`` that conflicts with another is an error).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from approxdse.accelerators.architecture import DATASPACES, Architecture, SpatialLevel, StorageLevel
from approxdse.accelerators.constraints import DIMS, OPS, FactorLimit, parse_factors, parse_permutation
from approxdse.core.errors import ApproxDSEError

_SECTIONS = ("architecture_constraints", "mapspace_constraints", "constraints", "mapping")


def _targets(doc: Any, where: str) -> list[dict]:
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        raise ApproxDSEError(f"{where}: a Timeloop constraints file must hold a mapping or a list of targets")
    out: list[dict] = []
    found = False
    for key in _SECTIONS + ("mapspace",):
        if key not in doc:
            continue
        found = True
        sec = doc[key]
        if key == "mapspace" and isinstance(sec, dict):
            sec = sec.get("constraints", sec.get("targets", []))
        if isinstance(sec, dict):
            sec = sec.get("targets", [])
        if not isinstance(sec, list):
            raise ApproxDSEError(f"{where}: {key} must list constraint targets")
        out += sec
    if not found:
        raise ApproxDSEError(f"{where}: no constraints found (expected one of {', '.join(_SECTIONS)})")
    return out


def _merge_limits(old: tuple[FactorLimit, ...], new: tuple[FactorLimit, ...], where: str) -> tuple[FactorLimit, ...]:
    by_key = {(f.dim, f.op): f for f in old}
    for f in new:
        prev = by_key.get((f.dim, f.op))
        if prev is not None and prev.value != f.value:
            if f.op == "=":
                raise ApproxDSEError(f"{where}: {f} conflicts with {prev} set earlier for the same level")
            f = FactorLimit(f.dim, f.op, min(prev.value, f.value) if f.op == "<=" else max(prev.value, f.value))
        by_key[(f.dim, f.op)] = f
    return tuple(sorted(by_key.values(), key=lambda f: (DIMS.index(f.dim), OPS.index(f.op))))


def apply_timeloop_constraints(arch: Architecture, source: str | Path | Any, name: str | None = None) -> Architecture:
    """A copy of ``arch`` with the constraints of a Timeloop file (a path, or its parsed YAML) added."""
    where = str(source) if isinstance(source, (str, Path)) else "<constraints>"
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            raise ApproxDSEError(f"constraints file {where!r} does not exist")
        try:
            doc = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise ApproxDSEError(f"constraints file {where!r} is not valid YAML: {str(exc).splitlines()[0]}") from None
    else:
        doc = source
    levels = list(arch.levels)
    names = [lv.name for lv in levels]
    for k, t in enumerate(_targets(doc, where)):
        at = f"{where}: target[{k}]"
        if not isinstance(t, dict):
            raise ApproxDSEError(f"{at}: must be a mapping")
        target, kind = str(t.get("target", "")), t.get("type")
        if target not in names:
            raise ApproxDSEError(f"{at}: {target!r} is not a level of {arch.name}; levels: {', '.join(names)}")
        i = names.index(target)
        lv = levels[i]
        factors = parse_factors(t.get("factors"), f"{at}.factors")
        perm = parse_permutation(t.get("permutation"), f"{at}.permutation")
        if kind in ("bypass", "datatype"):
            if isinstance(lv, SpatialLevel):
                if t.get("keep"):
                    raise ApproxDSEError(f"{at}: {target} holds no data in this model; it cannot keep {t['keep']}")
                continue
            keep = set(lv.keep)
            for ds in t.get("keep") or []:
                keep.add(ds)
            for ds in t.get("bypass") or []:
                keep.discard(ds)
            if not keep or any(d not in DATASPACES for d in keep):
                raise ApproxDSEError(f"{at}: keep/bypass leaves {target} with {sorted(keep)}")
            levels[i] = dataclasses.replace(lv, keep=frozenset(keep))
        elif kind == "temporal":
            if isinstance(lv, SpatialLevel):
                if any(not (f.op == "=" and f.value == 1) for f in factors):
                    raise ApproxDSEError(f"{at}: {target} is a fan-out here and has no temporal loops; "
                                         "only factor 1 constraints can apply")
                continue
            levels[i] = dataclasses.replace(lv, factors=_merge_limits(lv.factors, factors, at),
                                            permutation=perm if not perm.empty else lv.permutation)
        elif kind == "spatial":
            j = i
            if isinstance(lv, StorageLevel):
                j = next((n for n in range(i + 1, len(levels)) if isinstance(levels[n], SpatialLevel)), None)
                if j is None or any(isinstance(levels[n], StorageLevel) and n < j for n in range(i + 1, len(levels))):
                    raise ApproxDSEError(f"{at}: there is no fan-out just below {target} in {arch.name}")
            sl = levels[j]
            split = t.get("split", sl.split)
            if split is not None and (not isinstance(split, int) or isinstance(split, bool) or split < 0):
                raise ApproxDSEError(f"{at}.split: must be a non-negative integer, got {split!r}")
            levels[j] = dataclasses.replace(sl, factors=_merge_limits(sl.factors, factors, at),
                                            permutation=perm if not perm.empty else sl.permutation, split=split)
        else:
            raise ApproxDSEError(f"{at}: unknown type {kind!r} (temporal, spatial, bypass or datatype)")
    return dataclasses.replace(arch, name=name or arch.name, levels=tuple(levels))
