"""The constrained map space of a layer on an architecture: tilings and loop-order classes.

A *tiling* gives every level's loop bound of every dimension (``bounds[L, 8]``);
it is legal when the bounds of each dimension multiply to the layer's size
(exact factorisation), every level's factor constraints hold, the spatial loops
fit their meshes (with the split) and every buffer holds its tiles.
:func:`enumerate_tilings` lists every legal tiling: per dimension every ordered
factorisation over the levels whose constraints allow it, joined dimension by
dimension and pruned after each join by fan-out and capacity (both only grow as
more dimensions are placed, so no legal tiling is lost).

Loop orders: the counting model (:mod:`accelerators.nest_analysis`) sees a
level's order only through, for each tensor kept at some level below it, which
of its loops are irrelevant to that tensor and sit inside the first relevant one
(their product is reused), and, for inputs, whether a sliding-window dimension
(P, Q, R, S) is innermost. :func:`order_classes` groups the orders a level's
permutation constraint allows by that signature and keeps one order per group:
orders in one group cost exactly the same, so searching one per group is
exhaustive. The innermost storage level's order never matters.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from approxdse.accelerators.architecture import DATASPACES, DIMS, Architecture, SpatialLevel, StorageLevel
from approxdse.accelerators.constraints import Permutation
from approxdse.accelerators.nest_analysis import RELEVANT, Problem, _tile_sizes, factor_ranges, spatial_fits

#: Refuse to materialise more tilings than this (the search then reports it).
MAX_TILINGS = 1_000_000
_SLIDING = {"P", "Q", "R", "S"}


def _factorisations(size: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every ``f[L]`` with ``prod(f) == size`` and ``lo <= f <= hi``, as rows in lexicographic order."""
    L = len(lo)
    free = [i for i in range(L) if hi[i] > 1 or lo[i] > 1]
    if not free:
        return np.ones((1 if size == 1 else 0, L), dtype=np.int64)
    divisors = np.array([f for f in range(1, size + 1) if size % f == 0], dtype=np.int64)
    # level by level: every prefix that leaves a whole remainder, the last level takes the rest
    prefix = np.ones((1, 0), dtype=np.int64)
    rest = np.array([size], dtype=np.int64)
    for i in free[:-1]:
        parts, rests = [], []
        for f in divisors[(divisors >= max(1, lo[i])) & (divisors <= hi[i])]:
            ok = rest % f == 0
            if ok.any():
                parts.append(np.column_stack([prefix[ok], np.full(int(ok.sum()), f, dtype=np.int64)]))
                rests.append(rest[ok] // f)
        if not parts:
            return np.ones((0, L), dtype=np.int64)
        prefix, rest = np.concatenate(parts), np.concatenate(rests)
    last = free[-1]
    ok = (rest >= lo[last]) & (rest <= hi[last])
    rows = np.ones((int(ok.sum()), L), dtype=np.int64)
    rows[:, free] = np.column_stack([prefix[ok], rest[ok]])
    return rows[np.lexsort(rows.T[::-1])]


def tiling_bound(prob: Problem, arch: Architecture) -> int:
    """An upper bound on the legal tilings: the product over dimensions of their allowed factorisations."""
    lo, hi = factor_ranges(prob, arch)
    n = 1
    for d in range(len(DIMS)):
        n *= max(1, len(_factorisations(int(prob.dims[d]), lo[:, d], hi[:, d])))
    return n


def _fits(prob: Problem, arch: Architecture, bounds: np.ndarray, keep: dict[str, frozenset[str]],
          cap_levels: list[int], cap: np.ndarray, kept: np.ndarray) -> np.ndarray:
    ok = spatial_fits(arch, bounds)
    if cap_levels:
        ext = np.cumprod(bounds[:, ::-1, :], axis=1)[:, ::-1, :][:, cap_levels, :]
        tiles, _, _ = _tile_sizes(ext, prob)
        need = sum(tiles[ds] * kept[k] for k, ds in enumerate(DATASPACES))
        ok &= (need <= cap).all(axis=1)
    return ok


def enumerate_tilings(prob: Problem, arch: Architecture, keep: dict[str, frozenset[str]] | None = None,
                      limit: int = MAX_TILINGS, ranges: tuple[np.ndarray, np.ndarray] | None = None,
                      skip_capacity: frozenset[int] = frozenset()) -> tuple[np.ndarray, bool]:
    """All legal tilings ``[K, L, 8]`` (see the module docstring) and whether the list is complete (<= ``limit``).

    ``ranges`` replaces the per-level factor ranges (``lo``, ``hi``) and
    ``skip_capacity`` lists levels whose capacity is not checked (the mapper's
    first phase enumerates the inner levels with everything else in DRAM).
    """
    if keep is None:
        keep = {lv.name: lv.keep for lv in arch.storage_levels}
    L = len(arch.levels)
    lo, hi = factor_ranges(prob, arch) if ranges is None else ranges
    per_dim = [_factorisations(int(prob.dims[d]), lo[:, d], hi[:, d]) for d in range(len(DIMS))]
    cap_levels = [i for i, lv in enumerate(arch.levels) if isinstance(lv, StorageLevel) and lv.depth is not None
                  and i not in skip_capacity]
    cap = np.array([arch.levels[i].capacity_words for i in cap_levels])
    kept = np.array([[ds in keep[arch.levels[i].name] for i in cap_levels] for ds in DATASPACES])
    order = sorted(range(len(DIMS)), key=lambda d: len(per_dim[d]))
    combos = np.ones((1, L, len(DIMS)), dtype=np.int64)
    complete = True
    for d in order:
        f = per_dim[d]
        if len(f) == 0:
            return np.empty((0, L, len(DIMS)), dtype=np.int64), True
        if len(f) == 1:
            combos[:, :, d] = f[0]
            combos = combos[_fits(prob, arch, combos, keep, cap_levels, cap, kept)]
            continue
        parts = []
        total = 0
        step = max(1, 200_000 // len(f))
        for s in range(0, len(combos), step):
            c = np.repeat(combos[s:s + step], len(f), axis=0)
            c[:, :, d] = np.tile(f, (len(combos[s:s + step]), 1))
            c = c[_fits(prob, arch, c, keep, cap_levels, cap, kept)]
            parts.append(c)
            total += len(c)
            if total > limit:
                complete = False
                break
        combos = np.concatenate(parts) if parts else np.empty((0, L, len(DIMS)), dtype=np.int64)
        if not complete:
            break
    return combos, complete


def _signature(order: tuple[str, ...], tensors: tuple[str, ...]) -> tuple:
    sig = []
    for ds in tensors:
        rel = RELEVANT[ds]
        k = next((n for n, d in enumerate(order) if rel[DIMS.index(d)]), len(order))
        first = order[0] if (k == 0 and ds == "Inputs" and order and order[0] in _SLIDING) else ""
        sig.append((frozenset(order[:k]), k == len(order), first))
    return tuple(sig)


@lru_cache(maxsize=None)
def _classes_for(mask: int, tensors: tuple[str, ...], inner: tuple[str, ...], outer: tuple[str, ...]) -> np.ndarray:
    """Representative rank vectors ``[n, 8]`` (0 = innermost) of the order classes for nontrivial-dims ``mask``."""
    perm = Permutation(inner, outer)
    dims = [DIMS[d] for d in range(len(DIMS)) if (mask >> d) & 1]
    seen: dict[tuple, tuple[str, ...]] = {}
    for order in itertools.permutations(dims):
        if not perm.allows(list(order)):
            continue
        sig = _signature(order, tensors)
        if sig not in seen:
            seen[sig] = order
    reps = []
    for order in seen.values():
        rank = np.arange(len(DIMS), dtype=np.int64) + len(DIMS)
        for pos, d in enumerate(order):
            rank[DIMS.index(d)] = pos
        reps.append(rank)
    if not reps:
        return np.empty((0, len(DIMS)), dtype=np.int64)
    return np.stack(reps)


def order_tensors(arch: Architecture, keep: dict[str, frozenset[str]]) -> list[tuple[str, ...]]:
    """Per level, the tensors whose counts its loop order can change (kept at a storage level below it)."""
    out = []
    for i, lv in enumerate(arch.levels):
        below = set()
        for lv2 in arch.levels[i + 1:]:
            if isinstance(lv2, StorageLevel):
                below |= set(keep[lv2.name])
        out.append(tuple(ds for ds in DATASPACES if ds in below) if isinstance(lv, StorageLevel) else ())
    return out


def order_classes(arch: Architecture, level: int, mask: int, tensors: tuple[str, ...]) -> np.ndarray:
    """The order classes of ``level`` for the nontrivial dims in ``mask`` (bit d = DIMS[d])."""
    lv = arch.levels[level]
    if isinstance(lv, SpatialLevel) or bin(mask).count("1") < 2:
        rank = np.arange(len(DIMS), dtype=np.int64)
        return rank[None]
    classes = _classes_for(mask, tensors, lv.permutation.inner, lv.permutation.outer)
    # with no tensor below it the order costs nothing, but it must still obey the permutation
    return classes[:1] if not tensors else classes
