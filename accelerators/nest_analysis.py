"""Timeloop-style access counting, vectorised over a batch of candidate mappings.

Every function here takes ``bounds[K, L, 8]`` (loop bound of each problem
dimension at each architecture level, for K candidate mappings) and
``rank[K, L, 8]`` (temporal loop order at each storage level, 0 = innermost)
and returns numpy arrays over K. The single-mapping model
(:func:`accelerators.model.evaluate`) and the mapper both call
:func:`analyze`, so the mapper optimises exactly what the model reports.

Counting conventions (those of Timeloop v3, checked against its stats.txt):

* A storage level's *tile* of a tensor is the projection of all loops at and
  below it; inputs use the sliding-window extent ``(P-1)*stride + (R-1)*dilation + 1``.
* Fills (writes from the parent) per instance: walking the temporal loops above
  the level from the innermost outwards, the tile stays resident across the
  loops irrelevant to the tensor that lie inside the innermost relevant loop;
  every other iteration brings a whole new tile, except that when that
  innermost relevant loop is also the innermost non-trivial loop and slides an
  input window (P, Q, R or S), consecutive iterations fetch only the new part
  of the window, which moves by the loop's step: the extent of its dimension
  below the loop's level, spatial loops in between included (Timeloop resets this sliding reuse whenever the tile's stride
  changes, so it never spans an outer loop).
* Reads of a level serve its child's fills (or, for the innermost level keeping
  the tensor, every MAC), once per *distinct* child tile: children whose tiles
  are equal are served by one multicast read; partially overlapping tiles are
  not merged. Multicast is found separately at each spatial level.
* Outputs: the first write of an output element needs no read (no fill) of the
  old partial sum; the innermost output level is read by the MAC for every
  update except the first one of each element; a level's updates are its
  children's write-backs after spatial reduction (children holding the same
  outputs are reduced in the network); write-backs are not counted as reads of
  the child.
* Cycles = MACs per utilised MAC, stretched when a level's reads (or fills plus
  updates) per instance exceed its ``read_bandwidth`` (``write_bandwidth``) in
  words per cycle, like Timeloop's bandwidth throttling.
* Energy per access = the component's energy per vector access / block size
  (words per vector); accesses are charged as whole vectors (``ceil(scalar / block)``
  per instance), and a clustered level (``cluster_size`` > 1) is charged once
  per cluster of every cluster, like Timeloop.

Imperfect factorisation (not Timeloop v3; ``factorization="imperfect"`` in the mapper):
N, G, C or M may have loop bounds that multiply past the dimension's size. The nest is
then guarded: every loop steps by the product of the bounds below it, an iteration whose
tile would start past the end is skipped, so each level's tiles are the aligned chunks
of the dimension and only the last one is partial; the outermost loop of such a
dimension runs no empty iteration (:func:`covered_dims`). The loop structure decides
reuse as above (a partial chunk never turns a relevant loop into a reuse loop), and
every count is taken over the real, partial tiles (:class:`_Guards`): MACs, accesses,
multicast groups and cycles (temporal iterations with any work). Capacities hold the
full tile. Per-instance counts become means over the level's instances (a partial
spatial tile idles some of them); vector rounding and bandwidth use those means.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from approxdse.accelerators.architecture import DATASPACES, DIMS, Architecture, SpatialLevel, StorageLevel
from approxdse.accelerators.constraints import effective_forced
from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer

N, G, C, M, P, Q, R, S = range(8)
#: Which problem dimensions index each tensor.
RELEVANT = {
    "Weights": np.array([0, 1, 1, 1, 0, 0, 1, 1], dtype=bool),
    "Inputs": np.array([1, 1, 1, 0, 1, 1, 1, 1], dtype=bool),
    "Outputs": np.array([1, 1, 0, 1, 1, 1, 0, 0], dtype=bool),
}


def layer_dims(layer: Layer) -> dict[str, int]:
    """The problem size per dimension (C and M per group; G = groups)."""
    return {"N": layer.N, "G": layer.groups, "C": layer.C_per_group, "M": layer.M_per_group,
            "P": layer.P, "Q": layer.Q, "R": layer.R, "S": layer.S}


@dataclass(frozen=True)
class Problem:
    """The numeric loop-nest description of a layer."""

    dims: tuple[int, ...]  # in DIMS order
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1

    @property
    def macs(self) -> int:
        return int(np.prod(self.dims, dtype=np.int64))

    @staticmethod
    def from_layer(layer) -> "Problem":
        d = layer_dims(layer)
        return Problem(tuple(d[k] for k in DIMS), layer.stride_h, layer.stride_w, layer.dilation_h, layer.dilation_w)


def _tile_sizes(ext: np.ndarray, prob: Problem) -> dict[str, np.ndarray]:
    """Tile size of each tensor from extents ``ext[..., 8]``."""
    h = (ext[..., P] - 1) * prob.stride_h + (ext[..., R] - 1) * prob.dilation_h + 1
    w = (ext[..., Q] - 1) * prob.stride_w + (ext[..., S] - 1) * prob.dilation_w + 1
    return {
        "Weights": ext[..., G] * ext[..., C] * ext[..., M] * ext[..., R] * ext[..., S],
        "Inputs": ext[..., N] * ext[..., G] * ext[..., C] * h * w,
        "Outputs": ext[..., N] * ext[..., G] * ext[..., M] * ext[..., P] * ext[..., Q],
    }, h, w


def _distinct_offsets(fa: np.ndarray, a: np.ndarray, fb: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of distinct values of ``i*a + j*b`` for i < fa, j < fb (vectorised via unique rows)."""
    out = fa * fb
    both = (fa > 1) & (fb > 1)
    if not both.any():
        return out
    rows = np.stack([fa[both], a[both], fb[both], b[both]], axis=1)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    counts = np.empty(len(uniq), dtype=np.int64)
    for k, (x, ax, y, by) in enumerate(uniq):
        counts[k] = len(np.unique((np.arange(x)[:, None] * ax + np.arange(y)[None, :] * by).ravel()))
    out = out.copy()
    out[both] = counts[inv.ravel()]
    return out


