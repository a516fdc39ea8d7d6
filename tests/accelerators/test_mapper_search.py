"""Mapper behaviour: determinism, caching, objectives, grouped/fc layers, no legal mapping."""
import textwrap

import numpy as np
import pytest

from approxdse.accelerators.architecture import load_architecture
from approxdse.accelerators.mapper import clear_cache, map_layer, map_layer_with_stats
from approxdse.accelerators.nest_analysis import layer_dims
from approxdse.accelerators.model import check_mapping, evaluate
from approxdse.networks.workload import Layer
from approxdse.core.errors import ApproxDSEError

CONV = Layer("c", C=64, M=128, P=28, Q=28, R=3, S=3, stride_h=2, stride_w=2, pad_h=1, pad_w=1)


def test_deterministic_and_cached(approxdse_home):
    arch = load_architecture("eyeriss")
    clear_cache()
    m1, n1 = map_layer_with_stats(CONV, arch)
    m2, n2 = map_layer_with_stats(Layer("other-name", **{k: v for k, v in CONV.to_dict().items() if k != "name"}), arch)
    assert n1 > 100 and n2 == 0 and m1 == m2
    clear_cache()
    m3, _ = map_layer_with_stats(CONV, arch)
    assert m3 == m1


@pytest.mark.parametrize("arch_name", ["eyeriss", "simba"])
def test_objectives(arch_name):
    arch = load_architecture(arch_name)
    res = {o: evaluate(CONV, arch, map_layer(CONV, arch, objective=o)) for o in ("energy", "edp", "latency")}
    assert res["energy"].energy_pJ <= res["edp"].energy_pJ * (1 + 1e-9)
    assert res["latency"].cycles <= res["edp"].cycles
    assert res["edp"].energy_pJ * res["edp"].cycles <= res["energy"].energy_pJ * res["energy"].cycles * (1 + 1e-9)
    for r in res.values():
        check_mapping(CONV, arch, r.mapping)
        assert r.macs == CONV.macs and 0 < r.utilization <= 1
        assert r.cycles * r.utilization * arch.num_macs >= CONV.macs * (1 - 1e-9)  # bandwidth may stretch


def test_mapping_factors_multiply_to_layer():
    arch = load_architecture("simba")
    m = map_layer(CONV, arch)
    bounds, _ = m.to_arrays(arch)
    assert list(bounds.prod(axis=0)) == list(layer_dims(CONV).values())
    text = m.to_text(arch)
    assert text.splitlines()[0].startswith("DRAM") and "for " in text


@pytest.mark.parametrize("layer", [
    Layer("dw", C=96, M=96, P=28, Q=28, R=3, S=3, groups=96, pad_h=1, pad_w=1),
    Layer("grouped", C=64, M=128, P=14, Q=14, R=3, S=3, groups=4, pad_h=1, pad_w=1),
    Layer("fc", C=512, M=1000, kind="fc"),
    Layer("batch", C=16, M=32, P=8, Q=8, R=3, S=3, N=4, pad_h=1, pad_w=1),
])
@pytest.mark.parametrize("arch_name", ["eyeriss", "simba"])
def test_grouped_fc_and_batch_layers(layer, arch_name):
    arch = load_architecture(arch_name)
    res = evaluate(layer, arch, map_layer(layer, arch))
    assert res.macs == layer.macs
    assert np.isfinite(res.energy_pJ) and res.energy_pJ > layer.macs * arch.compute.energy.mac
    # every weight is read from DRAM at least once, every output written at least once
    dram = res.accesses
    assert dram[("DRAM", "Weights")]["reads"] >= layer.weights
    assert dram[("DRAM", "Outputs")]["updates"] >= layer.outputs


def test_energy_mapping_independent_of_multiplier():
    arch = load_architecture("eyeriss")
    m = map_layer(CONV, arch)
    exact = evaluate(CONV, arch, m)
    approx = evaluate(CONV, arch, m, multiplier_energy=0.3)
    assert exact.energy_pJ - approx.energy_pJ == pytest.approx(0.7 * exact.components["multiplier"])
    with pytest.raises(ApproxDSEError, match="multiplier_energy"):
        evaluate(CONV, arch, m, multiplier_energy=-1)


def test_no_legal_mapping_names_the_constraint(tmp_path):
    p = tmp_path / "narrow.yaml"
    p.write_text(textwrap.dedent("""\
        architecture:
          name: narrow
          technology: 45nm
          levels:
            - {name: DRAM, type: storage, class: DRAM, width: 64, datawidth: 8,
               keep: [Weights, Inputs, Outputs], factors: {R: 1}}
            - {name: pes, type: spatial, meshX: 2, allowed: [R]}
            - {name: rf, type: storage, class: regfile, depth: 4, width: 8, datawidth: 8, keep: [Weights],
               factors: {R: 1}}
          compute: {multiplier_width: 8, adder_width: 16}
        """))
    arch = load_architecture(str(p))
    with pytest.raises(ApproxDSEError, match="R"):
        map_layer(Layer("r3", C=4, M=4, P=4, Q=4, R=3, S=1), arch)


def test_unknown_objective():
    with pytest.raises(ApproxDSEError, match="objective"):
        map_layer(CONV, load_architecture("eyeriss"), objective="area")
