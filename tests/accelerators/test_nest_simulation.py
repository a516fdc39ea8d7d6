"""The model's access counts equal a step-by-step simulation of the loop nest.

:func:`accelerators.nest_analysis.analyze` counts fills, reads and updates in
closed form (suffix products, the innermost relevant loop, sliding windows,
distinct child tiles). The simulator here walks every iteration of the loops
above each level instead, one step at a time, and applies the counting
conventions the model documents, as events:

* a level's tile of a tensor is the box its loops at and below span (inputs: the
  bounding rows ``(P-1)*stride + (R-1)*dilation + 1``, as Timeloop projects them);
* a step that changes no index of a loop relevant to the tensor keeps the tile;
  any other step loads the whole tile, except when only the innermost loop above
  moved (no wrap) and it slides an input window: then only the new elements;
* a level keeping outputs skips the fill of elements it never held before
  (``elide_first_output_fill``);
* the parent reads each distinct child tile of a step once (children with equal
  tiles share the read; equality is decided at each spatial level on its own, as the
  model and Timeloop find multicast); every MAC reads its operands and updates its output,
  and reads the old partial sum except on an element's first update;
* a parent's output updates are its children's write-backs, one per load of a
  distinct child tile.

It shares no code with the model beyond the architecture and mapping objects.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from approxdse.accelerators.architecture import DIMS, SpatialLevel, StorageLevel, parse_architecture
from approxdse.accelerators.mapping import LevelLoops, Mapping
from approxdse.accelerators.model import check_mapping
from approxdse.accelerators.nest_analysis import Problem, analyze
from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer

N, G, C, M, P, Q, R, S = range(8)
RELEVANT = {"Weights": {G, C, M, R, S}, "Inputs": {N, G, C, P, Q, R, S}, "Outputs": {N, G, M, P, Q}}
WINDOW = {P, Q, R, S}

OPEN = {
    "name": "sim-open",
    "technology": "45nm",
    "levels": [
        {"name": "DRAM", "class": "DRAM", "width": 64, "datawidth": 8, "keep": ["Weights", "Inputs", "Outputs"],
         "energy": {"read": 100.0, "write": 100.0, "update": 100.0}},
        {"name": "glb", "class": "SRAM", "depth": 64, "width": 8, "datawidth": 8, "keep": ["Inputs", "Outputs"],
         "energy": {"read": 6.0, "write": 7.0, "update": 7.0}},
        {"name": "array", "type": "spatial", "meshX": 2, "meshY": 2},
        {"name": "pe", "class": "regfile", "depth": 32, "width": 8, "datawidth": 8,
         "keep": ["Weights", "Inputs", "Outputs"], "energy": {"read": 1.0, "write": 1.2, "update": 1.2}},
    ],
    "compute": {"multiplier_width": 8, "adder_width": 16, "energy": {"multiplier": 1.0, "adder": 0.1}},
}


def _loops(arch, bounds, rank):
    """Per level: its loops as (dim, bound), outer to inner (spatial levels: any order)."""
    out = []
    for i, lv in enumerate(arch.levels):
        dims = [d for d in range(8) if bounds[i, d] > 1]
        if isinstance(lv, StorageLevel):
            dims.sort(key=lambda d: -rank[i, d])
        out.append([(d, int(bounds[i, d])) for d in dims])
    return out


class Nest:
    """A mapping's loop nest, walked step by step."""

    def __init__(self, prob: Problem, arch, bounds: np.ndarray, rank: np.ndarray):
        self.prob, self.arch = prob, arch
        self.L = len(arch.levels)
        self.loops = _loops(arch, bounds, rank)
        # ext[i][d]: extent of d in a level-i tile; a loop at level j steps by ext[j + 1][d]
        self.ext = [[int(np.prod(bounds[i:, d])) for d in range(8)] for i in range(self.L)] + [[1] * 8]
        self.keep = {lv.name: lv.keep for lv in arch.storage_levels}

    def temporal_above(self, i):
        """(level, dim, bound) of the temporal loops above level i, outer to inner."""
        return [(j, d, b) for j in range(i) if isinstance(self.arch.levels[j], StorageLevel)
                for d, b in self.loops[j]]

    def spatial_between(self, p, c):
        """(level, dim, bound) of the spatial loops strictly between levels p and c."""
        return [(j, d, b) for j in range(p + 1, c) if isinstance(self.arch.levels[j], SpatialLevel)
                for d, b in self.loops[j]]

    def base(self, loops, idx):
        """Absolute start coordinate per dimension for these loop indices."""
        at = [0] * 8
        for (j, d, _), k in zip(loops, idx):
            at[d] += k * self.ext[j + 1][d]
        return at

    def multicast_key(self, ds, between, sidx, c):
        """Which children share a parent read: one offset per spatial level, each level on its own
        (the model finds multicast separately at each spatial level, like Timeloop)."""
        key = []
        for j in sorted({lv for lv, _, _ in between}):
            loops = [(lv, d, b) for lv, d, b in between if lv == j]
            idx = tuple(k for (lv, _, _), k in zip(between, sidx) if lv == j)
            key.append(self.tile(ds, self.base(loops, idx), c)[0])
        return tuple(key)

    def tile(self, ds, at, i):
        """The tensor's box at level i starting at ``at``: (starts, extents) in tensor coordinates."""
        e = self.ext[i]
        pr = self.prob
        if ds == "Weights":
            return (at[G], at[C], at[M], at[R], at[S]), (e[G], e[C], e[M], e[R], e[S])
        if ds == "Outputs":
            return (at[N], at[G], at[M], at[P], at[Q]), (e[N], e[G], e[M], e[P], e[Q])
        h = (e[P] - 1) * pr.stride_h + (e[R] - 1) * pr.dilation_h + 1
        w = (e[Q] - 1) * pr.stride_w + (e[S] - 1) * pr.dilation_w + 1
        return ((at[N], at[G], at[C], at[P] * pr.stride_h + at[R] * pr.dilation_h,
                 at[Q] * pr.stride_w + at[S] * pr.dilation_w), (e[N], e[G], e[C], h, w))


