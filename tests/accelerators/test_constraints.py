"""Map-space constraints with Timeloop's semantics, and the reader for Timeloop constraint files."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from approxdse.accelerators.architecture import DIMS, SpatialLevel, load_architecture, parse_architecture
from approxdse.accelerators.constraints import FactorLimit, Permutation, effective_forced, parse_factors, parse_permutation
from approxdse.accelerators.mapping import LevelLoops, Mapping, load_timeloop_map_txt
from approxdse.accelerators.model import check_mapping
from approxdse.accelerators.nest_analysis import Problem, factor_ranges
from approxdse.accelerators.timeloop_constraints import apply_timeloop_constraints
from approxdse.accelerators.timeloop_stats import layer_from_problem
from approxdse.core.errors import ApproxDSEError
from approxdse.networks.workload import Layer

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "exercises_2022_778460f"


def test_factor_forms():
    assert parse_factors("N=1 C<=4 M >= 2 S=0", "x") == (
        FactorLimit("N", "=", 1), FactorLimit("C", "<=", 4), FactorLimit("M", ">=", 2), FactorLimit("S", "=", 0))
    assert parse_factors({"C": 1, "M": "<=8"}, "x") == (
        FactorLimit("C", "=", 1), FactorLimit("M", "<=", 8))
    assert parse_factors(["R=1", "S=1"], "x") == (FactorLimit("R", "=", 1), FactorLimit("S", "=", 1))
    assert FactorLimit("G", "=", 1) in parse_factors("M=1", "x")  # M=1 also forbids group loops
    for bad in ("C=x", "K=1", "C<=0", "C=1 C=2"):
        with pytest.raises(ApproxDSEError):
            parse_factors(bad, "levels[1].factors")


def test_permutation_forms():
    p = parse_permutation("NMPQS CR", "x")
    assert p == Permutation(tuple("NMPQS"), ("C", "R"))
    assert p.allows(["C", "R"]) and not p.allows(["R", "C"])
    q = parse_permutation("RSCMN", "x")  # no space: all listed innermost, P and Q free outside
    assert q.allows(["C", "M", "Q", "P"]) and q.allows(["C", "M", "P", "Q"]) and not q.allows(["M", "C", "P"])
    assert parse_permutation(["N", "M", "C"], "x") == Permutation(("N", "M", "C"), ())
    with pytest.raises(ApproxDSEError):
        parse_permutation("NN", "x")


def test_forced_factor_that_does_not_divide():
    # Timeloop's 2022 Simba forces C=4 at the MAC fan-out; its AlexNet-conv1 mapping (C=3) unrolls C=3
    assert effective_forced(4, 3) == 3
    assert effective_forced(4, 8) == 4
    assert effective_forced(4, 6) == 3  # exact factorisation: the largest divisor below 4 (our choice)
    assert effective_forced(0, 11) == 11  # 0: the whole dimension
    arch = load_architecture("simba-2022")
    layer = layer_from_problem(DATA / "AlexNet_layer1.yaml", "alexnet1")
    m = load_timeloop_map_txt(DATA / "simba_like" / "timeloop-mapper.map.txt", layer, arch)  # legal (C=3)
    assert m.factor_table()["reg_mac"]["C"] == 3
    lo, hi = factor_ranges(Problem.from_layer(layer), arch)
    j = arch.level_index("reg_mac")
    assert lo[j, DIMS.index("C")] == hi[j, DIMS.index("C")] == 3


def test_zero_factor_means_whole_dimension():
    arch = load_architecture("eyeriss-2022")
    layer = Layer("l", C=8, M=16, P=14, Q=14, R=5, S=5)
    lo, hi = factor_ranges(Problem.from_layer(layer), arch)
    for level, dim in (("DummyBuffer", "S"), ("weights_spad", "R"), ("shared_glb", "P")):
        i, d = arch.level_index(level), DIMS.index(dim)
        assert lo[i, d] == hi[i, d] == getattr(layer, dim)


def _strip(arch):
    return dataclasses.replace(arch, levels=tuple(
        dataclasses.replace(lv, factors=(), permutation=Permutation(),
                            **({"split": None} if isinstance(lv, SpatialLevel) else {})) for lv in arch.levels))


@pytest.mark.parametrize("name,folder", [("eyeriss-2022", "eyeriss_like"), ("simba-2022", "simba_like")])
def test_builtin_designs_carry_the_exercise_constraint_files(name, folder):
    """Reading the exercise's constraint files as they are gives the built-in design's constraints exactly."""
    arch = load_architecture(name)
    out = _strip(arch)
    for kind in ("arch", "map"):
        out = apply_timeloop_constraints(out, DATA / folder / "constraints" / f"{folder}_{kind}_constraints.yaml")
    for a, b in zip(arch.levels, out.levels):
        assert (a.factors, a.permutation, getattr(a, "split", None), getattr(a, "keep", None)) == \
               (b.factors, b.permutation, getattr(b, "split", None), getattr(b, "keep", None)), a.name
    assert out.id == arch.id


def test_reader_errors_are_one_line(tmp_path):
    arch = load_architecture("eyeriss")
    bad = tmp_path / "c.yaml"
    bad.write_text("architecture_constraints:\n  targets:\n  - target: nowhere\n    type: temporal\n")
    with pytest.raises(ApproxDSEError, match="'nowhere' is not a level"):
        apply_timeloop_constraints(arch, bad)
    bad.write_text("mapspace_constraints:\n  targets:\n  - target: DRAM\n    type: sideways\n")
    with pytest.raises(ApproxDSEError, match="unknown type"):
        apply_timeloop_constraints(arch, bad)
    with pytest.raises(ApproxDSEError, match="does not exist"):
        apply_timeloop_constraints(arch, tmp_path / "missing.yaml")


TINY = {
    "name": "split-test", "technology": "45nm",
    "levels": [
        {"name": "DRAM", "class": "DRAM", "width": 64, "datawidth": 8, "keep": ["Weights", "Inputs", "Outputs"]},
        {"name": "array", "type": "spatial", "meshX": 2, "meshY": 4, "permutation": "C M", "split": 1},
        {"name": "spad", "class": "regfile", "depth": 64, "width": 8, "datawidth": 8, "keep": ["Weights"],
         "permutation": "C M"},
    ],
    "compute": {"multiplier_width": 8, "adder_width": 16},
}


def _mapping(spatial, temporal_spad):
    return Mapping("split-test", (LevelLoops("DRAM", temporal=(("P", 2),)), LevelLoops("array", spatial=spatial),
                                  LevelLoops("spad", temporal=temporal_spad)))


def test_split_and_permutation_are_checked():
    arch = parse_architecture(TINY)
    assert arch.levels[1].x_dims == frozenset("C")
    layer = Layer("l", C=2, M=4, P=2, Q=1, R=1, S=1)
    check_mapping(layer, arch, _mapping((("C", 2), ("M", 4)), ()))  # C along X (2), M along Y (4)
    layer2 = Layer("l", C=4, M=2, P=2, Q=1, R=1, S=1)
    with pytest.raises(ApproxDSEError, match="mesh"):
        check_mapping(layer2, arch, _mapping((("C", 4), ("M", 2)), ()))  # C=4 does not fit meshX=2
    layer3 = Layer("l", C=4, M=8, P=2, Q=1, R=1, S=1)
    ok = _mapping((("C", 2), ("M", 4)), (("M", 2), ("C", 2)))  # outer first: C innermost, M outermost
    check_mapping(layer3, arch, ok)
    with pytest.raises(ApproxDSEError, match="permutation constraint"):
        check_mapping(layer3, arch, _mapping((("C", 2), ("M", 4)), (("C", 2), ("M", 2))))


def test_yaml_schema_rejects_bad_split():
    doc = {**TINY, "levels": [TINY["levels"][0], {**TINY["levels"][1], "split": -1}, TINY["levels"][2]]}
    with pytest.raises(ApproxDSEError, match="split"):
        parse_architecture(doc)
