"""The counting model of :mod:`accelerators.nest_analysis`, compiled, for one mapping at a time.

The exhaustive mapper lists millions of tilings per layer; numpy's per-call
overhead made that the mapper's whole cost. :func:`enumerate_bounded` walks
every legal tiling (exact factorisations within the factor ranges, fan-outs,
meshes, capacities) in compiled code and keeps those whose lower bound over
every loop order (the counts of ``analyze(..., bound=True)``) does not exceed a
given incumbent; :func:`cost` is the model itself for one tiling and loop order.
Both mirror ``nest_analysis.analyze`` line by line; tests compare them with it
on random mappings of every built-in design, so the mapper still optimises
exactly what the model reports.

Architecture and problem are passed as flat arrays (:class:`KernelArch`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from approxdse.accelerators.architecture import DATASPACES, DIMS, Architecture, SpatialLevel, StorageLevel
from approxdse.accelerators.nest_analysis import RELEVANT, Problem

N, G, C, M, P, Q, R, S = range(8)
_W, _I, _O = 0, 1, 2


@dataclass(frozen=True)
class KernelArch:
    """An architecture and a problem as the arrays the compiled model reads."""

    is_storage: np.ndarray   # [L] bool
    mesh_x: np.ndarray       # [L] int (spatial levels)
    mesh_y: np.ndarray       # [L] int
    x_mask: np.ndarray       # [L] int: bit d set = DIMS[d] along meshX; -1 = no split constraint
    capacity: np.ndarray     # [L] float (inf = unbounded)
    keep: np.ndarray         # [L, 3] bool, DATASPACES order
    e_read: np.ndarray       # [L] float, pJ per vector access
    e_write: np.ndarray
    e_update: np.ndarray
    block: np.ndarray        # [L] int, words per vector
    cluster_charge: np.ndarray  # [L] float: clusters charged (clustered levels) or -1 (charge used instances)
    read_bw: np.ndarray      # [L] float, 0 = unlimited
    write_bw: np.ndarray
    relevant: np.ndarray     # [3, 8] bool
    dims: np.ndarray         # [8] int
    strides: np.ndarray      # [4] int: stride_h, stride_w, dilation_h, dilation_w
    elide: bool
    compute_energy: float    # pJ per MAC (multiplier + adder)

    @staticmethod
    def build(prob: Problem, arch: Architecture) -> "KernelArch":
        levels = arch.levels
        L = len(levels)
        f = np.zeros(L)
        ints = np.zeros(L, dtype=np.int64)
        is_st = np.array([isinstance(lv, StorageLevel) for lv in levels])
        mx, my, xm = ints.copy(), ints.copy(), np.full(L, -1, dtype=np.int64)
        cap = np.full(L, np.inf)
        keep = np.zeros((L, 3), dtype=np.bool_)
        er, ew, eu, bw_r, bw_w, clus = f.copy(), f.copy(), f.copy(), f.copy(), f.copy(), np.full(L, -1.0)
        block = np.ones(L, dtype=np.int64)
        for i, lv in enumerate(levels):
            if isinstance(lv, SpatialLevel):
                mx[i], my[i] = lv.mesh_x, lv.mesh_y
                if lv.x_dims is not None:
                    xm[i] = sum(1 << d for d, name in enumerate(DIMS) if name in lv.x_dims)
                continue
            cap[i] = lv.capacity_words
            for k, ds in enumerate(DATASPACES):
                keep[i, k] = ds in lv.keep
            er[i], ew[i], eu[i] = lv.energy.read, lv.energy.write, lv.energy.update
            block[i] = lv.block_size
            if lv.cluster_size > 1:
                clus[i] = float(arch.instances(i) // lv.cluster_size)
            bw_r[i] = lv.read_bandwidth or 0.0
            bw_w[i] = lv.write_bandwidth or 0.0
        rel = np.stack([RELEVANT[ds] for ds in DATASPACES])
        ce = arch.compute.energy
        return KernelArch(is_st, mx, my, xm, cap, keep, er, ew, eu, block, clus, bw_r, bw_w, rel,
                          np.array(prob.dims, dtype=np.int64),
                          np.array([prob.stride_h, prob.stride_w, prob.dilation_h, prob.dilation_w], dtype=np.int64),
                          bool(arch.elide_first_output_fill), float(ce.multiplier + ce.adder))

    def innermost(self, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(``spmax[3, 8]``, ``inner_pos[3]``) for :func:`search`, from the factor ranges' ``hi[L, 8]``."""
        L = len(self.is_storage)
        spmax = np.ones((3, 8))
        inner_pos = np.full(3, -1, dtype=np.int64)
        storage = [i for i in range(L) if self.is_storage[i]]
        for t in range(3):
            keeping = [i for i in storage if self.keep[i, t]]
            if not keeping:
                continue
            lv = keeping[-1]
            inner_pos[t] = storage.index(lv)
            for j in range(lv + 1, L):
                if not self.is_storage[j]:
                    spmax[t] *= np.minimum(hi[j], self.mesh_x[j] * self.mesh_y[j])
        return np.minimum(spmax, self.dims[None, :].astype(float)), inner_pos

    def args(self) -> tuple:
        return (self.is_storage, self.mesh_x, self.mesh_y, self.x_mask, self.capacity, self.keep, self.e_read,
                self.e_write, self.e_update, self.block, self.cluster_charge, self.read_bw, self.write_bw,
                self.relevant, self.dims, self.strides, self.elide, self.compute_energy)


