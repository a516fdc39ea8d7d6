"""Mapping loading and printing, and model input errors."""
from pathlib import Path

import pytest

from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.mapping import LevelLoops, Mapping, load_timeloop_map_txt, load_timeloop_mapping
from approxdse.accelerators.model import evaluate
from approxdse.accelerators.timeloop_stats import layer_from_problem, read_stats
from approxdse.core.errors import ApproxDSEError

RUN = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "our_runs" / "head_eyeriss_like_default"


def test_yaml_mapping_and_text():
    arch = load_architecture("eyeriss")
    layer = layer_from_problem(RUN / "problem.yaml")
    m = load_timeloop_mapping(RUN / "timeloop-mapper.map.yaml", layer, arch)
    table = m.factor_table()
    assert table["DRAM"] == {"P": 8, "Q": 2, "M": 4} and table["PE"] == {"C": 3, "S": 3}
    assert [d for d, _ in m.levels[0].temporal] == ["P", "Q", "M"]  # outer to inner, as Timeloop prints
    text = m.to_text(arch)
    assert "for Q in [0:14) (spatial)" in text and text.count("for ") == 10
    assert text.splitlines()[0] == "DRAM [Weights Inputs Outputs]"


def test_map_txt_equals_map_yaml(tmp_path):
    arch = load_architecture("eyeriss")
    layer = layer_from_problem(RUN / "problem.yaml")
    lines = []
    for name, loops in (("DRAM", [("P", 8), ("Q", 2), ("M", 4)]), ("shared_glb", [("P", 14), ("Q", 4)])):
        lines += [f"{name} [ x ] ", "-----"] + [f"| for {d} in [0:{b})" for d, b in loops] + [""]
    lines += ["PE_column [ ] ", "----", "| for Q in [0:14) (Spatial-X)", "",
              "PE [ ] ", "----", "| for C in [0:3) (Spatial-Y)", "| for S in [0:3) (Spatial-Y)", "",
              "weights_spad [ Weights:24 ] ", "----", "| for R in [0:3)", "",
              "psum_spad [ Outputs:8 ] ", "----", "| for M in [0:8)"]
    p = tmp_path / "map.txt"
    p.write_text("\n".join(lines))
    a = evaluate(layer, arch, load_timeloop_map_txt(p, layer, arch))
    b = evaluate(layer, arch, load_timeloop_mapping(RUN / "timeloop-mapper.map.yaml", layer, arch))
    assert a.energy_pJ == pytest.approx(b.energy_pJ)
    assert a.energy_pJ / 1e6 == pytest.approx(read_stats(RUN / "timeloop-mapper.stats.txt").energy_uJ, rel=1e-3)


def test_loader_errors(tmp_path):
    arch = load_architecture("eyeriss")
    layer = layer_from_problem(RUN / "problem.yaml")
    with pytest.raises(ApproxDSEError, match="does not exist"):
        load_timeloop_mapping(tmp_path / "none.yaml", layer, arch)
    bad = tmp_path / "bad.yaml"
    bad.write_text("mapping:\n  - target: L2_cache\n    type: temporal\n    factors: C3\n")
    with pytest.raises(ApproxDSEError, match="L2_cache"):
        load_timeloop_mapping(bad, layer, arch)
    # Timeloop's Eyeriss mapping on Simba: the level names do not exist there
    with pytest.raises(ApproxDSEError, match="not a level"):
        load_timeloop_mapping(RUN / "timeloop-mapper.map.yaml", layer, load_architecture("simba"))


def test_illegal_mappings_name_the_constraint():
    arch = load_architecture("eyeriss")
    layer = layer_from_problem(RUN / "problem.yaml")
    base = load_timeloop_mapping(RUN / "timeloop-mapper.map.yaml", layer, arch)
    levels = list(base.levels)
    # 32 outputs in a 16-word psum scratchpad
    levels[-1] = LevelLoops("psum_spad", temporal=(("M", 32),))
    levels[0] = LevelLoops("DRAM", temporal=(("P", 8), ("Q", 2)))
    with pytest.raises(ApproxDSEError, match="psum_spad.*capacity"):
        evaluate(layer, arch, Mapping("eyeriss", tuple(levels)))
    # a product that does not match the layer
    levels = list(base.levels)
    levels[0] = LevelLoops("DRAM", temporal=(("P", 8), ("Q", 2)))
    with pytest.raises(ApproxDSEError, match="loop bounds of M"):
        evaluate(layer, arch, Mapping("eyeriss", tuple(levels)))
    # a loop the constraints forbid: P unrolled across the PE column
    levels = list(base.levels)
    levels[2] = LevelLoops("PE_column", spatial=(("Q", 7), ("P", 2)))
    levels[0] = LevelLoops("DRAM", temporal=(("P", 4), ("Q", 4), ("M", 4)))
    with pytest.raises(ApproxDSEError, match="PE_column may not have a P loop"):
        evaluate(layer, arch, Mapping("eyeriss", tuple(levels)))


def test_bandwidth_stretches_cycles_only():
    import dataclasses

    from approxdse.accelerators.architecture import Architecture

    arch = load_architecture("eyeriss")
    layer = layer_from_problem(RUN / "problem.yaml")
    m = load_timeloop_mapping(RUN / "timeloop-mapper.map.yaml", layer, arch)
    base = evaluate(layer, arch, m)
    # the glb serves 1,354,752 input reads in 86,016 cycles (15.75 words/cycle, limit 16); allow 4
    levels = tuple(dataclasses.replace(lv, read_bandwidth=4.0) if lv.name == "shared_glb" else lv for lv in arch.levels)
    slow = Architecture(arch.name, arch.technology, levels, arch.compute)
    res = evaluate(layer, slow, m)
    assert res.cycles == -(-1354752 // 4) and base.cycles == 86016
    assert res.energy_pJ == pytest.approx(base.energy_pJ)
