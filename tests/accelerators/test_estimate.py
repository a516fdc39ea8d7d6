"""estimate_energy / EnergyReport: totals, multiplier swaps, per-layer multipliers,
network kinds, exports and errors (on the real model and mapper)."""
import csv
import io
import json
import textwrap

import pytest
import torch
from torch import nn

from approxdse import multipliers
from approxdse.networks import zoo
from approxdse.accelerators.estimate import compare_multipliers, estimate_energy, resolve_network
from approxdse.accelerators.report import JSON_LAYER_KEYS, EnergyReport
from approxdse.networks.workload import Layer, Workload
from approxdse.core.errors import ApproxDSEError, UnknownNameError

torch.set_num_threads(1)
APPROX = "u8_drum_4" if "u8_drum_4" in multipliers.names() else 0.5


def _rel(m):
    return m if isinstance(m, float) else multipliers.get(m).relative_energy


@pytest.fixture(scope="module")
def lenet_exact():
    return estimate_energy("lenet5", "eyeriss", "exact")


def test_totals_are_sums_of_layers_and_components(lenet_exact):
    rep = lenet_exact
    assert isinstance(rep, EnergyReport) and rep.network == "lenet5" and rep.accelerator == "eyeriss"
    assert len(rep.layers) == 5 and rep.macs == zoo.workload("lenet5").macs
    assert rep.energy_pJ == pytest.approx(sum(r.energy_pJ for r in rep.layers))
    for r in rep.layers:
        assert r.energy_pJ > 0 and r.cycles > 0 and 0 < r.utilization <= 1
        assert sum(r.components.values()) == pytest.approx(r.energy_pJ, rel=1e-9)
        assert {"multiplier", "adder", "DRAM"} <= set(r.components)
        assert r.mapping  # a readable loop nest
    assert sum(rep.components.values()) == pytest.approx(rep.energy_pJ, rel=1e-9)
    assert rep.cycles == sum(r.cycles for r in rep.layers)


def test_swapping_the_multiplier_changes_only_its_share(lenet_exact):
    approx = estimate_energy("lenet5", "eyeriss", APPROX)
    rel = _rel(APPROX)
    for a, b in zip(lenet_exact.layers, approx.layers):
        assert b.components["multiplier"] == pytest.approx(rel * a.components["multiplier"], rel=1e-9)
        for comp in a.components:
            if comp != "multiplier":
                assert b.components[comp] == pytest.approx(a.components[comp], rel=1e-12)
        assert b.cycles == a.cycles and b.mapping == a.mapping
    assert approx.energy_pJ < lenet_exact.energy_pJ


def test_per_layer_multipliers(lenet_exact):
    mixed = estimate_energy("lenet5", "eyeriss", "exact", layer_multipliers={"conv2": APPROX, "fc1": 0.0})
    by_name = {r.name: r for r in mixed.layers}
    base = {r.name: r for r in lenet_exact.layers}
    assert by_name["conv2"].components["multiplier"] == pytest.approx(
        _rel(APPROX) * base["conv2"].components["multiplier"])
    assert by_name["fc1"].components["multiplier"] == 0.0
    assert by_name["conv1"].energy_pJ == pytest.approx(base["conv1"].energy_pJ)
    assert len(mixed.multipliers) == 3
    as_list = estimate_energy("lenet5", "eyeriss", "exact", layer_multipliers=[None, APPROX, 0.0, None, None])
    assert as_list.energy_pJ == pytest.approx(mixed.energy_pJ)
    with pytest.raises(ApproxDSEError, match="unknown layer"):
        estimate_energy("lenet5", "eyeriss", layer_multipliers={"conv9": "exact"})
    with pytest.raises(ApproxDSEError, match="5 layers"):
        estimate_energy("lenet5", "eyeriss", layer_multipliers=["exact"])


def test_identical_layers_get_identical_results():
    rep = estimate_energy("resnet20", "eyeriss")
    a, b = rep.layer("layer1.0.conv1"), rep.layer("layer1.1.conv2")
    assert a.layer.shape_key() == b.layer.shape_key()
    assert a.energy_pJ == b.energy_pJ and a.mapping == b.mapping
    assert rep.extra["distinct_shapes"] < len(rep.layers)


def test_depthwise_layers_are_costed():
    w = Workload("dw", [Layer("dw", C=32, M=32, P=28, Q=28, R=3, S=3, groups=32, pad_h=1, pad_w=1),
                        Layer("pw", C=32, M=64, P=28, Q=28)])
    rep = estimate_energy(w, "eyeriss")
    assert rep.layers[0].energy_pJ > 0 and rep.layers[0].layer.macs == 32 * 28 * 28 * 9


