"""Model check: on Timeloop's own mappings, per-component and total energy within 0.1%.

Reference: Timeloop v3.0.3 runs of timeloop-accelergy-exercises@2d55108 designs (tests/data/timeloop/README.md).
"""
import pytest

from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.mapping import load_timeloop_mapping
from approxdse.accelerators.model import evaluate
from pathlib import Path

from approxdse.accelerators.timeloop_stats import layer_from_problem, read_stats

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "our_runs"
RUNS = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def arch_name(run: str) -> str:
    return "simba" if "simba" in run else "eyeriss"


def run_layer(run: str):
    return layer_from_problem(DATA / run / "problem.yaml", run)


@pytest.fixture(scope="module", params=RUNS)
def case(request):
    run = request.param
    arch = load_architecture(arch_name(run))
    layer = run_layer(run)
    mapping = load_timeloop_mapping(DATA / run / "timeloop-mapper.map.yaml", layer, arch)
    return run, arch, layer, evaluate(layer, arch, mapping), read_stats(DATA / run / "timeloop-mapper.stats.txt")


def test_runs_present():
    assert len([r for r in RUNS if "eyeriss" in r]) >= 4 and len([r for r in RUNS if "simba" in r]) >= 3


def test_per_component_energy_within_0_1_percent(case):
    run, arch, layer, res, st = case
    for lv in arch.storage_levels:
        ref = st.level_energy_pJ[lv.name]
        assert res.components[lv.name] == pytest.approx(ref, rel=1e-3), (run, lv.name)
    mac = res.components["multiplier"] + res.components["adder"]
    assert mac == pytest.approx(st.component_energy_pJ("mac"), rel=1e-3)


def test_total_energy_within_0_1_percent(case):
    run, arch, layer, res, st = case
    assert res.energy_pJ / 1e6 == pytest.approx(st.energy_uJ, rel=1e-3)


def test_access_counts_match_timeloop(case):
    """Reads, fills and updates per instance, and utilised instances, for every level and tensor."""
    run, arch, layer, res, st = case
    for (lv, ds), acc in res.accesses.items():
        if (lv, ds) not in st.levels:  # Timeloop omits nothing here, but keep the message clear
            pytest.fail(f"{run}: Timeloop has no stats for {lv}/{ds}")
        ref = st.levels[(lv, ds)]
        assert (acc["reads"], acc["fills"], acc["updates"]) == (ref["reads"], ref["fills"], ref["updates"]), (run, lv, ds)
        assert acc["instances"] == ref["instances"], (run, lv, ds)


def test_cycles_and_utilization(case):
    run, arch, layer, res, st = case
    assert res.cycles == st.cycles
    assert res.macs == st.computes
    assert res.utilization == pytest.approx(st.utilization, abs=0.006)


def test_multiplier_energy_scales_only_the_multiplier(case):
    run, arch, layer, res, st = case
    half = evaluate(layer, arch, res.mapping, multiplier_energy=0.5)
    assert half.components["multiplier"] == pytest.approx(0.5 * res.components["multiplier"])
    for k, v in res.components.items():
        if k != "multiplier":
            assert half.components[k] == pytest.approx(v)
    assert res.with_multiplier(0.5, arch).energy_pJ == pytest.approx(half.energy_pJ)


REF2024 = DATA.parent / "our_runs_ref2024"
REF2024_RUNS = sorted(p.name for p in REF2024.iterdir() if p.is_dir())


@pytest.mark.parametrize("run", REF2024_RUNS)
def test_ref2024_runs_with_their_energy_tables(run):
    """The exercises' state at 67b75f2 (32 nm Eyeriss, older intmac): same structure, its own ERT."""
    from approxdse.accelerators.architecture import with_energy_table
    from approxdse.accelerators.timeloop_stats import read_ert_summary

    ert = read_ert_summary(REF2024 / run / "timeloop-mapper.ERT_summary.yaml")
    arch = with_energy_table(load_architecture(arch_name(run)), ert)
    layer = layer_from_problem(REF2024 / run / "problem.yaml", run)
    res = evaluate(layer, arch, load_timeloop_mapping(REF2024 / run / "timeloop-mapper.map.yaml", layer, arch))
    st = read_stats(REF2024 / run / "timeloop-mapper.stats.txt")
    for lv in arch.storage_levels:
        assert res.components[lv.name] == pytest.approx(st.level_energy_pJ[lv.name], rel=1e-3), lv.name
    assert res.components["multiplier"] + res.components["adder"] == pytest.approx(st.component_energy_pJ("mac"), rel=1e-3)
    assert res.energy_pJ / 1e6 == pytest.approx(st.energy_uJ, rel=1e-3)
    # mapper check on the same design and energy table
    from approxdse.accelerators.mapper import map_layer

    best = evaluate(layer, arch, map_layer(layer, arch))
    assert best.energy_pJ <= st.energy_uJ * 1e6 * 1.001