def _elements(box):
    starts, ext = box
    return set(itertools.product(*[range(s, s + e) for s, e in zip(starts, ext)]))


def _size(box):
    return int(np.prod(box[1]))


def _steps(loops):
    """Index tuples of ``loops`` in execution order (outer loop slowest)."""
    return itertools.product(*[range(b) for _, _, b in loops])


def level_events(nest: Nest, i: int, ds: str, fixed: list, fixed_idx: tuple):
    """Per step of the temporal loops above storage level ``i``: (step, loaded?, fill, box).

    ``fixed``/``fixed_idx``: spatial loops above ``i`` and their indices (which instance).
    """
    loops = nest.temporal_above(i)
    rel = [d in RELEVANT[ds] for _, d, _ in loops]
    elide = ds == "Outputs" and nest.arch.elide_first_output_fill
    held, seen, prev = None, set(), None
    for idx in _steps(loops):
        at = nest.base(loops + fixed, idx + fixed_idx)
        box = nest.tile(ds, at, i)
        changed = [k for k in range(len(idx)) if prev is None or idx[k] != prev[k]]
        prev = idx
        if not any(rel[k] for k in changed) and held is not None:
            yield idx, False, 0, box
            continue
        if elide:
            new = _elements(box)
            fill = len(new & seen)
            seen |= new
        elif ds == "Inputs" and held is not None and changed == [len(loops) - 1] and loops[-1][1] in WINDOW:
            fill = len(_elements(box) - _elements(held))  # a sliding window: only the new elements
        else:
            fill = _size(box)
        held = box
        yield idx, True, fill, box


def simulate(nest: Nest) -> dict:
    """{(level name, tensor): {"fills", "reads", "updates"}} per instance (the first one of each level)."""
    arch = nest.arch
    storage = [i for i, lv in enumerate(arch.levels) if isinstance(lv, StorageLevel)]
    counts = {}
    for ds in ("Weights", "Inputs", "Outputs"):
        chain = [i for i in storage if ds in nest.keep[arch.levels[i].name]]
        for k, p in enumerate(chain):
            name = arch.levels[p].name
            above = nest.spatial_between(-1, p)
            fixed0 = tuple(0 for _ in above)
            fills = 0
            if k > 0:
                fills = sum(f for _, _, f, _ in level_events(nest, p, ds, above, fixed0))
            c = chain[k + 1] if k + 1 < len(chain) else nest.L
            between = nest.spatial_between(p, c)
            reads = updates = 0
            if c < nest.L:
                # every child instance under this parent instance, step by step
                per_child = [list(level_events(nest, c, ds, above + between, fixed0 + sidx))
                             for sidx in _steps(between)]
                keys = [nest.multicast_key(ds, between, sidx, c) for sidx in _steps(between)]
                for step in zip(*per_child):
                    distinct = {}
                    for key, (_, loaded, fill, box) in zip(keys, step):
                        if loaded:
                            distinct.setdefault(key, (fill, _size(box)))
                    reads += sum(f for f, _ in distinct.values())
                    if ds == "Outputs":
                        updates += sum(z for _, z in distinct.values())
            else:
                loops = nest.temporal_above(nest.L)
                seen = set()
                keys = [nest.multicast_key(ds, between, sidx, nest.L) for sidx in _steps(between)]
                for idx in _steps(loops):
                    base = nest.tile(ds, nest.base(loops + above, idx + fixed0), nest.L)[0]
                    ops = {(base, key) for key in keys}
                    if ds == "Outputs":
                        updates += len(ops)
                        reads += len(ops & seen)
                        seen |= ops
                    else:
                        reads += len(ops)
            counts[(name, ds)] = {"fills": fills, "reads": reads, "updates": updates}
    return counts