def test_network_kinds_module_factory_and_problem_file(tmp_path):
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    from_module = estimate_energy(net, "eyeriss", input_shape=(1, 1, 8, 8))
    assert [r.layer.kind for r in from_module.layers] == ["conv", "fc"]

    factory = tmp_path / "mynet.py"
    factory.write_text(textwrap.dedent("""\
        import torch.nn as nn
        INPUT_SHAPE = (1, 1, 8, 8)
        def build():
            return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
        """))
    from_file = estimate_energy(f"{factory}:build", "eyeriss")
    assert from_file.energy_pJ == pytest.approx(from_module.energy_pJ)
    with pytest.raises(ApproxDSEError, match="has no function 'nope'; it defines: build"):
        resolve_network(f"{factory}:nope")

    problem = tmp_path / "l.yaml"
    problem.write_text("problem:\n  instance: {C: 16, M: 32, P: 14, Q: 14, R: 3, S: 3}\n")
    rep = estimate_energy(str(problem), "simba")
    assert rep.layers[0].layer.macs == 16 * 32 * 14 * 14 * 9 and rep.accelerator.startswith("simba")


def test_objectives_give_consistent_tradeoffs():
    layer = Layer("c", C=64, M=64, P=28, Q=28, R=3, S=3, pad_h=1, pad_w=1)
    by = {o: estimate_energy(layer, "eyeriss", objective=o) for o in ("energy", "latency")}
    assert by["energy"].energy_pJ <= by["latency"].energy_pJ * (1 + 1e-9)
    assert by["latency"].cycles <= by["energy"].cycles


def test_exports(lenet_exact, tmp_path):
    data = json.loads(lenet_exact.to_json())
    assert data["totals"]["energy_pJ"] == pytest.approx(lenet_exact.energy_pJ)
    for row in data["layers"]:
        assert set(JSON_LAYER_KEYS) <= set(row)
    rows = list(csv.DictReader(io.StringIO(lenet_exact.to_csv(tmp_path / "r.csv"))))
    assert rows[-1]["name"] == "TOTAL" and float(rows[-1]["energy_pJ"]) == pytest.approx(lenet_exact.energy_pJ)
    assert (tmp_path / "r.csv").read_text().startswith("name,")
    df = lenet_exact.to_dataframe()
    assert list(df.index) == zoo.workload("lenet5").names
    comp = lenet_exact.by_component()
    assert comp["share"].sum() == pytest.approx(1.0)
    fig = lenet_exact.plot(tmp_path / "p.png")
    assert len(fig.axes[0].patches) == len(lenet_exact.layers) * len(lenet_exact.component_names)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = lenet_exact.table(per_layer=True)
    assert "conv2" in text and "multiplier" in text and "total" in text


def test_compare_multipliers_reuses_mappings(tmp_path):
    cmp = compare_multipliers("lenet5", ["exact", APPROX], accelerator="eyeriss")
    rows = cmp.rows()
    assert rows[0]["saving_vs_first"] == 0 and rows[1]["saving_vs_first"] > 0
    assert json.loads(cmp.to_json())["comparison"][1]["multiplier"] == cmp.reports[1].multiplier
    cmp.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert "saving" in cmp.table()


def test_errors():
    with pytest.raises(UnknownNameError, match="unknown network 'resnet19'.*resnet18"):
        estimate_energy("resnet19")
    with pytest.raises(UnknownNameError, match="eyeriss"):
        estimate_energy("lenet5", accelerator="tpu")
    with pytest.raises(UnknownNameError, match="unknown multiplier 'no_such_multiplier'.*multipliers list"):
        estimate_energy("lenet5", multiplier="no_such_multiplier")
    with pytest.raises(UnknownNameError, match="did you mean u8_exact"):
        estimate_energy("lenet5", multiplier="u8_exakt")
    with pytest.raises(ApproxDSEError, match="objective"):
        estimate_energy("lenet5", objective="area")
    with pytest.raises(ApproxDSEError, match="one mapping was given for 5 layers"):
        estimate_energy("lenet5", mapping="map.yaml")
    with pytest.raises(ApproxDSEError, match="negative"):
        estimate_energy("lenet5", multiplier=-1.0)


def test_cached_multiplier_swap_equals_a_direct_evaluation():
    from approxdse.accelerators.architecture import load_architecture
    from approxdse.accelerators.mapper import map_layer
    from approxdse.accelerators.model import evaluate

    layer = Layer("c", C=32, M=48, P=14, Q=14, R=3, S=3, pad_h=1, pad_w=1)
    arch = load_architecture("simba")
    estimate_energy(layer, "simba", "exact")  # fills the cache at the exact multiplier
    swapped = estimate_energy(layer, "simba", 0.3).layers[0]
    direct = evaluate(layer, arch, map_layer(layer, arch), multiplier_energy=0.3)
    assert swapped.energy_pJ == pytest.approx(direct.energy_pJ, rel=1e-12)
    for comp, value in direct.components.items():
        assert swapped.components[comp] == pytest.approx(value, rel=1e-12)
    edp = estimate_energy(layer, "simba", 0.3, objective="edp").layers[0]
    assert edp.components["multiplier"] == pytest.approx(direct.components["multiplier"], rel=1e-12)


def test_progress_bar_goes_to_stderr(capsys):
    estimate_energy("resnet20", "eyeriss", progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "resnet20 on eyeriss" in err and "layer" in err


def test_model_version_is_a_stable_content_hash():
    from approxdse.accelerators import estimate

    version = estimate.MODEL_VERSION
    assert version.startswith("energy-") and len(version) == len("energy-") + 12
    from approxdse.accelerators.reference_version import model_version

    assert model_version() == version == estimate.MODEL_VERSION