def _unique_children(bounds: np.ndarray, ext: np.ndarray, j: int, prob: Problem, ds: str) -> np.ndarray:
    """Distinct child tiles of tensor ``ds`` under spatial level ``j`` (multicast / reduction groups)."""
    f = bounds[:, j, :]
    inner = ext[:, j + 1, :]
    if ds == "Weights":
        return f[:, G] * f[:, C] * f[:, M] * f[:, R] * f[:, S]
    if ds == "Outputs":
        return f[:, N] * f[:, G] * f[:, M] * f[:, P] * f[:, Q]
    hh = _distinct_offsets(f[:, P], inner[:, P] * prob.stride_h, f[:, R], inner[:, R] * prob.dilation_h)
    ww = _distinct_offsets(f[:, Q], inner[:, Q] * prob.stride_w, f[:, S], inner[:, S] * prob.dilation_w)
    return f[:, N] * f[:, G] * f[:, C] * hh * ww


@dataclass(frozen=True)
class NestAnalysis:
    """What :func:`analyze` finds for K mappings (arrays of length K, except ``macs``).

    ``energy`` (pJ) is the sum of ``components`` ({name: pJ}); ``cycles`` the latency
    (bandwidth-bound where a level is slower than compute), ``compute_cycles`` the
    temporal loop count, ``utilization`` the used share of the MACs; ``accesses``
    (with ``detail=True``) ``{(level, tensor): {"reads","fills","updates","instances","tile"}}``
    per instance.
    """

    energy: np.ndarray
    components: dict[str, np.ndarray]
    cycles: np.ndarray
    compute_cycles: np.ndarray
    utilization: np.ndarray
    macs: int
    compute_instances: np.ndarray
    accesses: dict[tuple[str, str], dict[str, np.ndarray]] | None = None


