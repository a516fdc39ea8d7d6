"""Model check on the 2022 designs (eyeriss-2022, simba-2022): Timeloop's own AlexNet layer-1 mappings.

Reference: the outputs shipped with Accelergy-Project/timeloop-accelergy-exercises@778460f
(tests/data/timeloop/README.md); that Timeloop writes map.txt only.
"""
from pathlib import Path

import pytest

from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.mapping import load_timeloop_map_txt
from approxdse.accelerators.model import evaluate
from approxdse.accelerators.timeloop_stats import layer_from_problem, read_stats

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "exercises_2022_778460f"
CASES = [("eyeriss-2022", "eyeriss_like"), ("simba-2022", "simba_like")]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request):
    arch_name, folder = request.param
    arch = load_architecture(arch_name)
    layer = layer_from_problem(DATA / "AlexNet_layer1.yaml", "AlexNet_layer1")
    mapping = load_timeloop_map_txt(DATA / folder / "timeloop-mapper.map.txt", layer, arch)
    return arch, layer, evaluate(layer, arch, mapping), read_stats(DATA / folder / "timeloop-mapper.stats.txt")


def test_components_and_total_within_0_1_percent(case):
    arch, layer, res, st = case
    for lv in arch.storage_levels:
        assert res.components[lv.name] == pytest.approx(st.level_energy_pJ[lv.name], rel=1e-3), lv.name
    mac = res.components["multiplier"] + res.components["adder"]
    mac_name = arch.compute.name
    # simba-2022's stats charge the LMAC at the ERT's 0.561 pJ rounded to 0.56 (-0.18 %)
    assert mac == pytest.approx(st.component_energy_pJ(mac_name), rel=2e-3)
    assert res.energy_pJ / 1e6 == pytest.approx(st.energy_uJ, rel=1e-3)


def test_access_counts(case):
    arch, layer, res, st = case
    for (lv, ds), acc in res.accesses.items():
        ref = st.levels[(lv, ds)]
        assert (acc["reads"], acc["fills"], acc["updates"]) == (ref["reads"], ref["fills"], ref["updates"]), (lv, ds)
    assert res.cycles == st.cycles and res.macs == st.computes


def test_mapper_beats_2022_timeloop(case):
    from approxdse.accelerators.mapper import map_layer

    arch, layer, res, st = case
    best = evaluate(layer, arch, map_layer(layer, arch))
    assert best.energy_pJ <= st.energy_uJ * 1e6 * 1.001