@njit(cache=True)
def _distinct_offsets(fa, a, fb, b, vals):
    """Distinct values of ``i*a + j*b`` for i < fa, j < fb (``vals``: scratch of at least fa*fb)."""
    if fa <= 1 or fb <= 1:
        return fa * fb
    k = 0
    for i in range(fa):
        for j in range(fb):
            vals[k] = i * a + j * b
            k += 1
    v = vals[:fa * fb]
    v.sort()
    n = 1
    for k in range(1, fa * fb):
        if v[k] != v[k - 1]:
            n += 1
    return n


@njit(cache=True)
def _tiles(e, st):
    """Tile sizes (W, I, O) and the input window's height and width for extents ``e[8]``."""
    h = (e[P] - 1) * st[0] + (e[R] - 1) * st[2] + 1
    w = (e[Q] - 1) * st[1] + (e[S] - 1) * st[3] + 1
    tw = e[G] * e[C] * e[M] * e[R] * e[S]
    ti = e[N] * e[G] * e[C] * h * w
    to = e[N] * e[G] * e[M] * e[P] * e[Q]
    return tw, ti, to, h, w


@njit(cache=True)
def _mesh_fits(f, mx, my, xmask):
    """Whether one spatial level's factors ``f[8]`` fit its mesh (with its split, if any)."""
    if xmask >= 0:
        px = 1
        py = 1
        for d in range(8):
            if (xmask >> d) & 1:
                px *= f[d]
            else:
                py *= f[d]
        return px <= mx and py <= my
    tot = 1
    for d in range(8):
        tot *= f[d]
    if mx <= 1 or my <= 1:
        return tot <= mx * my
    if tot > mx * my:
        return False
    for mask in range(256):
        px = 1
        py = 1
        for d in range(8):
            if (mask >> d) & 1:
                px *= f[d]
            else:
                py *= f[d]
        if px <= mx and py <= my:
            return True
    return False


