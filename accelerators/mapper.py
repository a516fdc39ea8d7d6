"""Mappers: the least-energy (or EDP, latency) mapping of a layer on an architecture.

Two mappers, both deterministic, both optimising exactly what
:func:`accelerators.nest_analysis.analyze` reports:

``exhaustive``: the proven optimum of the constrained map space
(:mod:`accelerators.mapspace`): every legal tiling (exact factorisations that
respect the factor constraints, meshes, splits and capacities) times every loop
order class the permutation constraints allow (orders in one class cost the
same). A depth-first branch and bound in compiled code
(:func:`accelerators.nest_kernel.search`, the model of ``analyze`` line by line):
dimensions are placed one at a time, and a partial tiling is dropped when its
capacities or fan-outs already overflow or when a lower bound on every completion
(each tensor's counts grow at least by its unplaced relevant dimensions) cannot
beat the incumbent; a complete tiling whose bound over every loop order could beat
it is evaluated exactly for each of its order classes. The first incumbent is the
``fast`` search's result. Nothing that could beat the result is skipped, so the
result is optimal (``MapperReport.proven_optimal``).

``auto`` (the default) runs ``exhaustive`` with a step budget: :data:`AUTO_STEP_BUDGET`
when the map space is small enough (:data:`AUTO_EXHAUSTIVE_LIMIT`), else the smaller
:data:`AUTO_LARGE_STEP_BUDGET`. A budgeted search that finishes is the proven optimum; one
that runs out returns the best mapping found by then (never worse than ``fast``'s, which it
starts from) with ``proven_optimal`` false and ``budget_exhausted`` true.

``fast``: the earlier steepest-descent search (from four deterministic starts,
over moves of one factor between levels, swaps and reuse-class loop orders). A
local optimum, not proven; kept for very large map spaces and datasets. Forced
factors are seeded where the constraints put them (moves that break a constraint
are illegal) and each reuse-class order is rearranged to obey the level's
permutation constraint.

``factorization="imperfect"`` (:func:`_imperfect_search`) also lets N, G, C and M run a
partial last tile (guarded loops, counted for the real partial tiles by
:func:`accelerators.nest_analysis.analyze`): next to the exact result, the chosen mapper
runs on the layer with each awkward dimension padded to a few nearby sizes with many
divisors (:func:`padded_sizes`); each padded result is trimmed to the real size (its
outermost loop of the dimension to ``ceil(size / tile)``) and costed with its real partial
tiles, and the best one wins. It can only match or beat ``exact``, but it is not proven
optimal over every imperfect factorisation (``proven_optimal`` is false). Under ``auto``
the padded searches, least padding first, share one step budget
(:data:`IMPERFECT_STEP_BUDGET`, less where the exact search already took most of
:data:`IMPERFECT_TOTAL_STEPS`): each gets an equal share of what is left, a second pass reruns
those their share cut short with what the others left, and any left when it runs out are
skipped (``padded_skipped``).

Results are cached in memory and on disk (``approxdse.core.paths.cache_dir("mappings")``,
one JSON file per key: the layer's problem, the architecture's content hash, the
objective, the mapper, the factorisation and the mapper's code version), written
atomically, so a repeat run is near-instant.

Swapping only the multiplier never reruns the search for the ``energy`` and
``latency`` objectives: the multiplier's energy is the same for every mapping
of a layer (one multiplication per MAC), so it cannot change the choice.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from approxdse.accelerators import mapspace
from approxdse.accelerators.architecture import DIMS, Architecture, SpatialLevel, StorageLevel
from approxdse.accelerators.constraints import effective_forced
from approxdse.accelerators.mapping import Mapping, mapping_from_arrays
from approxdse.accelerators.nest_analysis import NestAnalysis, Problem, analyze, factor_ranges, legality
from approxdse.core.atomic_files import atomic_write_text
from approxdse.core.errors import ApproxDSEError
from approxdse.core.paths import cache_dir

OBJECTIVES = ("energy", "edp", "latency")
MAPPERS = ("auto", "exhaustive", "fast")
#: ``auto`` gives the exhaustive mapper :data:`AUTO_STEP_BUDGET` steps when the product over
#: dimensions of the factorisations the constraints allow (an upper bound on the tilings) is at
#: most this, else :data:`AUTO_LARGE_STEP_BUDGET`. 2e7 until session 9 (2026-12-03): the zoo layers
#: between 2e7 and 1e9 (32 on eyeriss, 47 on simba) mostly finish within the budget (RESULTS.md,
#: "Session 9"); above 1e9 (simba's unconstrained exercise) almost none finishes even in 5e7 steps.
AUTO_EXHAUSTIVE_LIMIT = 1_000_000_000
#: ``auto``'s exhaustive search stops after this many branch-and-bound steps and keeps the best
#: mapping found (never worse than the fast search's, not proven optimal; the report says
#: ``budget_exhausted``). Steps, not seconds, so results do not depend on the machine's load.
#: Chosen from benchmarks/auto_budget_bench.py over the zoo's distinct layers (RESULTS.md,
#: "Session 7" and "Session 9": 3,000,000 until session 9; 4,000,000 keeps every zoo layer under
#: 10 s on 2 cores, the slowest steps being simba-2022's, about 2 us each).
AUTO_STEP_BUDGET = 4_000_000
#: ``auto``'s budget above :data:`AUTO_EXHAUSTIVE_LIMIT`, where a search rarely finishes even in
#: :data:`AUTO_STEP_BUDGET`: the first steps from the fast search's result find most of what a
#: longer search finds (RESULTS.md, "Session 8"), and some of these layers finish.
AUTO_LARGE_STEP_BUDGET = 300_000
#: The budget of an imperfect search's padded searches together (``auto``), least padding first,
#: each given an equal share of what the searches before it left; a second pass reruns those cut
#: short with what is left.
IMPERFECT_STEP_BUDGET = 3_000_000
#: ``auto``: an imperfect search's exact and padded searches together take at most this many
#: steps, so the padded searches share at most this minus the exact search's steps (and at most
#: :data:`IMPERFECT_STEP_BUDGET`): an awkward layer whose exact search is long stays in time.
IMPERFECT_TOTAL_STEPS = 6_000_000
#: A padded search cut short in the first pass is rerun only when at least this many steps are left.
MIN_RERUN_STEPS = 100_000
#: ``exact``: every dimension's loop bounds multiply to its size (Timeloop v3). ``imperfect``:
#: N, G, C and M may also run a partial last tile (:class:`nest_analysis._Guards`).
FACTORIZATIONS = ("exact", "imperfect")
#: Imperfect search: a dimension is padded only when its size has a prime factor above this
#: (its divisors then fill meshes and buffers badly), to at most this much more than its size,
#: and to at most :data:`PAD_CANDIDATES` sizes (those with the most divisors).
PAD_PRIME_ABOVE = 5
PAD_MAX_RATIO = 1.25
PAD_CANDIDATES = 3
_PAD_MULTIPLES = (4, 8, 16, 32, 64, 6, 12, 24, 48, 10, 20, 40)

#: Loop-order classes (innermost first); the remaining dimensions follow in DIMS order.
ORDER_CLASSES: tuple[tuple[str, ...], ...] = (
    ("R", "S", "C"), ("S", "R", "C"), ("C", "R", "S"),
    ("Q", "P", "N"), ("P", "Q", "N"),
    ("M", "G"),
)


def _rank_of(order: tuple[str, ...]) -> np.ndarray:
    full = list(order) + [d for d in DIMS if d not in order]
    rank = np.empty(len(DIMS), dtype=np.int64)
    for pos, d in enumerate(full):
        rank[DIMS.index(d)] = pos
    return rank


ORDER_RANKS = np.stack([_rank_of(o) for o in ORDER_CLASSES])

#: Dimensions unrolled first in each start of the search ("" = largest first).
START_PREFERENCES = ("", "C", "MG", "QPS")


def _obeying(rank: np.ndarray, perm) -> np.ndarray:
    """``rank`` (0 = innermost) reordered so that ``perm``'s inner dimensions come first and outer ones last."""
    if perm.empty:
        return rank
    order = [DIMS[d] for d in np.argsort(rank, kind="stable")]
    middle = [d for d in order if d not in perm.inner and d not in perm.outer]
    out = np.empty(len(DIMS), dtype=np.int64)
    for pos, d in enumerate(list(perm.inner) + middle + list(perm.outer)):
        out[DIMS.index(d)] = pos
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(2, n + 1) if n % d == 0]


