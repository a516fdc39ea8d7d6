"""Mapper check: on each Timeloop layer, our best energy <= Timeloop's best + 0.1%, and the mapping is legal.

Timeloop's mapper (random search, EDP objective) results: tests/data/timeloop/README.md.
"""
import pytest

from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.mapper import map_layer
from approxdse.accelerators.model import check_mapping, evaluate
from pathlib import Path

from approxdse.accelerators.timeloop_stats import layer_from_problem, read_stats

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "our_runs"
RUNS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def arch_name(run: str) -> str:
    return "simba" if "simba" in run else "eyeriss"


def run_layer(run: str):
    return layer_from_problem(DATA / run / "problem.yaml", run)


@pytest.mark.parametrize("run", RUNS)
def test_mapper_beats_timeloop(run):
    arch = load_architecture(arch_name(run))
    layer = run_layer(run)
    mapping = map_layer(layer, arch)
    check_mapping(layer, arch, mapping)  # raises if illegal
    res = evaluate(layer, arch, mapping)
    ref = read_stats(DATA / run / "timeloop-mapper.stats.txt").energy_uJ * 1e6
    assert res.energy_pJ <= ref * 1.001, f"{run}: {res.energy_pJ / 1e6:.2f} uJ vs Timeloop {ref / 1e6:.2f} uJ"
