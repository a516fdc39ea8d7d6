"""The exhaustive mapper's optimum equals an independent brute force over the whole map space.

The brute force here shares nothing with ``accelerators.mapspace``: it lists every
ordered factorisation of every dimension over every level that the ``=1`` factor
constraints leave open, every permutation of every storage level's loops, keeps
the mappings the model calls legal (``check_mapping``: factors, meshes, splits,
capacities, permutations) and takes the least cost from the model itself.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from approxdse.accelerators import mapper
from approxdse.accelerators.architecture import DIMS, StorageLevel, load_architecture, parse_architecture
from approxdse.accelerators.mapping import LevelLoops, Mapping
from approxdse.accelerators.model import check_mapping, evaluate
from approxdse.accelerators.nest_analysis import Problem, analyze
from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer

TINY = {
    "name": "tiny-constrained",
    "technology": "45nm",
    "levels": [
        {"name": "DRAM", "class": "DRAM", "width": 64, "datawidth": 8, "keep": ["Weights", "Inputs", "Outputs"],
         "energy": {"read": 100.0, "write": 100.0, "update": 100.0}},
        {"name": "glb", "class": "SRAM", "depth": 8, "width": 32, "datawidth": 8, "keep": ["Inputs", "Outputs"],
         "factors": "C=1 R=1 S=1 N=1", "permutation": "Q", "energy": {"read": 6.0, "write": 7.0, "update": 7.0}},
        {"name": "array", "type": "spatial", "meshX": 2, "meshY": 2, "factors": "P=1 Q=1 R=1 S=1 N=1",
         "permutation": "CM", "split": 1},
        {"name": "wspad", "class": "regfile", "depth": 4, "width": 8, "datawidth": 8, "keep": ["Weights"],
         "factors": ["M=1 P=1 Q=1 S=1 N=1"], "energy": {"read": 1.0, "write": 1.2, "update": 1.2}},
        {"name": "ospad", "class": "regfile", "depth": 4, "width": 16, "datawidth": 16, "keep": ["Outputs"],
         "factors": {"C": 1, "P": 1, "Q": 1, "R": 1, "S": 1, "N": 1, "M": "<=2"},
         "energy": {"read": 0.5, "write": 0.6, "update": 0.6}},
    ],
    "compute": {"multiplier_width": 8, "adder_width": 16, "energy": {"multiplier": 1.0, "adder": 0.1}},
}


def _ordered_factorisations(n: int, slots: int):
    if slots == 1:
        yield (n,)
        return
    for f in range(1, n + 1):
        if n % f == 0:
            for rest in _ordered_factorisations(n // f, slots - 1):
                yield (f,) + rest


def brute_force(layer: Layer, arch, objective: str) -> tuple[float, float]:
    """The least objective over every legal mapping (slow and simple), and the least secondary
    key (cycles for energy, energy for EDP and latency) among the mappings that reach it
    (within rounding: the mapper's model and this one sum in different orders)."""
    prob = Problem.from_layer(layer)
    L = len(arch.levels)
    open_levels = [[i for i, lv in enumerate(arch.levels) if lv.fixed().get(d) != 1] for d in DIMS]
    per_dim = []
    for d, size in zip(DIMS, prob.dims):
        rows = []
        for f in _ordered_factorisations(size, len(open_levels[DIMS.index(d)])):
            row = [1] * L
            for i, v in zip(open_levels[DIMS.index(d)], f):
                row[i] = v
            rows.append(row)
        per_dim.append(rows)
    bounds_all, rank_all = [], []
    for combo in itertools.product(*per_dim):
        b = np.array(combo, dtype=np.int64).T  # [L, 8]
        loops = [[DIMS[d] for d in range(8) if b[i, d] > 1] for i in range(L)]
        perm_choices = [itertools.permutations(lp) if isinstance(arch.levels[i], StorageLevel) else [tuple(lp)]
                        for i, lp in enumerate(loops)]
        for perms in itertools.product(*[list(p) for p in perm_choices]):
            levels = []
            for i, lv in enumerate(arch.levels):
                pairs = tuple((d, int(b[i, DIMS.index(d)])) for d in perms[i])
                levels.append(LevelLoops(lv.name, spatial=pairs) if not isinstance(lv, StorageLevel)
                              else LevelLoops(lv.name, temporal=tuple(reversed(pairs))))  # temporal: outer first
            m = Mapping(arch.name, tuple(levels))
            try:
                check_mapping(layer, arch, m)
            except ApproxDSEError:
                continue
            bb, rr = m.to_arrays(arch)
            bounds_all.append(bb)
            rank_all.append(rr)
    assert bounds_all, "the brute force found no legal mapping"
    res = analyze(prob, arch, np.stack(bounds_all), np.stack(rank_all))
    e, c = res.energy, res.cycles.astype(float)
    primary, secondary = {"energy": (e, c), "edp": (e * c, e), "latency": (c, e)}[objective]
    best = float(primary.min())
    return best, float(secondary[primary <= best * (1 + 1e-12)].min())


def _keys(layer, arch, mapping, objective):
    r = evaluate(layer, arch, mapping)
    e, c = r.energy_pJ, float(r.cycles)
    return {"energy": (e, c), "edp": (e * c, e), "latency": (c, e)}[objective]


pytestmark = pytest.mark.usefixtures("no_disk_cache")


CASES = [
    ("tiny", Layer("t1", C=2, M=4, P=3, Q=2, R=2, S=1)),
    ("tiny", Layer("t2", C=4, M=4, P=2, Q=2, R=1, S=1)),
    ("eyeriss", Layer("e1", C=2, M=4, P=1, Q=4, R=1, S=1)),
    ("eyeriss-2022", Layer("e2", C=4, M=8, P=4, Q=4, R=3, S=3)),
    ("simba-2022", Layer("s1", C=4, M=4, P=2, Q=1, R=1, S=1)),
    # depthwise: energy-optimal mappings with 6 to 24 cycles (the kernel once kept the fast
    # search's first incumbent, computed in numpy, over an equal-energy tiling with fewer cycles)
    ("eyeriss-2022", Layer("dw", C=8, M=8, groups=8, P=1, Q=1, R=3, S=3)),
]


def _arch(name):
    return parse_architecture(TINY) if name == "tiny" else load_architecture(name)


@pytest.mark.parametrize("arch_name,layer", CASES, ids=[f"{a}-{l.name}" for a, l in CASES])
def test_exhaustive_equals_brute_force_energy(arch_name, layer):
    arch = _arch(arch_name)
    mapping, rep = mapper.map_layer_report(layer, arch, "energy", mapper="exhaustive")
    assert rep.mapper == "exhaustive" and rep.proven_optimal
    assert 0 < rep.evaluated <= rep.mapspace_size
    check_mapping(layer, arch, mapping)
    best, fewest_cycles = brute_force(layer, arch, "energy")
    energy, cycles = _keys(layer, arch, mapping, "energy")
    assert energy == pytest.approx(best, rel=1e-9)
    assert cycles == fewest_cycles  # the tie-break: of the energy-optimal mappings, the fewest cycles


@pytest.mark.parametrize("objective", ["edp", "latency"])
def test_exhaustive_equals_brute_force_other_objectives(objective):
    arch = _arch("tiny")
    layer = CASES[0][1]
    mapping, rep = mapper.map_layer_report(layer, arch, objective, mapper="exhaustive")
    assert rep.proven_optimal
    got = _keys(layer, arch, mapping, objective)
    want = brute_force(layer, arch, objective)
    assert got[0] == pytest.approx(want[0], rel=1e-9) and got[1] == pytest.approx(want[1], rel=1e-9)


def test_exhaustive_never_worse_than_fast():
    for arch_name, layer in CASES:
        arch = _arch(arch_name)
        ex = mapper.map_layer(layer, arch, mapper="exhaustive")
        try:
            fast = mapper.map_layer(layer, arch, mapper="fast")
        except ApproxDSEError:
            continue
        assert evaluate(layer, arch, ex).energy_pJ <= evaluate(layer, arch, fast).energy_pJ * (1 + 1e-12)


def test_report_cache_and_disk_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("APPROXDSE_HOME", str(tmp_path))
    monkeypatch.setattr(mapper, "DISK_CACHE", True)
    arch = _arch("tiny")
    layer = CASES[1][1]
    m1, r1 = mapper.map_layer_report(layer, arch, mapper="exhaustive")
    assert not r1.cached and list((tmp_path / "cache" / "mappings").glob("*.json"))
    mapper.clear_cache()  # memory only: the disk entry answers
    m2, r2 = mapper.map_layer_report(layer, arch, mapper="exhaustive")
    assert r2.cached and m2 == m1 and r2.evaluated == r1.evaluated
    # a damaged entry is recomputed, not trusted
    for f in (tmp_path / "cache" / "mappings").glob("*.json"):
        f.write_text("{not json")
    mapper.clear_cache()
    m3, r3 = mapper.map_layer_report(layer, arch, mapper="exhaustive")
    assert not r3.cached and m3 == m1


def test_unknown_mapper_is_one_line_error():
    with pytest.raises(ApproxDSEError, match="unknown mapper"):
        mapper.map_layer(CASES[0][1], _arch("tiny"), mapper="genetic")


@pytest.mark.parametrize("which", ["exhaustive", "fast"])
def test_grouped_layer_orders_obey_the_innermost_permutation(which):
    """G is in no exercise's permutation: a G loop beside M at eyeriss' psum_spad must follow the constraint."""
    arch = load_architecture("eyeriss")
    layer = Layer("g", C=8, M=16, P=7, Q=7, R=3, S=3, groups=4)
    mapping, _ = mapper.map_layer_report(layer, arch, "energy", mapper=which)
    check_mapping(layer, arch, mapping)