class _Search:
    """State for one layer x architecture x objective search."""

    def __init__(self, prob: Problem, arch: Architecture, objective: str):
        self.prob, self.arch, self.objective = prob, arch, objective
        self.L = len(arch.levels)
        self.lo, self.hi = factor_ranges(prob, arch)
        self.allowed = self.hi > 1
        # each reuse class's order, rearranged to obey the level's permutation constraint
        self.ranks = np.stack([np.stack([_obeying(ORDER_RANKS[k], lv.permutation) if isinstance(lv, StorageLevel)
                                         else ORDER_RANKS[k] for k in range(len(ORDER_CLASSES))])
                               for lv in arch.levels])
        self.storage = [i for i, lv in enumerate(arch.levels) if isinstance(lv, StorageLevel)]
        self.spatial = [i for i, lv in enumerate(arch.levels) if isinstance(lv, SpatialLevel)]
        self.keep = {lv.name: lv.keep for lv in arch.storage_levels}
        self.evaluated = 0

    # -- scoring
    def score(self, bounds: np.ndarray, orders: np.ndarray, objective: str | None = None) -> np.ndarray:
        objective = objective or self.objective
        rank = np.tile(np.arange(len(DIMS)), (bounds.shape[0], self.L, 1))
        for i in self.storage:
            rank[:, i, :] = self.ranks[i][orders[:, i]]
        ok, _ = legality(self.prob, self.arch, bounds, self.keep, explain=False)  # orders obey by construction
        out = np.full(bounds.shape[0], np.inf)
        if ok.any():
            res = analyze(self.prob, self.arch, bounds[ok], rank[ok], self.keep)
            e, cyc = res.energy, res.cycles.astype(float)
            if objective == "energy":
                s = e
            elif objective == "edp":
                s = e * cyc
            else:
                s = cyc * (1 + 1e-9 * e / (1 + e.max()))
            out[ok] = s
        self.evaluated += bounds.shape[0]
        return out

    # -- neighbourhood
    def neighbours(self, b: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        moves: list[tuple[int, int, int, int, int, int, int]] = []  # (d, a, c, f, e, g) + order level
        divs = {(i, d): _divisors(int(b[i, d])) for i in range(self.L) for d in range(len(DIMS)) if b[i, d] > 1}
        for (a, d), fs in divs.items():
            for c in range(self.L):
                if c != a and self.allowed[c, d]:
                    for f in fs:
                        moves.append((d, a, c, f, 0, 0, -1))
        # swap a factor of dim d at level a for a factor of dim e at level c (keeps fan-outs full)
        for (a, d), fs in divs.items():
            for (c, e), gs in divs.items():
                if c == a or e == d or not self.allowed[c, d] or not self.allowed[a, e]:
                    continue
                for f in fs[:3]:
                    for g in gs[:3]:
                        moves.append((d, a, c, f, e, g, -1))
        for i in self.storage:
            if (b[i] > 1).sum() < 2:
                continue  # with fewer than two loops the order cannot matter
            for k in range(len(ORDER_CLASSES)):
                if k != o[i]:
                    moves.append((0, 0, 0, 1, 0, 1, i * 64 + k))
        if not moves:
            return np.empty((0,) + b.shape, dtype=b.dtype), np.empty((0,) + o.shape, dtype=o.dtype)
        mv = np.array(moves, dtype=np.int64)
        n = len(mv)
        rows = np.arange(n)
        nb = np.repeat(b[None], n, axis=0)
        nb[rows, mv[:, 1], mv[:, 0]] //= mv[:, 3]
        nb[rows, mv[:, 2], mv[:, 0]] *= mv[:, 3]
        sw = mv[:, 5] > 1
        nb[rows[sw], mv[sw, 2], mv[sw, 4]] //= mv[sw, 5]
        nb[rows[sw], mv[sw, 1], mv[sw, 4]] *= mv[sw, 5]
        no = np.repeat(o[None], n, axis=0)
        oc = mv[:, 6] >= 0
        no[rows[oc], mv[oc, 6] // 64] = mv[oc, 6] % 64
        return nb, no

    def descend(self, b: np.ndarray, o: np.ndarray, objective: str | None = None,
                max_steps: int = 200) -> tuple[np.ndarray, np.ndarray, float]:
        best = float(self.score(b[None], o[None], objective)[0])
        for _ in range(max_steps):
            nb, no = self.neighbours(b, o)
            if len(nb) == 0:
                break
            s = self.score(nb, no, objective)
            k = int(np.argmin(s))
            if not s[k] < best * (1 - 1e-12):
                break
            b, o, best = nb[k], no[k], float(s[k])
        return b, o, best

    # -- seeds
    def seed_dram(self) -> tuple[np.ndarray, np.ndarray]:
        """Forced factors where the constraints put them, the rest at the outermost levels that allow it."""
        b = np.ones((self.L, len(DIMS)), dtype=np.int64)
        for d, size in enumerate(self.prob.dims):
            rest = int(size)
            for i in range(self.L):
                if self.lo[i, d] > 1 and rest % int(self.lo[i, d]) == 0:
                    b[i, d] = self.lo[i, d]
                    rest //= int(self.lo[i, d])
            for i in self.storage:
                room = int(self.hi[i, d]) // int(b[i, d])
                f = max(x for x in range(1, min(room, rest) + 1) if rest % x == 0)
                b[i, d] *= f
                rest //= f
            if rest > 1:
                b[self.storage[0], d] *= rest
        return b, np.zeros(self.L, dtype=np.int64)

    def seed_spatial(self, prefer: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Fill each fan-out (outer first) with the largest allowed divisors, the rest in DRAM.

        ``prefer`` lists dimensions to unroll first (then the largest remaining ones).
        """
        b, o = self.seed_dram()
        for j in self.spatial:
            fan = self.arch.levels[j].fanout
            for d in sorted(range(len(DIMS)), key=lambda d: (DIMS[d] not in prefer, -b[self.storage, d].max())):
                if not self.allowed[j, d] or self.lo[j, d] == self.hi[j, d]:
                    continue
                top = max((i for i in self.storage if self.lo[i, d] < b[i, d]), key=lambda i: b[i, d], default=None)
                if top is None:
                    continue
                room = min(fan // int(b[j, :].prod()), int(self.hi[j, d]) // int(b[j, d]))
                fits = [f for f in _divisors(int(b[top, d])) if f <= room]
                if fits:
                    f = max(fits)
                    b[top, d] //= f
                    b[j, d] *= f
        return b, o


def _precheck(s: "_Search") -> None:
    """Name a dimension that no level may hold (before searching)."""
    for d, size in enumerate(s.prob.dims):
        if size == 1:
            continue
        if any(s.allowed[i, d] for i in s.storage):
            continue
        room = 1
        for j in s.spatial:
            if s.allowed[j, d]:
                room *= s.arch.levels[j].fanout
        if room < size:
            where = [s.arch.levels[j].name for j in s.spatial if s.allowed[j, d]]
            raise ApproxDSEError(
                f"no legal mapping on {s.arch.name}: dimension {DIMS[d]}={size} is fixed to 1 at every storage level"
                + (f" and the fan-out of {', '.join(where)} ({room}) is smaller" if where else " and may not be unrolled"))


def _fast_search(prob: Problem, arch: Architecture, objective: str) -> tuple[Mapping, int]:
    s = _Search(prob, arch, objective)
    _precheck(s)
    # fan-outs filled with different dimensions first: which one leads to the best
    # optimum differs by layer and design (measured on ResNet-18/50, MobileNetV2 and
    # VGG-16 on both designs, these four starts reach the best of the tried ones)
    starts = [s.seed_spatial(prefer) for prefer in START_PREFERENCES]
    best = None
    for seed in starts:
        b, o, val = s.descend(*seed)
        if best is None or val < best[2]:
            best = (b, o, val)
    b, o, val = best
    if not np.isfinite(val):
        ok, reasons = legality(prob, arch, b[None], s.keep)
        raise ApproxDSEError(f"no legal mapping on {arch.name}: {reasons[0] if reasons else 'no candidate fits'}")
    rank = np.tile(np.arange(len(DIMS)), (s.L, 1))
    for i in s.storage:
        rank[i] = s.ranks[i][o[i]]
    return mapping_from_arrays(arch, b, rank, source=f"approxdse mapper ({objective})"), s.evaluated


@dataclass(frozen=True)
class MapperReport:
    """How a mapping was found: which mapper, whether it is proven optimal, how much it looked at."""

    mapper: str
    objective: str
    factorization: str
    proven_optimal: bool
    #: legal tilings the exhaustive mapper reached (complete tilings inside subtrees it did not prune)
    tilings: int
    #: size of the constrained map space, an upper bound: the tilings before capacity and fan-out
    #: pruning times the most loop-order classes per level (orders of equal cost count once)
    mapspace_size: int
    #: candidate mappings whose cost was computed exactly
    evaluated: int
    seconds: float
    cached: bool = False
    #: subtrees of partial tilings whose lower bound could not beat the incumbent (exhaustive only)
    pruned_subtrees: int = 0
    #: complete tilings whose bound over every loop order could beat the incumbent (evaluated per order class)
    tilings_bounded: int = 0
    #: product over dimensions of their allowed factorisations (before capacity and fan-out pruning)
    tiling_bound: int = 0
    #: imperfect factorisation: the padded layers searched besides the exact one
    padded_searches: int = 0
    #: imperfect factorisation: the dimensions the result runs with a partial last tile and the
    #: size their loops cover ({"C": 240} for C=232), empty when the exact factorisation won
    padded: dict = field(default_factory=dict)
    #: imperfect factorisation: padded layers not searched because the step budget ran out (``auto``)
    padded_skipped: int = 0
    #: steps the exhaustive branch and bound took (node checks plus exact costs, see
    #: :func:`nest_kernel.search`; an imperfect search's: its exact and padded searches together)
    steps: int = 0
    #: the exhaustive search stopped at its step budget (``auto``): the result is the best
    #: mapping found by then, at most the fast search's cost, but not proven optimal; for an
    #: imperfect search also when a padded search stopped or padded layers were skipped
    budget_exhausted: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


_OBJECTIVE_CODES = {"energy": 0, "edp": 1, "latency": 2}


def _keys(res: NestAnalysis, objective: str) -> tuple[np.ndarray, np.ndarray]:
    """(primary, secondary) objective values; smaller is better, compared lexicographically."""
    e = np.asarray(res.energy, dtype=float)
    c = np.asarray(res.cycles, dtype=float)
    if objective == "energy":
        return e, c
    if objective == "edp":
        return e * c, e
    return c, e


def _cost(prob: Problem, arch: Architecture, bounds: np.ndarray, rank: np.ndarray, keep: dict,
          objective: str) -> tuple[float, float]:
    """One mapping's (primary, secondary) objective values."""
    p, q = _keys(analyze(prob, arch, bounds[None], rank[None], keep), objective)
    return float(p[0]), float(q[0])


@dataclass(frozen=True)
class _Space:
    """The arrays the compiled search walks: factorisations per dimension and order classes per level."""

    facts: np.ndarray
    offsets: np.ndarray
    skip: np.ndarray
    dim_order: np.ndarray
    cls_start: np.ndarray
    cls_count: np.ndarray
    cls_ranks: np.ndarray
    tiling_bound: int
    #: upper bound on the mappings: tilings before capacity and fan-out pruning x order classes
    mapping_bound: int


def _skip_table(facts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``skip[r, i]``: the first row after ``r`` (within its dimension's block) whose factors at
    levels ``0..i`` differ from row ``r``'s, or the block's end."""
    L = facts.shape[1]
    skip = np.zeros((len(facts), L), dtype=np.int64)
    for d in range(len(offsets) - 1):
        a, z = int(offsets[d]), int(offsets[d + 1])
        if z - a <= 1:
            skip[a:z] = z
            continue
        diff = facts[a + 1:z] != facts[a:z - 1]
        # the first level at which row r differs from row r - 1 (rows are distinct)
        first = np.where(diff.any(axis=1), diff.argmax(axis=1), L)
        rows = np.arange(a, z)
        for i in range(L):
            starts = np.append(np.flatnonzero(first <= i) + a + 1, z)
            skip[a:z, i] = starts[np.searchsorted(starts, rows, side="right").clip(max=len(starts) - 1)]
    return skip


def _space(prob: Problem, arch: Architecture) -> _Space:
    lo, hi = factor_ranges(prob, arch)
    L = len(arch.levels)
    per = [mapspace._factorisations(int(prob.dims[d]), lo[:, d], hi[:, d]) for d in range(len(DIMS))]
    facts = np.concatenate(per).astype(np.int64)
    offsets = np.cumsum([0] + [len(f) for f in per]).astype(np.int64)
    skip = _skip_table(facts, offsets)
    # fewest factorisations first: the dimension with most choices branches last, where the
    # bound of the partial tiling is tightest
    dim_order = np.array(sorted(range(len(DIMS)), key=lambda d: (len(per[d]), d)), dtype=np.int64)
    keep = {lv.name: lv.keep for lv in arch.storage_levels}
    tensors = mapspace.order_tensors(arch, keep)
    cls_start = np.zeros((L, 256), dtype=np.int64)
    cls_count = np.ones((L, 256), dtype=np.int64)
    ranks: list[np.ndarray] = [np.arange(len(DIMS), dtype=np.int64)[None]]
    n = 1
    max_classes = 1
    for i in range(L):
        free = 0
        for d in range(len(DIMS)):
            if hi[i, d] > 1:
                free |= 1 << d
        for mask in range(256):
            if mask & ~free:
                continue
            tab = mapspace.order_classes(arch, i, mask, tensors[i])
            if len(tab) == 0:
                cls_count[i, mask] = 0
                continue
            cls_start[i, mask] = n
            cls_count[i, mask] = len(tab)
            ranks.append(tab)
            n += len(tab)
        max_classes *= int(cls_count[i].max())
    tb = 1
    for f in per:
        tb *= max(1, len(f))
    return _Space(facts, offsets, skip, dim_order, cls_start, cls_count, np.concatenate(ranks),
                  tb, tb * max_classes)


def _exhaustive_search(prob: Problem, arch: Architecture, objective: str,
                       limit: float = np.inf, budget: int = 0) -> tuple[Mapping, MapperReport]:
    """The proven optimum; with ``limit``, the optimum among the mappings whose primary key is
    below it (a mapping at or above it is never listed; the fast search's result is returned
    when none is below). ``budget`` > 0 caps the branch and bound's steps: when it runs out
    the best mapping found so far is returned, not proven (``budget_exhausted``)."""
    t0 = time.perf_counter()
    space = _space(prob, arch)
    if len(space.facts) == 0 or any(space.offsets[d + 1] == space.offsets[d] for d in range(len(DIMS))):
        s = _Search(prob, arch, objective)
        _precheck(s)
        raise ApproxDSEError(f"no legal mapping of this layer on {arch.name}: the factor constraints leave "
                             "no factorisation of some dimension")
    # the fast search's result is the first incumbent: the branch and bound then only
    # visits what could beat it
    keep = {lv.name: lv.keep for lv in arch.storage_levels}
    try:
        start, _ = _fast_search(prob, arch, objective)
        b0, r0 = start.to_arrays(arch)
        p0, q0 = _cost(prob, arch, b0, r0, keep, objective)
    except ApproxDSEError:
        b0 = r0 = None
        p0 = q0 = np.inf
    # numba (about 0.2 s to import) only when a search runs: predictors and cached runs skip it
    from approxdse.accelerators import nest_kernel

    ka = nest_kernel.KernelArch.build(prob, arch)
    spmax, inner_pos = ka.innermost(factor_ranges(prob, arch)[1])
    found, bb, rr, p, q, legal, pruned, bounded, evaluated, steps, complete = nest_kernel.search(
        space.facts, space.offsets, space.skip, space.dim_order, len(DIMS) - 1, space.cls_start, space.cls_count,
        space.cls_ranks, spmax, inner_pos, *((p0, q0) if p0 < limit else (limit, np.inf)), int(budget),
        _OBJECTIVE_CODES[objective], *ka.args())
    if not found:
        if b0 is None and not complete:
            raise ApproxDSEError(f"no legal mapping of this layer on {arch.name} found within the exhaustive search's "
                                 f"budget of {budget:,} steps (the fast search found none either); "
                                 "mapper='exhaustive' searches without a budget")
        if b0 is None:
            s = _Search(prob, arch, objective)
            _precheck(s)
            raise ApproxDSEError(f"no legal mapping of this layer on {arch.name}: no tiling satisfies the factor "
                                 "constraints, the meshes and the buffer capacities")
        bb, rr = b0, r0
    mapping = mapping_from_arrays(arch, bb, rr, source=f"approxdse exhaustive mapper ({objective})")
    report = MapperReport("exhaustive", objective, "exact", bool(complete), int(legal), int(space.mapping_bound),
                          int(evaluated), time.perf_counter() - t0, pruned_subtrees=int(pruned),
                          tilings_bounded=int(bounded), tiling_bound=int(space.tiling_bound), steps=int(steps),
                          budget_exhausted=not complete)
    return mapping, report


def _exact_search(prob: Problem, arch: Architecture, objective: str, mapper: str,
                  limit: float = np.inf, budget: int | None = None) -> tuple[Mapping, MapperReport]:
    """``budget``: at most this many steps for ``auto``'s exhaustive search (its default:
    :data:`AUTO_STEP_BUDGET`, or :data:`AUTO_LARGE_STEP_BUDGET` above :data:`AUTO_EXHAUSTIVE_LIMIT`)."""
    if mapper == "auto":
        cap = AUTO_STEP_BUDGET if mapspace.tiling_bound(prob, arch) <= AUTO_EXHAUSTIVE_LIMIT \
            else AUTO_LARGE_STEP_BUDGET
        return _exhaustive_search(prob, arch, objective, limit, cap if budget is None else max(1, min(budget, cap)))
    if mapper == "exhaustive":
        return _exhaustive_search(prob, arch, objective, limit)
    t0 = time.perf_counter()
    mapping, n = _fast_search(prob, arch, objective)
    return mapping, MapperReport("fast", objective, "exact", False, 0, 0, int(n), time.perf_counter() - t0)


def padded_sizes(size: int) -> list[int]:
    """The sizes an imperfect search pads a dimension of ``size`` to (empty when its divisors suffice).

    Only sizes with a prime factor above :data:`PAD_PRIME_ABOVE` are padded, to the next
    multiples of small smooth numbers within :data:`PAD_MAX_RATIO`, keeping the
    :data:`PAD_CANDIDATES` with the most divisors (then the smallest).
    """
    n, largest, p = size, 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = max(largest, p), n // p
        p += 1
    largest = max(largest, n) if n > 1 else largest
    if size < 2 or largest <= PAD_PRIME_ABOVE:
        return []
    cands = {-(-size // m) * m for m in _PAD_MULTIPLES}
    cands = [c for c in cands if size < c <= size * PAD_MAX_RATIO]
    ndiv = {c: sum(1 for d in range(1, c + 1) if c % d == 0) for c in cands}
    return sorted(cands, key=lambda c: (-ndiv[c], c))[:PAD_CANDIDATES]


def _keeps_forced(arch: Architecture, d: int, size: int, padded: int) -> bool:
    """Whether every forced factor (``=``) of dimension ``d`` at the padded size is its own value
    or what it means at the real size (so padding never invents a third bound)."""
    for lv in arch.levels:
        for f in lv.factors:
            if f.op == "=" and f.dim == DIMS[d] and \
                    effective_forced(f.value, padded) not in (effective_forced(f.value, size), f.value):
                return False
    return True


def trim(bounds: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """Padded loop bounds cut back to the real sizes: each dimension's outermost loop to ``ceil(size / tile)``.

    The result runs no empty iteration (:func:`nest_analysis.covered_dims`); a loop cut to 1
    passes the cut to the next loop inside.
    """
    b = bounds.copy()
    for d, size in enumerate(dims):
        while b[:, d].prod() > size:
            top = int(np.argmax(b[:, d] > 1))
            tile = int(b[top + 1:, d].prod())
            need = -(-size // tile)
            if need == b[top, d]:
                break
            b[top, d] = need
    return b


def _imperfect_search(prob: Problem, arch: Architecture, objective: str,
                      mapper: str) -> tuple[Mapping, MapperReport]:
    t0 = time.perf_counter()
    mapping, rep = _map_problem(prob, arch, objective, mapper, "exact")
    keep = {lv.name: lv.keep for lv in arch.storage_levels}
    best = _cost(prob, arch, *mapping.to_arrays(arch), keep, objective)
    winner, win_rep, padded = mapping, rep, {}
    options = []
    for d in range(4):  # N, G, C, M
        sizes = [int(prob.dims[d])] + [c for c in padded_sizes(int(prob.dims[d]))
                                       if _keeps_forced(arch, d, int(prob.dims[d]), c)]
        options.append(sizes)
    searched: set[tuple[int, ...]] = set()
    evaluated = 0 if rep.cached else rep.evaluated
    real = tuple(int(x) for x in prob.dims[:4])
    # least padding first: its limit below is the tightest and its waste the smallest
    combos = sorted((c for c in itertools.product(*options) if c != real),
                    key=lambda c: -float(np.prod([real[d] / c[d] for d in range(4)])))
    # the exact search's steps count whether or not its result came from a cache: the same
    # layer gets the same padded searches either way
    remaining = min(IMPERFECT_STEP_BUDGET, max(0, IMPERFECT_TOTAL_STEPS - rep.steps))
    skipped = 0
    steps = 0 if rep.cached else rep.steps
    cut: list[tuple[int, ...]] = []  # padded layers whose search ran out of its share

    def search(combo: tuple[int, ...], budget: int) -> None:
        nonlocal best, winner, win_rep, padded, remaining, steps, evaluated
        pprob = replace(prob, dims=tuple(combo) + tuple(prob.dims[4:]))
        # every energy count of a trimmed padded mapping is at least real/padded size times its
        # padded count (one factor per dimension: the real size where the tensor depends on it,
        # the non-empty fraction of the iterations where not), so a padded mapping whose padded
        # energy reaches best / ratio cannot win and the padded search need not list it
        ratio = float(np.prod([real[d] / combo[d] for d in range(4)]))
        limit = best[0] / ratio if objective == "energy" else np.inf
        try:
            m, prep = _exact_search(pprob, arch, objective, mapper, limit, budget)
        except ApproxDSEError:
            return  # no legal mapping at this padding
        searched.add(combo)
        remaining -= prep.steps
        steps += prep.steps
        evaluated += prep.evaluated
        if prep.budget_exhausted:
            cut.append(combo)
        pb, pr = m.to_arrays(arch)
        tb = trim(pb, prob.dims)
        ok, _ = legality(prob, arch, tb[None], keep, explain=False)
        if not ok[0]:
            return
        k = _cost(prob, arch, tb, pr, keep, objective)
        if k < best:
            best = k
            winner = mapping_from_arrays(arch, tb, pr, source=f"approxdse {prep.mapper} mapper ({objective}, "
                                         "imperfect factorisation)")
            win_rep = prep
            prod = tb.prod(axis=0)
            padded = {DIMS[x]: int(prod[x]) for x in range(len(DIMS)) if prod[x] != prob.dims[x]}

    for n, combo in enumerate(combos):
        if mapper == "auto" and remaining < len(combos) - n:
            skipped = len(combos) - n
            break
        # an equal share of what is left: one hard padded layer cannot starve the rest
        search(combo, min(remaining // (len(combos) - n), AUTO_STEP_BUDGET))
    if mapper == "auto":
        # what the first pass left goes to the searches it cut short, again least padding first
        # (from the start, under the limit the first pass tightened)
        first, cut = cut, []
        for n, combo in enumerate(first):
            if remaining < MIN_RERUN_STEPS:
                cut.extend(first[n:])
                break
            search(combo, min(remaining, AUTO_STEP_BUDGET))
    exhausted = rep.budget_exhausted or bool(cut) or skipped > 0
    report = replace(win_rep, factorization="imperfect", proven_optimal=False,
                     evaluated=int(evaluated), seconds=time.perf_counter() - t0, cached=False,
                     padded_searches=len(searched), padded=padded, padded_skipped=skipped,
                     steps=int(steps), budget_exhausted=exhausted)
    return winner, report


_CODE_FILES = ("mapper.py", "mapspace.py", "nest_analysis.py", "nest_kernel.py", "constraints.py", "mapping.py")
_CODE_VERSION: list[str] = []


def code_version() -> str:
    """A hash of the mapper's and the model's source (part of every cache key)."""
    if not _CODE_VERSION:
        h = hashlib.sha256()
        here = Path(__file__).parent
        for name in _CODE_FILES:
            h.update(name.encode())
            h.update((here / name).read_bytes())
        _CODE_VERSION.append(h.hexdigest()[:16])
    return _CODE_VERSION[0]


def _cache_key(prob: Problem, arch: Architecture, objective: str, mapper: str, factorization: str) -> str:
    payload = json.dumps({"dims": list(prob.dims), "strides": [prob.stride_h, prob.stride_w, prob.dilation_h,
                          prob.dilation_w], "arch": arch.id, "objective": objective, "mapper": mapper,
                          "factorization": factorization, "code": code_version(),
                          "budget": [AUTO_EXHAUSTIVE_LIMIT, AUTO_STEP_BUDGET, AUTO_LARGE_STEP_BUDGET,
                                     IMPERFECT_STEP_BUDGET, IMPERFECT_TOTAL_STEPS]
                          if mapper == "auto" else None}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


_MEMORY: dict[str, tuple[Mapping, MapperReport]] = {}
#: Whether results are also cached on disk (tests of cold timing switch it off).
DISK_CACHE = True


def _disk_path(key: str) -> Path:
    return cache_dir("mappings") / f"{key}.json"


def _load_disk(key: str, arch: Architecture) -> tuple[Mapping, MapperReport] | None:
    path = _disk_path(key)
    if not DISK_CACHE or not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        b = np.array(doc["bounds"], dtype=np.int64)
        r = np.array(doc["rank"], dtype=np.int64)
        rep = MapperReport(**{**doc["report"], "cached": True})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged cache entry is recomputed
    if b.shape != (len(arch.levels), len(DIMS)) or r.shape != b.shape:
        return None
    return mapping_from_arrays(arch, b, r, source=f"approxdse {rep.mapper} mapper ({rep.objective})"), rep


def _store_disk(key: str, arch: Architecture, mapping: Mapping, report: MapperReport) -> None:
    if not DISK_CACHE:
        return
    b, r = mapping.to_arrays(arch)
    doc = {"bounds": b.tolist(), "rank": r.tolist(), "report": report.as_dict()}
    try:
        path = _disk_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(doc))
    except OSError:
        pass  # an unwritable cache only costs time


def map_layer_report(layer, arch: Architecture, objective: str = "energy", mapper: str = "auto",
                     factorization: str = "exact") -> tuple[Mapping, MapperReport]:
    """The best mapping of ``layer`` on ``arch`` and the :class:`MapperReport` of the search.

    ``objective``: ``energy``, ``edp`` or ``latency``; ``mapper``: ``exhaustive``
    (proven optimum), ``fast`` (local search) or ``auto`` (exhaustive under a step
    budget, see :data:`AUTO_STEP_BUDGET` and :data:`AUTO_LARGE_STEP_BUDGET`; the report
    says whether it finished, ``proven_optimal``). ``factorization``: ``exact`` (Timeloop v3) or
    ``imperfect`` (partial last tiles of N, G, C and M, see :func:`_imperfect_search`).
    Deterministic; cached in memory and on disk. Raises :class:`ApproxDSEError` naming the violated constraint
    when no legal mapping exists.
    """
    if objective not in OBJECTIVES:
        raise ApproxDSEError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if mapper not in MAPPERS:
        raise ApproxDSEError(f"unknown mapper {mapper!r}; choose one of {', '.join(MAPPERS)}")
    if factorization not in FACTORIZATIONS:
        raise ApproxDSEError(f"unknown factorization {factorization!r}; choose one of {', '.join(FACTORIZATIONS)}")
    return _map_problem(Problem.from_layer(layer), arch, objective, mapper, factorization)


def _map_problem(prob: Problem, arch: Architecture, objective: str, mapper: str,
                 factorization: str) -> tuple[Mapping, MapperReport]:
    """:func:`map_layer_report` on a problem, through the memory and disk caches."""
    key = _cache_key(prob, arch, objective, mapper, factorization)
    if key in _MEMORY:
        m, rep = _MEMORY[key]
        return m, MapperReport(**{**rep.as_dict(), "cached": True})
    hit = _load_disk(key, arch)
    if hit is not None:
        _MEMORY[key] = hit
        return hit
    if factorization == "imperfect":
        mapping, rep = _imperfect_search(prob, arch, objective, mapper)
    else:
        mapping, rep = _exact_search(prob, arch, objective, mapper)
    _MEMORY[key] = (mapping, rep)
    _store_disk(key, arch, mapping, rep)
    return mapping, rep


def map_layer(layer, arch: Architecture, objective: str = "energy", mapper: str = "auto") -> Mapping:
    """The best mapping of ``layer`` on ``arch`` for ``objective`` (see :func:`map_layer_report`)."""
    return map_layer_report(layer, arch, objective, mapper)[0]


def map_layer_with_stats(layer, arch: Architecture, objective: str = "energy",
                         mapper: str = "auto") -> tuple[Mapping, int]:
    """:func:`map_layer` plus the number of candidate mappings evaluated (0 when cached)."""
    mapping, rep = map_layer_report(layer, arch, objective, mapper)
    return mapping, (0 if rep.cached else rep.evaluated)


def clear_cache(disk: bool = False) -> None:
    """Forget every mapping cached in memory (and on disk with ``disk=True``)."""
    _MEMORY.clear()
    if disk:
        folder = cache_dir("mappings")
        if folder.is_dir():
            for f in folder.glob("*.json"):
                f.unlink(missing_ok=True)
