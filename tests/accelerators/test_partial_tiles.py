"""Imperfect factorisation: the model's counts equal a step-by-step simulation of the guarded nest.

A dimension whose loop bounds multiply past its size runs guarded loops: each loop steps by
the product of the bounds below it and an iteration whose tile would start past the end is
skipped, so the last tile of every level is partial. The simulator here walks every
instance of every level and every step of the loops above it, skips the steps where the
instance has no work (some coordinate past the layer's end), clips each tile to the layer,
and applies the same events as ``test_nest_simulation`` (reload on a relevant change,
sliding windows, elided first output fills, one read per distinct child tile, one operand
per MAC). It sums over all instances; the model reports means per instance, so its totals
are mean x instances. It shares no code with the model beyond the architecture and mapping
objects.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from approxdse.accelerators.architecture import DIMS, SpatialLevel, StorageLevel, parse_architecture
from approxdse.accelerators.mapping import LevelLoops, Mapping
from approxdse.accelerators.model import check_mapping, evaluate
from approxdse.accelerators.nest_analysis import Problem, analyze
from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer

N, G, C, M, P, Q, R, S = range(8)
RELEVANT = {"Weights": {G, C, M, R, S}, "Inputs": {N, G, C, P, Q, R, S}, "Outputs": {N, G, M, P, Q}}
WINDOW = {P, Q, R, S}

ARCH = {
    "name": "sim-guarded",
    "technology": "45nm",
    "levels": [
        {"name": "DRAM", "class": "DRAM", "width": 64, "datawidth": 8, "keep": ["Weights", "Inputs", "Outputs"],
         "energy": {"read": 100.0, "write": 100.0, "update": 100.0}},
        {"name": "glb", "class": "SRAM", "depth": 128, "width": 8, "datawidth": 8, "keep": ["Inputs", "Outputs"],
         "energy": {"read": 6.0, "write": 7.0, "update": 7.0}},
        {"name": "array", "type": "spatial", "meshX": 3, "meshY": 2},
        {"name": "pe", "class": "regfile", "depth": 48, "width": 8, "datawidth": 8,
         "keep": ["Weights", "Inputs", "Outputs"], "energy": {"read": 1.0, "write": 1.2, "update": 1.2}},
    ],
    "compute": {"multiplier_width": 8, "adder_width": 16, "energy": {"multiplier": 1.0, "adder": 0.1}},
}


class GuardedNest:
    def __init__(self, prob: Problem, arch, bounds: np.ndarray, rank: np.ndarray):
        self.prob, self.arch, self.L = prob, arch, len(arch.levels)
        self.size = list(prob.dims)
        self.loops = []
        for i, lv in enumerate(arch.levels):
            dims = [d for d in range(8) if bounds[i, d] > 1]
            if isinstance(lv, StorageLevel):
                dims.sort(key=lambda d: -rank[i, d])
            self.loops.append([(i, d, int(bounds[i, d])) for d in dims])
        self.ext = [[int(np.prod(bounds[i:, d])) for d in range(8)] for i in range(self.L)] + [[1] * 8]
        self.keep = {lv.name: lv.keep for lv in arch.storage_levels}

    def temporal(self, lo, hi):
        return [x for j in range(lo, hi) if isinstance(self.arch.levels[j], StorageLevel) for x in self.loops[j]]

    def spatial(self, lo, hi):
        return [x for j in range(lo, hi) if isinstance(self.arch.levels[j], SpatialLevel) for x in self.loops[j]]

    def at(self, loops, idx):
        a = [0] * 8
        for (j, d, _), k in zip(loops, idx):
            a[d] += k * self.ext[j + 1][d]
        return a

    def active(self, a):
        return all(a[d] < self.size[d] for d in range(8))

    def box(self, ds, a, i):
        e = [min(self.ext[i][d], self.size[d] - a[d]) for d in range(8)]
        pr = self.prob
        if ds == "Weights":
            return (a[G], a[C], a[M], a[R], a[S]), (e[G], e[C], e[M], e[R], e[S])
        if ds == "Outputs":
            return (a[N], a[G], a[M], a[P], a[Q]), (e[N], e[G], e[M], e[P], e[Q])
        h = (e[P] - 1) * pr.stride_h + (e[R] - 1) * pr.dilation_h + 1
        w = (e[Q] - 1) * pr.stride_w + (e[S] - 1) * pr.dilation_w + 1
        return ((a[N], a[G], a[C], a[P] * pr.stride_h + a[R] * pr.dilation_h,
                 a[Q] * pr.stride_w + a[S] * pr.dilation_w), (e[N], e[G], e[C], h, w))

    def key(self, ds, between, sidx, c):
        out = []
        for j in sorted({lv for lv, _, _ in between}):
            loops = [x for x in between if x[0] == j]
            idx = tuple(k for x, k in zip(between, sidx) if x[0] == j)
            out.append(self.box(ds, self.at(loops, idx), c)[0])
        return tuple(out)


def _elements(box):
    return set(itertools.product(*[range(s, s + e) for s, e in zip(*box)]))


def _steps(loops):
    return itertools.product(*[range(b) for _, _, b in loops])


def events(nest: GuardedNest, i: int, ds: str, fixed, fixed_idx):
    """Per step of the temporal loops above level ``i`` for one instance: (loaded, fill, box)."""
    loops = nest.temporal(0, i)
    rel = [d in RELEVANT[ds] for _, d, _ in loops]
    elide = ds == "Outputs" and nest.arch.elide_first_output_fill
    held, seen, prev = None, set(), None
    for idx in _steps(loops):
        a = nest.at(loops + fixed, idx + fixed_idx)
        # the loop structure decides reuse: a step that changes a relevant index invalidates the
        # tile even when it is skipped (a partial tile only shrinks what moves)
        changed = [k for k in range(len(idx)) if prev is None or idx[k] != prev[k]]
        prev = idx
        if not nest.active(a):
            if any(rel[k] for k in changed):
                held = None
            yield False, 0, None
            continue
        box = nest.box(ds, a, i)
        if held is not None and not any(rel[k] for k in changed):
            yield False, 0, box
            continue
        slid = held is not None and changed == [len(loops) - 1] and loops[-1][1] in WINDOW
        if elide:
            new = _elements(box)
            fill = len(new & seen)
            seen |= new
        elif ds == "Inputs" and slid:
            fill = len(_elements(box) - _elements(held))
        else:
            fill = int(np.prod(box[1]))
        held = box
        yield True, fill, box


def simulate(nest: GuardedNest) -> tuple[dict, int]:
    """({(level, tensor): totals over all instances}, cycles)."""
    arch = nest.arch
    storage = [i for i, lv in enumerate(arch.levels) if isinstance(lv, StorageLevel)]
    counts = {}
    for ds in ("Weights", "Inputs", "Outputs"):
        chain = [i for i in storage if ds in nest.keep[arch.levels[i].name]]
        for k, p in enumerate(chain):
            above = nest.spatial(0, p)
            c = chain[k + 1] if k + 1 < len(chain) else nest.L
            between = nest.spatial(p + 1, c)
            fills = reads = updates = 0
            for pidx in _steps(above):
                if k > 0:
                    fills += sum(f for _, f, _ in events(nest, p, ds, above, pidx))
                if c < nest.L:
                    kids = [list(events(nest, c, ds, above + between, pidx + sidx)) for sidx in _steps(between)]
                    keys = [nest.key(ds, between, sidx, c) for sidx in _steps(between)]
                    for step in zip(*kids):
                        distinct = {}
                        for key, (loaded, fill, box) in zip(keys, step):
                            if loaded:
                                distinct.setdefault(key, (fill, int(np.prod(box[1]))))
                        reads += sum(f for f, _ in distinct.values())
                        if ds == "Outputs":
                            updates += sum(z for _, z in distinct.values())
                else:
                    loops = nest.temporal(0, nest.L)
                    seen = set()
                    for idx in _steps(loops):
                        base = nest.box(ds, nest.at(loops + above, idx + pidx), nest.L)[0]
                        ops = set()
                        for sidx in _steps(between):
                            if nest.active(nest.at(loops + above + between, idx + pidx + sidx)):
                                ops.add((base, nest.key(ds, between, sidx, nest.L)))
                        if ds == "Outputs":
                            updates += len(ops)
                            reads += len(ops & seen)
                            seen |= ops
                        else:
                            reads += len(ops)
            if ds == "Outputs" and not arch.elide_first_output_fill:
                # the older convention: the child fills every partial sum, and the parent's read
                # of an element it has never held is skipped
                if k == 0:
                    own = len(_elements(nest.box(ds, [0] * 8, 0)))
                else:
                    own = 0
                    for pidx in _steps(above):
                        held = set()
                        for _, _, box in events(nest, p, ds, above, pidx):
                            if box is not None:
                                held |= _elements(box)
                        own += len(held)
                reads = updates - own
            counts[(arch.levels[p].name, ds)] = {"fills": fills, "reads": reads, "updates": updates}
    loops = nest.temporal(0, nest.L)
    cycles = sum(1 for idx in _steps(loops) if nest.active(nest.at(loops, idx)))
    return counts, cycles


def _guarded_mappings(layer: Layer, arch, limit: int, seed: int):
    """Random legal mappings in which N, G, C and M are padded past their sizes where they can be."""
    prob = Problem.from_layer(layer)
    L = len(arch.levels)
    rng = np.random.default_rng(seed)

    def split(n):
        f = [1] * L
        for _ in range(6):
            divs = [v for v in range(2, n + 1) if n % v == 0]
            if not divs:
                break
            v = int(rng.choice(divs))
            f[int(rng.integers(L))] *= v
            n //= v
        f[0] *= n
        return f

    out, tries = [], 0
    while len(out) < limit and tries < 400 * limit:
        tries += 1
        cols = []
        for d, n in enumerate(prob.dims):
            pad = n + int(rng.integers(0, 3)) if d <= M and n > 1 else n
            cols.append(split(int(pad)))
        b = np.array(cols, dtype=np.int64).T
        if (b.prod(axis=0) == np.array(prob.dims)).all():
            continue  # the exact model's own simulation covers these
        levels = []
        for i, lv in enumerate(arch.levels):
            pairs = tuple((DIMS[d], int(b[i, d])) for d in rng.permutation(8) if b[i, d] > 1)
            levels.append(LevelLoops(lv.name, temporal=pairs) if isinstance(lv, StorageLevel)
                          else LevelLoops(lv.name, spatial=pairs))
        m = Mapping(arch.name, tuple(levels))
        try:
            check_mapping(layer, arch, m)
        except ApproxDSEError:
            continue
        out.append(m)
    return out


LAYERS = [
    Layer("conv", C=3, M=5, P=2, Q=2, R=2, S=1),
    Layer("slide", C=3, M=3, P=4, Q=1, R=3, S=1),
    Layer("grouped", C=6, M=6, P=2, Q=1, R=1, S=1, groups=2),
    Layer("batch", N=3, C=2, M=3, P=2, Q=1, R=2, S=1, stride_h=2),
]


@pytest.mark.parametrize("elide", [True, False], ids=["elide", "no-elide"])
@pytest.mark.parametrize("layer", LAYERS, ids=[l.name for l in LAYERS])
def test_guarded_counts_equal_simulation(layer, elide):
    arch = parse_architecture({**ARCH, "conventions": {"elide_first_output_fill": elide}})
    mappings = _guarded_mappings(layer, arch, limit=20, seed=len(layer.name) + elide)
    assert len(mappings) >= 10
    prob = Problem.from_layer(layer)
    for m in mappings:
        b, r = m.to_arrays(arch)
        res = analyze(prob, arch, b[None], r[None], detail=True)
        sim, cycles = simulate(GuardedNest(prob, arch, b, r))
        for key, want in sim.items():
            acc = res.accesses[key]
            got = {k: float(acc[k][0] * acc["instances"][0]) for k in ("fills", "reads", "updates")}
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{key} on {layer.name}:\n{m.to_text(arch)}"
        assert int(res.compute_cycles[0]) == cycles
        assert res.macs == layer.macs


def test_partial_last_tile_counts_the_real_channels():
    """C=3 over a 2-wide spatial loop: the second pass runs one channel, and only its weights move."""
    layer = Layer("c3", C=3, M=1, P=1, Q=1, R=1, S=1)
    arch = parse_architecture(ARCH)
    m = Mapping(arch.name, (LevelLoops("DRAM", temporal=(("C", 2),)), LevelLoops("glb"),
                            LevelLoops("array", spatial=(("C", 2),)), LevelLoops("pe")))
    res = evaluate(layer, arch, m)
    assert res.macs == 3 and res.cycles == 2
    w = res.accesses[("pe", "Weights")]
    assert w["fills"] * w["instances"] == pytest.approx(3)
    assert res.utilization == pytest.approx(3 / (2 * 6))


def test_an_empty_outer_iteration_is_refused():
    layer = Layer("c3", C=3, M=1, P=1, Q=1, R=1, S=1)
    arch = parse_architecture(ARCH)
    m = Mapping(arch.name, (LevelLoops("DRAM", temporal=(("C", 3),)), LevelLoops("glb"),
                            LevelLoops("array", spatial=(("C", 2),)), LevelLoops("pe")))
    with pytest.raises(ApproxDSEError, match="empty iteration"):
        check_mapping(layer, arch, m)


def test_window_dimensions_stay_exact():
    layer = Layer("p3", C=1, M=1, P=3, Q=1, R=1, S=1)
    arch = parse_architecture(ARCH)
    m = Mapping(arch.name, (LevelLoops("DRAM", temporal=(("P", 2),)), LevelLoops("glb"),
                            LevelLoops("array", spatial=(("P", 2),)), LevelLoops("pe")))
    with pytest.raises(ApproxDSEError, match="do not multiply"):
        check_mapping(layer, arch, m)