def _mappings(layer: Layer, arch, limit: int, seed: int):
    """Up to ``limit`` legal mappings drawn at random (factorisations x loop orders)."""
    prob = Problem.from_layer(layer)
    L = len(arch.levels)
    rng = np.random.default_rng(seed)

    def split(n):
        f = [1] * L
        for _ in range(8):
            i = int(rng.integers(L))
            divs = [v for v in range(2, n + 1) if n % v == 0]
            if not divs:
                break
            v = int(rng.choice(divs))
            f[i] *= v
            n //= v
        f[0] *= n
        return f

    out, tries = [], 0
    while len(out) < limit and tries < 200 * limit:
        tries += 1
        b = np.array([split(int(n)) for n in prob.dims], dtype=np.int64).T
        levels = []
        for i, lv in enumerate(arch.levels):
            dims = [DIMS[d] for d in rng.permutation(8) if b[i, d] > 1]
            pairs = tuple((d, int(b[i, DIMS.index(d)])) for d in dims)
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
    Layer("conv", C=2, M=3, P=4, Q=3, R=3, S=2),
    Layer("strided", C=2, M=2, P=3, Q=2, R=3, S=1, stride_h=2, stride_w=2),
    Layer("dilated", C=1, M=2, P=4, Q=2, R=2, S=2, dilation_h=2, dilation_w=2),
    Layer("grouped", C=4, M=4, P=2, Q=2, R=1, S=1, groups=2),
    Layer("batch", N=2, C=2, M=2, P=2, Q=2, R=2, S=1),
]


@pytest.mark.parametrize("layer", LAYERS, ids=[l.name for l in LAYERS])
def test_model_counts_equal_simulation(layer):
    arch = parse_architecture(OPEN)
    mappings = _mappings(layer, arch, limit=25, seed=len(layer.name))
    assert len(mappings) >= 10
    prob = Problem.from_layer(layer)
    checked = 0
    for m in mappings:
        b, r = m.to_arrays(arch)
        res = analyze(prob, arch, b[None], r[None], detail=True)
        sim = simulate(Nest(prob, arch, b, r))
        for key, want in sim.items():
            got = {k: int(res.accesses[key][k][0]) for k in ("fills", "reads", "updates")}
            assert got == want, f"{key} on {layer.name}:\n{m.to_text(arch)}"
            checked += 1
    assert checked >= 10 * 6


@pytest.mark.parametrize("layer", LAYERS[:3], ids=[l.name for l in LAYERS[:3]])
def test_compiled_cost_equals_model_on_simulated_mappings(layer):
    """The exhaustive mapper's compiled cost agrees with the model on the same mappings."""
    from approxdse.accelerators import nest_kernel

    arch = parse_architecture(OPEN)
    prob = Problem.from_layer(layer)
    mappings = _mappings(layer, arch, limit=25, seed=len(layer.name))
    b = np.stack([m.to_arrays(arch)[0] for m in mappings])
    r = np.stack([m.to_arrays(arch)[1] for m in mappings])
    ka = nest_kernel.KernelArch.build(prob, arch)
    e, c = nest_kernel.cost_batch(b, r, *ka.args())
    ref = analyze(prob, arch, b, r)
    np.testing.assert_allclose(e, ref.energy, rtol=1e-12)
    np.testing.assert_array_equal(c, ref.cycles)


def _counts(layer, arch, mapping):
    check_mapping(layer, arch, mapping)
    b, r = mapping.to_arrays(arch)
    prob = Problem.from_layer(layer)
    res = analyze(prob, arch, b[None], r[None], detail=True)
    model = {k: {x: int(v[x][0]) for x in ("fills", "reads", "updates")} for k, v in res.accesses.items()}
    return model, simulate(Nest(prob, arch, b, r))


def test_sliding_window_counts_new_rows_only():
    layer = Layer("slide", C=1, M=1, P=4, Q=1, R=3, S=1)
    arch = parse_architecture(OPEN)
    m = Mapping(arch.name, (LevelLoops("DRAM", temporal=(("P", 4),)), LevelLoops("glb"), LevelLoops("array"),
                            LevelLoops("pe", temporal=(("R", 3),))))
    model, sim = _counts(layer, arch, m)
    # pe's input tile is 3 rows; each later step of the P loop brings 1 new row
    assert sim[("pe", "Inputs")]["fills"] == model[("pe", "Inputs")]["fills"] == 3 + 3 * 1


def test_sliding_window_steps_over_the_spatial_loops_below_it():
    """A temporal P loop above a spatial P loop moves each child's window by the spatial extent
    (2 rows here), not by the child's own P extent (1): found by this simulation."""
    layer = Layer("conv", C=2, M=3, P=4, Q=3, R=3, S=2)
    arch = parse_architecture(OPEN)
    m = Mapping(arch.name, (LevelLoops("DRAM", temporal=(("M", 3), ("C", 2))),
                            LevelLoops("glb", temporal=(("Q", 3), ("S", 2), ("P", 2))),
                            LevelLoops("array", spatial=(("P", 2),)), LevelLoops("pe", temporal=(("R", 3),))))
    model, sim = _counts(layer, arch, m)
    # 36 runs of the P loop per pe: 3 rows, then 2 new rows
    assert sim[("pe", "Inputs")]["fills"] == model[("pe", "Inputs")]["fills"] == 36 * (3 + 2)
    assert sim[("glb", "Inputs")]["reads"] == model[("glb", "Inputs")]["reads"] == 2 * 36 * 5