@njit(cache=True)
def _ceil_div(a, b):
    return -((-a) // b)


@njit(cache=True)
def scratch(L):
    """Work arrays for :func:`cost` (allocated once per search)."""
    return (np.ones((L + 1, 8), dtype=np.int64), np.ones(L + 1, dtype=np.int64), np.empty(L, dtype=np.int64),
            np.ones(8 * L, dtype=np.int64), np.zeros(8 * L, dtype=np.int64), np.zeros((L, 3), dtype=np.int64),
            np.zeros((L, 2), dtype=np.int64), np.zeros((L, 3), dtype=np.int64), np.zeros((L, 3), dtype=np.int64),
            np.zeros((L, 3), dtype=np.int64), np.zeros((L, 3), dtype=np.int64), np.zeros((L, 3), dtype=np.int64),
            np.empty(L, dtype=np.int64), np.empty(1 << 16, dtype=np.int64))


@njit(cache=True)
def cost(b, rank, bound, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st,
         elide, ce, work):
    """(energy pJ, cycles) of one mapping: ``b[L, 8]`` bounds, ``rank[L, 8]`` orders (0 innermost).

    With ``bound`` the orders are ignored and the lower bound over every order is returned
    (``nest_analysis.analyze(..., bound=True)``). ``work`` comes from :func:`scratch`.
    """
    L = b.shape[0]
    ext, used, storage, gb, gd, tiles, hws, loads, fills, distinct, reads, updates, chain, vals = work
    for d in range(8):
        ext[L, d] = 1
    for i in range(L - 1, -1, -1):
        for d in range(8):
            ext[i, d] = ext[i + 1, d] * b[i, d]
    used[0] = 1
    for i in range(L):
        p = 1
        if not is_st[i]:
            for d in range(8):
                p *= b[i, d]
        used[i + 1] = used[i] * p
    ns = 0
    temporal = 1
    for i in range(L):
        if is_st[i]:
            storage[ns] = i
            ns += 1
            for d in range(8):
                temporal *= b[i, d]
    macs = 1
    for d in range(8):
        macs *= dims[d]
    # the loops of every storage level, innermost level first, each level innermost loop first
    width = 8 * ns
    for k in range(ns):
        i = storage[ns - 1 - k]
        base = 8 * k
        if bound:
            for pos in range(8):
                gd[base + pos] = pos
        else:
            # dims by rank (stable insertion sort: equal ranks keep DIMS order)
            for pos in range(8):
                gd[base + pos] = pos
            for pos in range(1, 8):
                v = gd[base + pos]
                q = pos - 1
                while q >= 0 and rank[i, gd[base + q]] > rank[i, v]:
                    gd[base + q + 1] = gd[base + q]
                    q -= 1
                gd[base + q + 1] = v
        for pos in range(8):
            gb[base + pos] = b[i, gd[base + pos]]
    for p in range(ns):
        tw, ti, to, h, w = _tiles(ext[storage[p]], st)
        tiles[p, 0] = tw
        tiles[p, 1] = ti
        tiles[p, 2] = to
        hws[p, 0] = h
        hws[p, 1] = w
    for p in range(ns):
        for t in range(3):
            loads[p, t] = 0
            fills[p, t] = 0
            distinct[p, t] = 0
            reads[p, t] = 0
            updates[p, t] = 0
    for p in range(ns):
        i = storage[p]
        start = 8 * (ns - p) if p > 0 else width
        prod_above = 1
        for k in range(start, width):
            prod_above *= gb[k]
        first_nt = width
        for k in range(start, width):
            if gb[k] > 1:
                first_nt = k
                break
        for t in range(3):
            if not keep[i, t]:
                continue
            T = tiles[p, t]
            sufrel = 1
            first = width
            for k in range(start, width):
                if rel[t, gd[k]]:
                    sufrel *= gb[k]
                    if first == width and gb[k] > 1:
                        first = k
            nld = 1
            for k in range(first, width):
                nld *= gb[k]
            distinct[p, t] = T * sufrel
            f = nld * T
            if not bound:
                if t == _I and first < width and first == first_nt and gd[first] >= P:
                    dim = gd[first]
                    n = gb[first]
                    # the window moves by the extent below the sliding loop's level
                    e = ext[storage[ns - 1 - first // 8] + 1]
                    if dim == P:
                        step = e[P] * st[0]
                    elif dim == Q:
                        step = e[Q] * st[1]
                    elif dim == R:
                        step = e[R] * st[2]
                    else:
                        step = e[S] * st[3]
                    span = hws[p, 0] if (dim == P or dim == R) else hws[p, 1]
                    delta = (T // span) * min(step, span)
                    f = (nld // max(n, 1)) * (T + (n - 1) * delta)
            else:
                # the least loads over every order of the loops above (nest_analysis._best_case_loads)
                reuse = 1
                passed = False
                jstar = -1
                for q in range(p - 1, -1, -1):
                    j = storage[q]
                    if not passed:
                        for d in range(8):
                            if not rel[t, d]:
                                reuse *= b[j, d]
                    for d in range(8):
                        if rel[t, d] and b[j, d] > 1:
                            passed = True
                    if jstar < 0:
                        for d in range(8):
                            if b[j, d] > 1:
                                jstar = j
                                break
                nld = prod_above // reuse
                f = nld * T
                if t == _I and jstar >= 0:
                    e = ext[jstar + 1]
                    for x in range(P, S + 1):
                        n = b[jstar, x]
                        if n <= 1:
                            continue
                        if x == P:
                            step = e[P] * st[0]
                            span = hws[p, 0]
                        elif x == Q:
                            step = e[Q] * st[1]
                            span = hws[p, 1]
                        elif x == R:
                            step = e[R] * st[2]
                            span = hws[p, 0]
                        else:
                            step = e[S] * st[3]
                            span = hws[p, 1]
                        delta = (T // span) * min(step, span)
                        fb = (prod_above // n) * (T + (n - 1) * delta)
                        if fb < f:
                            f = fb
            loads[p, t] = nld
            if t == _O and elide:
                f = nld * T - distinct[p, t]
            fills[p, t] = f

    for t in range(3):
        nc = 0
        for p in range(ns):
            if keep[storage[p], t]:
                chain[nc] = p
                nc += 1
        fills[chain[0], t] = 0
        for k in range(nc):
            p = chain[k]
            lp = storage[p]
            lc = storage[chain[k + 1]] if k + 1 < nc else L
            uniq = 1
            for j in range(lp + 1, lc):
                if is_st[j]:
                    continue
                f = b[j]
                if t == _W:
                    uniq *= f[G] * f[C] * f[M] * f[R] * f[S]
                elif t == _O:
                    uniq *= f[N] * f[G] * f[M] * f[P] * f[Q]
                else:
                    inner = ext[j + 1]
                    hh = _distinct_offsets(f[P], inner[P] * st[0], f[R], inner[R] * st[2], vals)
                    ww = _distinct_offsets(f[Q], inner[Q] * st[1], f[S], inner[S] * st[3], vals)
                    uniq *= f[N] * f[G] * f[C] * hh * ww
            if lc == L:
                child_load = temporal
                if t == _O:
                    dist = 1
                    for q in range(ns):
                        for d in range(8):
                            if rel[t, d]:
                                dist *= b[storage[q], d]
                    child_fill = temporal - dist
                else:
                    child_fill = temporal
            else:
                c = chain[k + 1]
                child_load = loads[c, t] * tiles[c, t]
                child_fill = fills[c, t]
            if t == _O and not elide:
                own = distinct[p, t] if k > 0 else tiles[p, t]
                reads[p, t] = child_load * uniq - own
            else:
                reads[p, t] = child_fill * uniq
            if t == _O:
                updates[p, t] = child_load * uniq

    energy = float(macs) * ce
    cycles = float(temporal)
    for p in range(ns):
        i = storage[p]
        rd = 0
        wr = 0
        per = 0.0
        for t in range(3):
            if not keep[i, t]:
                continue
            rd += reads[p, t]
            wr += fills[p, t] + updates[p, t]
            bb = blk[i]
            per += _ceil_div(reads[p, t], bb) * er[i] + _ceil_div(fills[p, t], bb) * ew[i] \
                + _ceil_div(updates[p, t], bb) * eu[i]
        if rbw[i] > 0:
            cycles = max(cycles, rd / rbw[i])
        if wbw[i] > 0:
            cycles = max(cycles, wr / wbw[i])
        if clus[i] >= 0:
            energy += per * clus[i]
        else:
            energy += per * used[i]
    return energy, float(np.ceil(cycles))


@njit(cache=True)
def _partial_energy_bound(b, fac, inner_pos, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st,
                          elide, ce, work):
    """A lower bound on the energy of every completion of a partial tiling (unplaced dims are 1 in ``b``).

    Each count of tensor ``t`` summed over instances grows by at least the product of its
    relevant unplaced dimensions ``fac[t]`` when they are placed (the tile times the loops
    above times the instances holds each relevant dimension whole), and by at least 1 for
    the irrelevant ones; placing a loop can only end reuse earlier. Clustered levels, charged
    per cluster rather than per used instance, get factor 1. Whole-vector rounding is dropped
    (a sum of ceilings is at least the ceiling of the sum). ``fac[0, t]`` scales tensor ``t``'s
    counts; ``fac[1, t]`` its reads and updates at its innermost level (``inner_pos[t]``), which
    serve the MACs: there every unplaced dimension counts, divided by the most it can be
    unrolled between that level and the MACs (multicast, spatial reduction).
    """
    cost(b, b, True, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st, elide, ce,
         work)
    ext, used, storage, gb, gd, tiles, hws, loads, fills, distinct, reads, updates, chain, vals = work
    L = b.shape[0]
    macs = 1
    for d in range(8):
        macs *= dims[d]
    energy = float(macs) * ce
    p = 0
    for i in range(L):
        if not is_st[i]:
            continue
        for t in range(3):
            if not keep[i, t]:
                continue
            if clus[i] >= 0:
                energy += (reads[p, t] * er[i] + fills[p, t] * ew[i] + updates[p, t] * eu[i]) / blk[i] * clus[i]
            elif p == inner_pos[t]:
                energy += ((reads[p, t] * er[i] + updates[p, t] * eu[i]) * fac[1, t]
                           + fills[p, t] * ew[i] * fac[0, t]) / blk[i] * used[i]
            else:
                energy += (reads[p, t] * er[i] + fills[p, t] * ew[i] + updates[p, t] * eu[i]) / blk[i] \
                    * used[i] * fac[0, t]
        p += 1
    return energy


@njit(cache=True)
def _scale(fac, t, d, size, rel, spmax):
    """Grow tensor ``t``'s factors (see :func:`_partial_energy_bound`) by an unplaced ``size`` of dim ``d``."""
    if size <= 1:
        return
    if rel[t, d] and (t != _I or d < P):
        fac[0, t] *= size
        fac[1, t] *= size
    else:
        fac[1, t] *= max(1.0, size / min(spmax[t, d], size))


@njit(cache=True)
def _node_ok(b, e, fac, spmax, inner_pos, depth, dim_order, d, rem, limit_p, use_bound, is_st, mx, my, xmask,
             cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st, elide, ce, work):
    """Capacities and fan-outs of a partial tiling hold and (``use_bound``) its bound is within the limit.

    ``rem``: the part of dimension ``d`` not placed yet; the dimensions after ``depth`` in
    ``dim_order`` are not placed at all.
    """
    L = b.shape[0]
    D = 8
    for dd in range(D):
        e[dd] = 1
    for i in range(L - 1, -1, -1):
        for dd in range(D):
            e[dd] *= b[i, dd]
        if is_st[i]:
            if cap[i] < np.inf:
                tw, ti, to, h, w = _tiles(e, st)
                need = 0
                if keep[i, 0]:
                    need += tw
                if keep[i, 1]:
                    need += ti
                if keep[i, 2]:
                    need += to
                if need > cap[i]:
                    return False
        else:
            tot = 1
            for dd in range(D):
                tot *= b[i, dd]
            if tot > mx[i] * my[i]:
                return False
    if not use_bound:
        return True
    for t in range(3):
        fac[0, t] = 1.0
        fac[1, t] = 1.0
        _scale(fac, t, d, rem, rel, spmax)
        for q in range(depth + 1, D):
            dd = dim_order[q]
            _scale(fac, t, dd, dims[dd], rel, spmax)
    return _partial_energy_bound(b, fac, inner_pos, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel,
                                 dims, st, elide, ce, work) <= limit_p


@njit(cache=True)
def _key(e, c, objective):
    if objective == 0:
        return e, c
    if objective == 1:
        return e * c, e
    return c, e


@njit(cache=True)
def search(facts, offsets, skip, dim_order, prefix_from, cls_start, cls_count, cls_ranks, spmax, inner_pos,
           best_p, best_q, budget,
           objective, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st, elide, ce):
    """Branch and bound over every legal tiling and loop-order class; the least key strictly below ``(best_p, best_q)``.

    ``facts[offsets[d]:offsets[d+1]]`` are dimension ``d``'s allowed factorisations over
    the levels (rows of ``L`` factors, sorted lexicographically); ``skip[r, i]`` is the first
    row after ``r`` whose factors at levels ``0..i`` differ. Dimensions are placed in
    ``dim_order`` (from ``prefix_from`` on also level by level); after each step the
    fan-outs and capacities (which only grow as factors are added) and, for the energy
    objective, :func:`_partial_energy_bound` prune. A complete tiling whose bound over every
    loop order (:func:`cost` with ``bound``) could beat the best is evaluated exactly for
    each of its order classes (``cls_ranks[cls_start[i, mask] + k]``, ``k < cls_count[i, mask]``,
    for level ``i`` with nontrivial dims ``mask``). ``objective``: 0 energy, 1 EDP, 2 latency;
    keys compare lexicographically (:func:`_key`). ``spmax[t, d]``: the most dim ``d`` can be
    unrolled between tensor ``t``'s innermost level (storage position ``inner_pos[t]``) and the MACs.

    Returns (found, bounds ``[L, 8]``, ranks ``[L, 8]``, key, secondary key, legal tilings
    reached, subtrees pruned, tilings evaluated exactly, mappings evaluated, steps taken, complete).

    ``budget`` > 0 stops the search after that many steps (one step: a node's capacity,
    fan-out and bound check, or one exact cost); ``complete`` is then false and the result
    is the best found so far, not proven. Steps are counted, not timed, so a budgeted
    search is as deterministic as a full one.
    """
    L = facts.shape[1]
    D = 8
    work = scratch(L)
    e = np.ones(D, dtype=np.int64)
    b = np.ones((L, D), dtype=np.int64)
    rank0 = np.zeros((L, D), dtype=np.int64)
    for i in range(L):
        for d in range(D):
            rank0[i, d] = d
    best = np.array([best_p, best_q])
    best_b = np.ones((L, D), dtype=np.int64)
    best_r = np.zeros((L, D), dtype=np.int64)
    rank = np.zeros((L, D), dtype=np.int64)
    cstart = np.zeros(L, dtype=np.int64)
    ccount = np.ones(L, dtype=np.int64)
    found = False
    limit_p = best_p * (1 + 1e-12)
    legal = 0
    pruned = 0
    bounded = 0
    evaluated = 0
    fac = np.ones((2, 3))
    idx = np.zeros(D, dtype=np.int64)
    steps = 0
    complete = True
    depth = 0
    idx[0] = offsets[dim_order[0]]
    while depth >= 0:
        d = dim_order[depth]
        if idx[depth] >= offsets[d + 1]:
            for i in range(L):
                b[i, d] = 1
            depth -= 1
            if depth >= 0:
                idx[depth] += 1
            continue
        if budget > 0 and steps >= budget:
            complete = False  # a row is left to look at
            break
        row = idx[depth]
        if objective == 0 and depth >= prefix_from:
            # prefixes of this dimension's factorisation (levels 0..i) first seen at this row:
            # a prefix whose bound cannot beat the limit prunes every row that shares it
            lv0 = 0
            if row > offsets[d]:
                while lv0 < L - 1 and facts[row, lv0] == facts[row - 1, lv0]:
                    lv0 += 1
            placed = 1
            for i in range(lv0):
                placed *= facts[row, i]
            jumped = False
            for i in range(lv0, L - 1):
                placed *= facts[row, i]
                if placed == dims[d]:
                    break
                for j in range(L):
                    b[j, d] = facts[row, j] if j <= i else 1
                steps += 1
                if not _node_ok(b, e, fac, spmax, inner_pos, depth, dim_order, d, dims[d] // placed, limit_p, True,
                                is_st, mx, my,
                                xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st, elide, ce, work):
                    pruned += 1
                    idx[depth] = skip[row, i]
                    jumped = True
                    break
            if jumped:
                continue
        for i in range(L):
            b[i, d] = facts[row, i]
        steps += 1
        ok = _node_ok(b, e, fac, spmax, inner_pos, depth, dim_order, d, 1, limit_p,
                      objective == 0 and depth < D - 1, is_st, mx, my,
                      xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st, elide, ce, work)
        if not ok and objective == 0 and depth < D - 1:
            pruned += 1
        if not ok:
            idx[depth] += 1
            continue
        if depth < D - 1:
            depth += 1
            idx[depth] = offsets[dim_order[depth]]
            continue
        # a complete tiling
        for i in range(L):
            if not is_st[i] and not _mesh_fits(b[i], mx[i], my[i], xmask[i]):
                ok = False
                break
        if ok:
            legal += 1
            steps += 1
            en, cy = cost(b, rank0, True, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel,
                          dims, st, elide, ce, work)
            kp, kq = _key(en, cy, objective)
            if kp < best[0] * (1 + 1e-12) and (kp < best[0] * (1 - 1e-12) or kq < best[1] * (1 + 1e-12)):
                bounded += 1
                # every loop-order class combination of this tiling, exactly
                total = 1
                for i in range(L):
                    mask = 0
                    for dd in range(D):
                        if b[i, dd] > 1:
                            mask |= 1 << dd
                    cstart[i] = cls_start[i, mask]
                    ccount[i] = cls_count[i, mask]
                    total *= ccount[i]
                for combo in range(total):
                    rest = combo
                    for i in range(L):
                        k = cstart[i] + rest % ccount[i]
                        rest //= ccount[i]
                        for dd in range(D):
                            rank[i, dd] = cls_ranks[k, dd]
                    en, cy = cost(b, rank, False, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw,
                                  rel, dims, st, elide, ce, work)
                    evaluated += 1
                    steps += 1
                    kp, kq = _key(en, cy, objective)
                    # equal within rounding (the kernel and numpy sum in different orders, and the
                    # first incumbent is numpy's) counts as a tie, decided by the secondary key
                    if kp < best[0] * (1 - 1e-12) or (kp <= best[0] * (1 + 1e-12) and kq < best[1]):
                        best[0] = kp
                        best[1] = kq
                        best_b[:, :] = b
                        best_r[:, :] = rank
                        found = True
                limit_p = best[0] * (1 + 1e-12)
        idx[depth] += 1
    return found, best_b, best_r, best[0], best[1], legal, pruned, bounded, evaluated, steps, complete


@njit(cache=True)
def cost_batch(bounds, ranks, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus, rbw, wbw, rel, dims, st,
               elide, ce):
    """:func:`cost` (exact) for K mappings: (energy[K], cycles[K])."""
    K = bounds.shape[0]
    e = np.empty(K)
    c = np.empty(K)
    work = scratch(bounds.shape[1])
    for k in range(K):
        e[k], c[k] = cost(bounds[k], ranks[k], False, is_st, mx, my, xmask, cap, keep, er, ew, eu, blk, clus,
                          rbw, wbw, rel, dims, st, elide, ce, work)
    return e, c
