"""The mapper's imperfect factorisation: partial last tiles of N, G, C and M."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.estimate import estimate_energy
from approxdse.accelerators.mapper import map_layer_report, padded_sizes, trim
from approxdse.accelerators.model import check_mapping, evaluate
from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer

# a ShuffleNetV2-style 1x1 conv: 58 = 2 x 29 channels leave most of Eyeriss's 168 PEs idle
AWKWARD = Layer("awkward", C=58, M=58, P=7, Q=7, R=1, S=1)


pytestmark = pytest.mark.usefixtures("no_disk_cache")


def test_padded_sizes_only_for_awkward_sizes():
    assert padded_sizes(64) == [] and padded_sizes(96) == [] and padded_sizes(3) == []
    assert padded_sizes(58) == [60, 72, 64]  # most divisors first, then the smallest; at most 25% more
    assert all(232 < c <= 290 for c in padded_sizes(232)) and 240 in padded_sizes(232)
    assert padded_sizes(29) == [36, 30, 32]


def test_trim_cuts_the_outermost_loop_to_the_real_size():
    b = np.ones((4, 8), dtype=np.int64)
    b[0, 3], b[2, 3] = 15, 4  # M: 15 x 4 = 60 covers 58
    np.testing.assert_array_equal(trim(b, (1, 1, 1, 58, 1, 1, 1, 1))[:, 3], [15, 1, 4, 1])
    b[0, 3] = 16  # 64: one empty outer iteration, cut back to 15
    np.testing.assert_array_equal(trim(b, (1, 1, 1, 58, 1, 1, 1, 1))[:, 3], [15, 1, 4, 1])
    b[0, 3], b[1, 3] = 1, 16  # the outermost M loop is at level 1
    np.testing.assert_array_equal(trim(b, (1, 1, 1, 58, 1, 1, 1, 1))[:, 3], [1, 15, 4, 1])


@pytest.mark.parametrize("design", ["eyeriss", "eyeriss-2022", "simba-2022"])
def test_imperfect_beats_exact_on_an_awkward_layer(design):
    arch = load_architecture(design)
    exact, erep = map_layer_report(AWKWARD, arch, factorization="exact")
    imp, irep = map_layer_report(AWKWARD, arch, factorization="imperfect")
    e_exact = evaluate(AWKWARD, arch, exact)
    e_imp = evaluate(AWKWARD, arch, imp)
    check_mapping(AWKWARD, arch, imp)
    assert irep.factorization == "imperfect" and not irep.proven_optimal
    assert irep.padded_searches > 0 and set(irep.padded) <= {"C", "M"} and irep.padded
    assert e_imp.macs == e_exact.macs == AWKWARD.macs
    # measured: 19.6 -> 9.0 pJ/MAC on eyeriss, 39.3 -> 12.9 on eyeriss-2022, 4.34 -> 4.22 on simba-2022
    assert e_imp.energy_pJ < 0.98 * e_exact.energy_pJ
    assert e_imp.utilization > e_exact.utilization
    b, _ = imp.to_arrays(arch)
    for dim, covered in irep.padded.items():
        d = "NGCMPQRS".index(dim)
        assert int(b[:, d].prod()) == covered > getattr(AWKWARD, dim)


def test_imperfect_never_costs_more_than_exact():
    arch = load_architecture("eyeriss")
    for layer in (Layer("a", C=13, M=22, P=5, Q=5, R=3, S=3, pad_h=1, pad_w=1),
                  Layer("b", C=7, M=11, P=6, Q=6, R=1, S=1), Layer("fc", C=70, M=10, P=1, Q=1, R=1, S=1),
                  Layer("dw", C=58, M=58, P=7, Q=7, R=3, S=3, groups=58, pad_h=1, pad_w=1)):
        exact, _ = map_layer_report(layer, arch, factorization="exact")
        imp, _ = map_layer_report(layer, arch, factorization="imperfect")
        assert evaluate(layer, arch, imp).energy_pJ <= evaluate(layer, arch, exact).energy_pJ * (1 + 1e-12)


def test_smooth_sizes_search_nothing_more():
    arch = load_architecture("eyeriss")
    layer = Layer("c", C=64, M=64, P=8, Q=8, R=3, S=3, pad_h=1, pad_w=1)
    exact, _ = map_layer_report(layer, arch, factorization="exact")
    imp, rep = map_layer_report(layer, arch, factorization="imperfect")
    assert rep.padded_searches == 0 and rep.padded == {}
    assert imp.to_arrays(arch)[0].tolist() == exact.to_arrays(arch)[0].tolist()


def test_estimate_reports_the_factorisation_per_layer():
    rep = estimate_energy([AWKWARD], "eyeriss")  # imperfect is the default
    search = rep.extra["mappers"]["awkward"]
    assert search["factorization"] == "imperfect" and search["proven_optimal"] is False
    assert search["padded"]
    exact = estimate_energy([AWKWARD], "eyeriss", factorization="exact")
    assert exact.extra["mappers"]["awkward"]["factorization"] == "exact"
    assert rep.energy_pJ < exact.energy_pJ
    with pytest.raises(ApproxDSEError, match="unknown factorization 'padded'"):
        estimate_energy([AWKWARD], "eyeriss", factorization="padded")


def test_cli_factorization_flag(tmp_path, capsys):
    net = tmp_path / "awkward.yaml"
    net.write_text("problem:\n  shape: {name: CNN-Layer}\n  instance: {C: 58, M: 58, P: 7, Q: 7, R: 1, S: 1, N: 1}\n")
    out = tmp_path / "e.json"
    assert main(["energy", str(net), "--factorization", "imperfect", "--format", "json", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    (search,) = doc["extra"]["mappers"].values()
    assert search["factorization"] == "imperfect" and search["padded"]
    assert main(["energy", str(net), "--format", "json", "--out", str(out)]) == 0  # the default
    (default,) = json.loads(out.read_text())["extra"]["mappers"].values()
    assert default["factorization"] == "imperfect"
    assert main(["energy", str(net), "--factorization", "exact", "--format", "json", "--out", str(out)]) == 0
    (exact,) = json.loads(out.read_text())["extra"]["mappers"].values()
    assert exact["factorization"] == "exact" and not exact.get("padded")


def test_predictors_refuse_imperfect_and_learn_exact(tmp_path, capsys):
    from approxdse.predictors.reference import REFERENCE_FACTORIZATION, reference_energy

    assert REFERENCE_FACTORIZATION == "exact"
    assert reference_energy([AWKWARD], "eyeriss").extra["mappers"]["awkward"]["factorization"] == "exact"
    assert main(["energy", "resnet18", "--predictor", "summing", "--factorization", "imperfect"]) == 2
    assert "--factorization imperfect needs the reference" in capsys.readouterr().err


# -- against a brute force over the whole imperfect map space of a small design

SMALL = {
    "name": "small-imperfect",
    "technology": "45nm",
    "levels": [
        {"name": "DRAM", "class": "DRAM", "width": 64, "datawidth": 8, "keep": ["Weights", "Inputs", "Outputs"],
         "energy": {"read": 100.0, "write": 100.0, "update": 100.0}},
        {"name": "glb", "class": "SRAM", "depth": 16, "width": 8, "datawidth": 8, "keep": ["Inputs", "Outputs"],
         "factors": "R=1 S=1 N=1", "energy": {"read": 6.0, "write": 7.0, "update": 7.0}},
        {"name": "array", "type": "spatial", "meshX": 2, "meshY": 2, "factors": "P=1 Q=1 R=1 S=1 N=1"},
        {"name": "pe", "class": "regfile", "depth": 12, "width": 8, "datawidth": 8,
         "keep": ["Weights", "Inputs", "Outputs"], "factors": "N=1",
         "energy": {"read": 1.0, "write": 1.2, "update": 1.2}},
    ],
    "compute": {"multiplier_width": 8, "adder_width": 16, "energy": {"multiplier": 1.0, "adder": 0.1}},
}


def _splits(n: int, slots: int):
    if slots == 1:
        yield (n,)
        return
    for f in range(1, n + 1):
        if n % f == 0:
            for rest in _splits(n // f, slots - 1):
                yield (f,) + rest


def brute_force_energy(layer: Layer, arch, imperfect: bool) -> float:
    """The least energy over every legal mapping; with ``imperfect``, N, G, C, M may cover up to 2x their size
    (a canonical partial tile covers less than that; the model's legality refuses the rest)."""
    from approxdse.accelerators.architecture import DIMS, StorageLevel
    from approxdse.accelerators.nest_analysis import Problem, analyze, legality, order_violation

    prob = Problem.from_layer(layer)
    L = len(arch.levels)
    per_dim = []
    for d, size in enumerate(prob.dims):
        opened = [i for i, lv in enumerate(arch.levels) if lv.fixed().get(DIMS[d]) != 1]
        rows = []
        for cover in range(size, 2 * size if imperfect and d < 4 and size > 1 else size + 1):
            for f in _splits(cover, len(opened)):
                row = [1] * L
                for i, v in zip(opened, f):
                    row[i] = v
                rows.append(row)
        per_dim.append(rows)
    tilings = np.array([np.array(c).T for c in itertools.product(*per_dim)], dtype=np.int64)
    ok, _ = legality(prob, arch, tilings, explain=False)
    bounds, ranks = [], []
    for b in tilings[ok]:
        loops = [[d for d in range(8) if b[i, d] > 1] for i in range(L)]
        choices = [list(itertools.permutations(lp)) if isinstance(arch.levels[i], StorageLevel) else [tuple(lp)]
                   for i, lp in enumerate(loops)]
        for perms in itertools.product(*choices):
            r = np.tile(np.arange(8, 16), (L, 1))
            for i, order in enumerate(perms):  # innermost first
                for pos, d in enumerate(order):
                    r[i, d] = pos
            if order_violation(arch, b, r) is None:
                bounds.append(b)
                ranks.append(r)
    return float(analyze(prob, arch, np.stack(bounds), np.stack(ranks)).energy.min())


BRUTE = [Layer("b1", C=3, M=5, P=2, Q=1, R=1, S=1), Layer("b2", C=5, M=3, P=1, Q=2, R=2, S=1),
         Layer("b3", C=7, M=2, P=2, Q=1, R=1, S=1)]


@pytest.mark.parametrize("layer", BRUTE, ids=[l.name for l in BRUTE])
def test_imperfect_search_between_the_exact_and_the_imperfect_optimum(layer):
    from approxdse.accelerators.architecture import parse_architecture

    arch = parse_architecture(SMALL)
    exact_opt = brute_force_energy(layer, arch, imperfect=False)
    imperfect_opt = brute_force_energy(layer, arch, imperfect=True)
    exact, erep = map_layer_report(layer, arch, mapper="exhaustive", factorization="exact")
    imp, _ = map_layer_report(layer, arch, mapper="exhaustive", factorization="imperfect")
    assert erep.proven_optimal
    assert evaluate(layer, arch, exact).energy_pJ == pytest.approx(exact_opt, rel=1e-9)
    got = evaluate(layer, arch, imp).energy_pJ
    assert imperfect_opt * (1 - 1e-9) <= got <= exact_opt * (1 + 1e-9)
    assert imperfect_opt < exact_opt  # partial tiles pay on these sizes