def analyze(prob: Problem, arch: Architecture, bounds: np.ndarray, rank: np.ndarray,
            keep: dict[str, frozenset[str]] | None = None, detail: bool = False, bound: bool = False,
            floor_levels: frozenset[int] = frozenset()) -> NestAnalysis:
    """Access counts and energy for K mappings (see the module docstring).

    Where the loop bounds of a dimension multiply to more than the layer's size
    (imperfect factorisation, :class:`_Guards`), the counts are those of the guarded
    loop nest, whose last tile of each dimension is partial (``docs/accelerators_model.md``);
    the per-instance counts are then means over each level's instances.

    With ``bound=True`` the loop orders are ignored and every count that depends
    on them is replaced by its minimum over all loop orders, taken separately for
    each level and tensor (the irrelevant loops of every level above, up to the
    first one with a relevant loop, innermost; or a sliding window innermost):
    the energy and cycles returned are then lower bounds for every order of the
    given tile factors (what the exhaustive mapper prunes with). At the levels in
    ``floor_levels`` (single-instance levels) the fills are instead the least any
    tiling can have: each element of the tensor once (inputs: the distinct
    elements the layer reads), a lower bound over every way of moving loops
    between that level and the ones above it.

    Returns a dict with ``energy`` (pJ, shape K), ``components`` ({name: K}),
    ``cycles``, ``utilization`` and, if ``detail``, ``accesses``:
    ``{(level, tensor): {"reads","fills","updates","instances", "tile"}}`` (per instance).
    """
    K, L, _ = bounds.shape
    levels = arch.levels
    if keep is None:
        keep = {lv.name: lv.keep for lv in arch.storage_levels}
    # ext[:, i, d]: extent of dimension d in the tile at level i (loops at i and below)
    ext = _extents(bounds)
    spatial_idx = [i for i, lv in enumerate(levels) if isinstance(lv, SpatialLevel)]
    storage_idx = [i for i, lv in enumerate(levels) if isinstance(lv, StorageLevel)]
    used = np.ones((K, L + 1), dtype=np.int64)  # utilised instances of level i
    for i in range(L):
        used[:, i + 1] = used[:, i] * (bounds[:, i, :].prod(axis=1) if isinstance(levels[i], SpatialLevel) else 1)
    compute_instances = used[:, L]
    temporal = np.ones(K, dtype=np.int64)
    for i in storage_idx:
        temporal = temporal * bounds[:, i, :].prod(axis=1)
    macs = prob.macs
    # per storage level: temporal loops sorted innermost first
    sorted_b, sorted_d = {}, {}
    for i in storage_idx:
        order = np.argsort(rank[:, i, :], axis=1, kind="stable")
        sorted_b[i] = np.take_along_axis(bounds[:, i, :], order, axis=1)
        sorted_d[i] = order

    tiles: dict[int, dict[str, np.ndarray]] = {}
    hw: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    all_t, all_h, all_w = _tile_sizes(ext[:, storage_idx, :], prob)
    for k, i in enumerate(storage_idx):
        tiles[i] = {ds: all_t[ds][:, k] for ds in DATASPACES}
        hw[i] = (all_h[:, k], all_w[:, k])

    loads: dict[tuple[int, str], np.ndarray] = {}
    fills: dict[tuple[int, str], np.ndarray] = {}
    distinct: dict[tuple[int, str], np.ndarray] = {}
    # One sequence of all temporal loops, innermost level first; the loops above
    # storage level i are the suffix that starts at the level just above it.
    inner_first = list(reversed(storage_idx))
    gb = np.concatenate([sorted_b[j] for j in inner_first], axis=1)
    gd = np.concatenate([sorted_d[j] for j in inner_first], axis=1)
    width = gb.shape[1]
    offset = {j: 8 * k for k, j in enumerate(inner_first)}
    ones = np.ones((K, 1), dtype=np.int64)
    rows = np.arange(K)

    def suffix_prod(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.cumprod(x[:, ::-1], axis=1)[:, ::-1], ones], axis=1)

    def next_true(mask: np.ndarray) -> np.ndarray:
        v = np.where(mask, np.arange(width), width)
        v = np.minimum.accumulate(v[:, ::-1], axis=1)[:, ::-1]
        return np.concatenate([v, np.full((K, 1), width)], axis=1)

    nontriv = gb > 1
    suf = suffix_prod(gb)
    nxt_nt = next_true(nontriv)
    gd_pad = np.concatenate([gd, np.zeros((K, 1), dtype=gd.dtype)], axis=1)
    gb_pad = np.concatenate([gb, ones], axis=1)
    per_ds = {}
    for ds in DATASPACES:
        rel = RELEVANT[ds][gd]
        per_ds[ds] = (next_true(rel & nontriv), suffix_prod(np.where(rel, gb, 1)))
    guards = _Guards.of(prob, arch, bounds, rank, offset)
    if guards is not None and bound:
        raise ApproxDSEError("lower bounds are only defined for exact factorisations")
    load_terms: dict[tuple[int, str], tuple[np.ndarray, np.ndarray | None]] = {}
    fill_terms: dict[tuple[int, str], list[tuple[np.ndarray, np.ndarray | None]]] = {}
    for pos, i in enumerate(storage_idx):
        start = offset[storage_idx[pos - 1]] if pos > 0 else width
        for ds in DATASPACES:
            if ds not in keep[levels[i].name]:
                continue
            T = tiles[i][ds]
            nxt, sufrel = per_ds[ds]
            first = nxt[:, start]
            nld = suf[rows, first]  # = 1 when no relevant loop lies above (first == width)
            loads[(i, ds)] = nld
            distinct[(i, ds)] = T * sufrel[:, start]
            f = nld * T
            if ds == "Inputs":
                dim = gd_pad[rows, first]
                n = gb_pad[rows, first]
                slide = (first < width) & (first == nxt_nt[:, start]) & (dim >= P)
                if slide.any():
                    h, w = hw[i]
                    # the window moves by the sliding loop's own step: the extent of its
                    # dimension below the loop's level (spatial loops in between included)
                    lvl = np.array(inner_first)[np.minimum(first, width - 1) // 8]
                    e = ext[rows, lvl + 1, :]
                    step = np.select([dim == P, dim == Q, dim == R, dim == S],
                                     [e[:, P] * prob.stride_h, e[:, Q] * prob.stride_w,
                                      e[:, R] * prob.dilation_h, e[:, S] * prob.dilation_w], 1)
                    span = np.where((dim == P) | (dim == R), h, w)
                    delta = (T // span) * np.minimum(step, span)
                    f = np.where(slide, (nld // np.maximum(n, 1)) * (T + (n - 1) * delta), f)
            if bound and i in floor_levels:
                nld = sufrel[:, start]  # one load per distinct tile: the tensor once
                f = nld * T
                if ds == "Inputs":
                    full = ext[:, 0, :]
                    hh = _distinct_offsets(full[:, P], np.full(K, prob.stride_h), full[:, R], np.full(K, prob.dilation_h))
                    ww = _distinct_offsets(full[:, Q], np.full(K, prob.stride_w), full[:, S], np.full(K, prob.dilation_w))
                    f = np.minimum(f, full[:, N] * full[:, G] * full[:, C] * hh * ww)
                loads[(i, ds)] = nld
            elif bound:
                nld, f = _best_case_loads(prob, bounds, ext, storage_idx[:pos], i, ds, T, hw[i], suf[:, start])
                loads[(i, ds)] = nld
            mask_a = guards.loads_mask(i, first) if guards is not None else None
            mask_b = guards.spatial_mask(0, i) if guards is not None else None
            load_terms[(i, ds)] = (nld * T, mask_a)
            if ds == "Outputs" and arch.elide_first_output_fill:
                fill_terms[(i, ds)] = [(nld * T, mask_a), (-distinct[(i, ds)], mask_b)]
            else:
                fill_terms[(i, ds)] = [(f, mask_a)]
            if guards is not None:
                distinct[(i, ds)] = _combine(guards, ds, [(distinct[(i, ds)], mask_b)])
            fills[(i, ds)] = _combine(guards, ds, fill_terms[(i, ds)])

    reads: dict[tuple[int, str], np.ndarray] = {}
    updates: dict[tuple[int, str], np.ndarray] = {}
    for ds in DATASPACES:
        chain = [i for i in storage_idx if ds in keep[levels[i].name]]
        if not chain or chain[0] != storage_idx[0]:
            raise ApproxDSEError(f"the outermost level of {arch.name} must keep {ds}")
        fills[(chain[0], ds)] = np.zeros(K, dtype=np.int64)
        for k, p in enumerate(chain):
            c = chain[k + 1] if k + 1 < len(chain) else L
            uniq = np.ones(K, dtype=np.int64)
            for j in spatial_idx:
                if p < j < c:
                    uniq = uniq * _unique_children(bounds, ext, j, prob, ds)
            if c == L:
                load_t = [(temporal, guards.everything() if guards is not None else None)]  # one operand per MAC
                if ds == "Outputs":
                    rel = RELEVANT[ds]
                    dist = np.ones(K, dtype=np.int64)
                    for i in storage_idx:
                        dist = dist * np.where(rel, bounds[:, i, :], 1).prod(axis=1)
                    fill_t = load_t + [(-dist, guards.spatial_mask(0, L) if guards is not None else None)]
                else:
                    fill_t = load_t
            else:
                load_t = [load_terms[(c, ds)]]
                fill_t = fill_terms[(c, ds)]
            # a parent read serves every child of a multicast group: the counts per parent instance
            # enumerate only the spatial loops between them that are relevant to the tensor
            child_load = _combine(guards, ds, load_t, uniq, p, c)
            child_fill = _combine(guards, ds, fill_t, uniq, p, c)
            if ds == "Outputs" and not arch.elide_first_output_fill:
                # older Timeloop: the child fills every partial sum; the parent skips its own first writes
                own = distinct[(p, ds)] if p != chain[0] else _combine(guards, ds, [(tiles[p][ds], None)])
                reads[(p, ds)] = child_load - own
            else:
                reads[(p, ds)] = child_fill
            updates[(p, ds)] = child_load if ds == "Outputs" else np.zeros(K, dtype=np.int64)

    components: dict[str, np.ndarray] = {}
    accesses = {}
    if guards is not None:
        temporal = np.rint(temporal * guards.ratio(np.zeros(len(DIMS), dtype=bool), guards.temporal_mask()))
        temporal = temporal.astype(np.int64)
    cycles = temporal.astype(float)
    for i in storage_idx:
        lv = levels[i]
        e = lv.energy
        per_inst = np.zeros(K)
        # bandwidth (words per cycle per instance) stretches the run when exceeded
        if lv.read_bandwidth or lv.write_bandwidth:
            rd = sum(reads[(i, ds)] for ds in DATASPACES if ds in keep[lv.name])
            wr = sum(fills[(i, ds)] + updates[(i, ds)] for ds in DATASPACES if ds in keep[lv.name])
            if lv.read_bandwidth:
                cycles = np.maximum(cycles, rd / lv.read_bandwidth)
            if lv.write_bandwidth:
                cycles = np.maximum(cycles, wr / lv.write_bandwidth)
        for ds in DATASPACES:
            if ds not in keep[lv.name]:
                continue
            r, f, u = reads[(i, ds)], fills[(i, ds)], updates[(i, ds)]
            b = lv.block_size  # Timeloop charges whole vector accesses: ceil(scalar / block)
            per_inst = per_inst + (-(-r // b)) * e.read + (-(-f // b)) * e.write + (-(-u // b)) * e.update
            if detail:
                accesses[(lv.name, ds)] = {"reads": r, "fills": f, "updates": u, "instances": used[:, i],
                                           "tile": tiles[i][ds]}
        if lv.cluster_size > 1:
            # Timeloop charges every cluster of a clustered level, used or not
            components[lv.name] = per_inst * (arch.instances(i) // lv.cluster_size)
        else:
            components[lv.name] = per_inst * used[:, i]
    ce = arch.compute.energy
    components["multiplier"] = np.full(K, macs * ce.multiplier, dtype=float)
    components["adder"] = np.full(K, macs * ce.adder, dtype=float)
    energy = sum(components.values())
    return NestAnalysis(
        energy=energy,
        components=components,
        cycles=np.ceil(cycles).astype(np.int64),
        compute_cycles=temporal,
        utilization=(compute_instances / arch.num_macs if guards is None
                     else macs / (np.maximum(temporal, 1) * arch.num_macs)),
        macs=macs,
        compute_instances=compute_instances,
        accesses=accesses if detail else None,
    )


def _combine(guards: "_Guards | None", ds: str, terms: list[tuple[np.ndarray, np.ndarray | None]],
             uniq: np.ndarray | int = 1, parent: int | None = None, child: int | None = None) -> np.ndarray:
    """The sum of count terms, times ``uniq``; with guards each term is scaled to the guarded nest.

    With ``parent``/``child`` the terms are counted per parent instance, once per multicast group.
    """
    if guards is None:
        return sum(v for v, _ in terms) * uniq
    out = 0.0
    for v, mask in terms:
        if mask is None:
            mask = guards.spatial_mask(0, 0)
        if parent is not None:
            mask = guards.multicast(mask, parent, child)
        out = out + v * uniq * guards.ratio(RELEVANT[ds], mask)
    return out


class _Guards:
    """Counting for imperfect factorisations: loops whose bounds multiply past a dimension's size.

    A dimension of size ``D`` whose loop bounds multiply to ``Dp > D`` runs a guarded nest:
    every loop steps by the product of the bounds below it, and an iteration whose tile would
    start at or past ``D`` is skipped, so each level's tiles are the aligned chunks of ``[0, D)``
    and only the last one is partial. Each count of the exact model is a product of one factor
    per dimension; for a guarded dimension that factor changes: a dimension relevant to the
    tensor contributes the real total ``D`` of its tile extents instead of ``Dp``; an irrelevant
    one the number of non-empty iterations of the loops the count enumerates (those that reload
    or replicate the tile) instead of the product of their bounds. The terms here carry, per
    mapping, level and dimension, which loops they enumerate (``mask[K, L, 8]``); :meth:`ratio`
    is the guarded factor over the exact one. Only N, G, C and M may be guarded (a partial
    window of P, Q, R or S would interact with sliding reuse and diagonal multicast).
    """

    GUARDABLE = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)

    def __init__(self, sizes: np.ndarray, bounds: np.ndarray, spatial: np.ndarray, pos: np.ndarray):
        self.sizes, self.bounds, self.spatial, self.pos = sizes, bounds, spatial, pos
        self.pad = bounds.prod(axis=1)
        self.guarded = [d for d in range(len(DIMS)) if (self.pad[:, d] != sizes[d]).any()]
        K, L, _ = bounds.shape
        self.shape = (K, L, len(DIMS))
        self.stride = np.ones((K, L, len(DIMS)), dtype=np.int64)  # product of the bounds below each level
        for j in range(L - 2, -1, -1):
            self.stride[:, j, :] = self.stride[:, j + 1, :] * bounds[:, j + 1, :]

    @staticmethod
    def of(prob: Problem, arch: Architecture, bounds: np.ndarray, rank: np.ndarray,
           offset: dict[int, int]) -> "_Guards | None":
        sizes = np.array(prob.dims, dtype=np.int64)
        pad = bounds.prod(axis=1)
        if (pad == sizes).all():
            return None
        if ((pad != sizes) & ~_Guards.GUARDABLE).any() or (pad < sizes).any():
            raise ApproxDSEError("loop bounds must cover each dimension (N, G, C, M: at least its size; "
                                 "P, Q, R, S: exactly)")
        K, L, _ = bounds.shape
        spatial = np.array([isinstance(lv, SpatialLevel) for lv in arch.levels])
        pos = np.full((K, L, len(DIMS)), -1, dtype=np.int64)
        for j, off in offset.items():
            pos[:, j, :] = off + np.argsort(np.argsort(rank[:, j, :], axis=1, kind="stable"), axis=1)
        return _Guards(sizes, bounds, spatial, pos)

    def spatial_mask(self, lo: int, hi: int) -> np.ndarray:
        """The spatial loops of levels ``lo <= j < hi``."""
        m = np.zeros(self.shape, dtype=bool)
        m[:, lo:hi, :] = self.spatial[lo:hi, None]
        return m

    def loads_mask(self, i: int, first: np.ndarray) -> np.ndarray:
        """A level-``i`` tile's loads: the spatial loops above it and the temporal loops from ``first`` out."""
        m = self.spatial_mask(0, i)
        m[:, :i, :] |= self.pos[:, :i, :] >= first[:, None, None]
        return m

    def everything(self) -> np.ndarray:
        return np.ones(self.shape, dtype=bool)

    def temporal_mask(self) -> np.ndarray:
        return np.broadcast_to(~self.spatial[None, :, None], self.shape).copy()

    def multicast(self, mask: np.ndarray, parent: int, child: int) -> np.ndarray:
        out = mask.copy()
        out[:, parent + 1:child, :] &= ~self.spatial[parent + 1:child, None]
        return out

    def count(self, d: int, mask: np.ndarray) -> np.ndarray:
        """Non-empty iterations of dimension ``d``'s loops in ``mask`` (the others at their first index)."""
        b, st, en = self.bounds[:, :, d], self.stride[:, :, d], mask[:, :, d]
        K, L = b.shape
        below = np.ones((K, L + 1), dtype=np.int64)  # product of the enumerated bounds below each level
        for j in range(L - 1, -1, -1):
            below[:, j] = below[:, j + 1] * np.where(en[:, j], b[:, j], 1)
        budget = np.full(K, self.sizes[d], dtype=np.int64)
        out = np.zeros(K, dtype=np.int64)
        for j in range(L):
            q = np.minimum(b[:, j], budget // st[:, j])
            out += np.where(en[:, j], q * below[:, j + 1], 0)
            budget = np.where(en[:, j], np.where(q < b[:, j], budget - q * st[:, j], 0),
                              np.minimum(budget, st[:, j]))
        return out + (budget > 0)  # the partial iteration's own path

    def ratio(self, relevant: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The guarded count over the exact one, for a term that enumerates the loops in ``mask``."""
        r = np.ones(self.shape[0])
        for d in self.guarded:
            if relevant[d]:
                r = r * (self.sizes[d] / self.pad[:, d])
            else:
                exact = np.where(mask[:, :, d], self.bounds[:, :, d], 1).prod(axis=1)
                r = r * (self.count(d, mask) / exact)
        return r


def _best_case_loads(prob: Problem, bounds: np.ndarray, ext: np.ndarray, above: list[int], i: int, ds: str,
                     T: np.ndarray, hw: tuple[np.ndarray, np.ndarray], prod_above: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The least tile loads and fills of tensor ``ds`` at level ``i`` over every order of the loops above it."""
    K = bounds.shape[0]
    rel = RELEVANT[ds]
    reuse = np.ones(K, dtype=np.int64)
    passed = np.zeros(K, dtype=bool)
    jstar = np.full(K, -1, dtype=np.int64)
    for j in reversed(above):  # innermost level first
        b = bounds[:, j, :]
        reuse = reuse * np.where(passed, 1, np.where(rel, 1, b).prod(axis=1))
        passed |= (np.where(rel, b, 1) > 1).any(axis=1)
        jstar = np.where((jstar < 0) & (b > 1).any(axis=1), j, jstar)
    nld = prod_above // reuse
    f = nld * T
    if ds == "Inputs" and (jstar >= 0).any():
        rows = np.arange(K)
        js = np.maximum(jstar, 0)
        h, w = hw
        e = ext[rows, js + 1, :]  # the window moves by the extent below the sliding loop's level
        for x, step, span in ((P, e[:, P] * prob.stride_h, h), (Q, e[:, Q] * prob.stride_w, w),
                              (R, e[:, R] * prob.dilation_h, h), (S, e[:, S] * prob.dilation_w, w)):
            n = np.where(jstar >= 0, bounds[rows, js, x], 1)
            delta = (T // span) * np.minimum(step, span)
            fb = (prod_above // np.maximum(n, 1)) * (T + (n - 1) * delta)
            f = np.where(n > 1, np.minimum(f, fb), f)
    return nld, f


def _extents(bounds: np.ndarray) -> np.ndarray:
    """``ext[:, i, d]``: product of the bounds at levels i and below (with a trailing level of ones)."""
    K, L, D = bounds.shape
    ext = np.ones((K, L + 1, D), dtype=np.int64)
    ext[:, :L, :] = np.cumprod(bounds[:, ::-1, :], axis=1)[:, ::-1, :]
    return ext


def legality(prob: Problem, arch: Architecture, bounds: np.ndarray,
             keep: dict[str, frozenset[str]] | None = None, explain: bool = True) -> tuple[np.ndarray, list[str]]:
    """A boolean mask of legal mappings and (if ``explain``) why the first illegal one is not (one sentence)."""
    K, L, _ = bounds.shape
    if keep is None:
        keep = {lv.name: lv.keep for lv in arch.storage_levels}
    levels = arch.levels
    checks: list[tuple[np.ndarray, str]] = []
    prod = bounds.prod(axis=1)
    dims = np.array(prob.dims)
    checks.append((covers(prod, bounds, dims), "dims"))
    lo, hi = factor_ranges(prob, arch)
    fits = ((bounds >= lo) & (bounds <= hi)).all(axis=(1, 2))
    for k in np.flatnonzero((prod != dims).any(axis=1)):
        # an imperfect factorisation meets its constraints for the extent its loops cover
        plo, phi = factor_ranges(_covering(prob, prod[k]), arch)
        fits[k] = ((bounds[k] >= plo) & (bounds[k] <= phi)).all()
    checks.append((fits, "factors"))
    sp = [i for i, lv in enumerate(levels) if isinstance(lv, SpatialLevel)]
    if sp:
        checks.append((spatial_fits(arch, bounds), "fanout"))
    st = [i for i, lv in enumerate(levels) if isinstance(lv, StorageLevel) and lv.depth is not None]
    if st:
        ext = _extents(bounds)
        tiles, _, _ = _tile_sizes(ext[:, st, :], prob)
        need = np.zeros((K, len(st)), dtype=np.int64)
        for ds in DATASPACES:
            km = np.array([ds in keep[levels[i].name] for i in st])
            need += tiles[ds] * km
        cap = np.array([levels[i].capacity_words for i in st])
        checks.append(((need <= cap).all(axis=1), "capacity"))
    ok = np.logical_and.reduce([c for c, _ in checks])
    reasons: list[str] = []
    if explain and not ok.all():
        k = int(np.argmin(ok))
        reasons.append(_explain(prob, arch, bounds[k], keep))
    return ok, reasons


def _covering(prob: Problem, prod: np.ndarray) -> Problem:
    """The problem whose sizes are the extents the loops cover (imperfect factorisation)."""
    return replace(prob, dims=tuple(int(x) for x in prod))


def covers(prod: np.ndarray, bounds: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Whether each mapping's loops cover the layer: exactly, or (N, G, C, M) imperfectly."""
    return covered_dims(prod, bounds, dims).all(axis=1)


def covered_dims(prod: np.ndarray, bounds: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """``ok[K, 8]``: whether each dimension's loops cover it.

    Exactly, or for N, G, C and M imperfectly: the bounds multiply past the size and the
    outermost loop runs no empty iteration: ``(b - 1) * tile < size <= b * tile``, with
    ``tile`` the extent below it.
    """
    ok = (prod == dims) | (_Guards.GUARDABLE & (prod > dims))
    over = (prod > dims).any(axis=0)
    for d in np.flatnonzero(over):
        b = bounds[:, :, d]
        top = np.argmax(b > 1, axis=1)
        bt = b[np.arange(len(b)), top]
        ok[:, d] &= (prod[:, d] == dims[d]) | ((bt - 1) * (prod[:, d] // bt) < dims[d])
    return ok


def factor_ranges(prob: Problem, arch: Architecture) -> tuple[np.ndarray, np.ndarray]:
    """``lo[L, 8]``, ``hi[L, 8]``: the loop bounds each level's factor constraints allow (exact factorisation).

    For an imperfect factorisation the constraints hold for the extents the loops cover
    (a forced ``C=4`` on a layer with C=58 is 4 once C is covered to 60).
    """
    L = len(arch.levels)
    lo = np.ones((L, len(DIMS)), dtype=np.int64)
    hi = np.tile(np.array(prob.dims, dtype=np.int64), (L, 1))
    for i, lv in enumerate(arch.levels):
        for f in lv.factors:
            d = DIMS.index(f.dim)
            size = prob.dims[d]
            if f.op == "=":
                v = effective_forced(f.value, size)
                lo[i, d] = max(lo[i, d], v)
                hi[i, d] = min(hi[i, d], v)
            elif f.op == "<=":
                hi[i, d] = min(hi[i, d], f.value)
            else:
                lo[i, d] = max(lo[i, d], min(f.value, size))
        if isinstance(lv, SpatialLevel):
            hi[i] = np.minimum(hi[i], lv.fanout)
    return lo, hi


def spatial_fits(arch: Architecture, bounds: np.ndarray, only: int | None = None) -> np.ndarray:
    """Whether each mapping's spatial loops fit their meshes (meshX/meshY with the level's split)."""
    K = bounds.shape[0]
    ok = np.ones(K, dtype=bool)
    for i, lv in enumerate(arch.levels):
        if not isinstance(lv, SpatialLevel) or (only is not None and i != only):
            continue
        b = bounds[:, i, :]
        xd = lv.x_dims
        if xd is not None:
            xm = np.array([d in xd for d in DIMS])
            ok &= (np.where(xm, b, 1).prod(axis=1) <= lv.mesh_x) & (np.where(xm, 1, b).prod(axis=1) <= lv.mesh_y)
        elif lv.mesh_x > 1 and lv.mesh_y > 1:
            fits = np.zeros(K, dtype=bool)
            for mask in range(1 << len(DIMS)):
                xm = np.array([(mask >> d) & 1 == 1 for d in range(len(DIMS))])
                fits |= (np.where(xm, b, 1).prod(axis=1) <= lv.mesh_x) & (np.where(xm, 1, b).prod(axis=1) <= lv.mesh_y)
            ok &= fits
        else:
            ok &= b.prod(axis=1) <= lv.fanout
    return ok


def order_violation(arch: Architecture, bounds: np.ndarray, rank: np.ndarray) -> str | None:
    """The first level whose loop order (``rank[L, 8]``, 0 innermost) breaks its permutation constraint."""
    for i, lv in enumerate(arch.levels):
        if not isinstance(lv, StorageLevel) or lv.permutation.empty:
            continue
        nontriv = [d for d in range(len(DIMS)) if bounds[i, d] > 1]
        order = [DIMS[d] for d in sorted(nontriv, key=lambda d: rank[i, d])]
        if not lv.permutation.allows(order):
            return (f"the loop order at {lv.name} (innermost first: {''.join(order)}) breaks its permutation "
                    f"constraint {lv.permutation.as_text()!r}")
    return None


def _explain(prob: Problem, arch: Architecture, b: np.ndarray, keep: dict[str, frozenset[str]]) -> str:
    """The first constraint one mapping (``b[L, 8]``) breaks, as a sentence."""
    prod = b.prod(axis=0)
    for d, name in enumerate(DIMS):
        if not covered_dims(prod[None], b[None], np.array(prob.dims))[0, d]:
            if prod[d] > prob.dims[d] and _Guards.GUARDABLE[d]:
                return (f"the outermost {name} loop runs an empty iteration: the bounds of {name} multiply to "
                        f"{int(prod[d])}, more than one tile past the layer's {name}={prob.dims[d]}")
            return f"the loop bounds of {name} do not multiply to the layer's {name}={prob.dims[d]}"
    ext = _extents(b[None])[0]
    lo, hi = factor_ranges(prob if (prod == np.array(prob.dims)).all() else _covering(prob, prod), arch)
    for i, lv in enumerate(arch.levels):
        for d, dim in enumerate(DIMS):
            if not lo[i, d] <= b[i, d] <= hi[i, d]:
                lim = " ".join(str(f) for f in lv.factors if f.dim == dim) or "fan-out"
                if hi[i, d] == 1:
                    return f"level {lv.name} may not have a {dim} loop (factor constraint {lim})"
                return (f"level {lv.name} has a {dim} loop of bound {int(b[i, d])}, outside "
                        f"[{int(lo[i, d])}, {int(hi[i, d])}] (constraint {lim})")
        if isinstance(lv, SpatialLevel):
            if b[i].prod() > lv.fanout:
                return f"spatial level {lv.name} unrolls {int(b[i].prod())} copies, more than its fan-out {lv.fanout}"
            if not spatial_fits(arch, b[None], only=i)[0]:
                if lv.x_dims is not None:
                    return (f"spatial level {lv.name}'s loops do not fit its {lv.mesh_x} x {lv.mesh_y} mesh "
                            f"with {''.join(sorted(lv.x_dims))} along meshX")
        elif lv.depth is not None:
            t, _, _ = _tile_sizes(ext[i], prob)
            need = sum(int(t[ds]) for ds in DATASPACES if ds in keep[lv.name])
            if need > lv.capacity_words:
                return f"the tiles kept in {lv.name} ({need} words) exceed its capacity of {int(lv.capacity_words)} words"
    return "no constraint is broken"
