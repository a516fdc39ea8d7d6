"""The EnergyModel protocol: reference, summing, learned and multiplication count answer the same call."""
import math

import pytest

from approxdse.accelerators.estimate import estimate_energy
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import BUILTIN_ENERGY_MODELS
from approxdse.dse.energy_objective import MODELS, EnergyObjective, reference_energy
from approxdse.dse.search_space import Candidate
from approxdse.multipliers import relative_energy_of
from approxdse.networks.genome import BlockGene, Genome, StageGene
from approxdse.predictors.energy_model import EnergyModel, MultiplicationCount, ReferenceModel
from approxdse.predictors.learned import LearnedPredictor
from approxdse.predictors.summing import SummingPredictor

GENOME = Genome((1, 8, 8), 10, (StageGene((BlockGene("plain", 16, 3, 2), BlockGene("residual", 16, 3, 1))),),
                stem_channels=8)
MULTS = ("u8_exact", "u8_bam_h2_v6", "u8_trunc_2")


def _per_layer(workload):
    return [MULTS[i % len(MULTS)] for i in range(len(workload.layers))]


def test_every_model_is_an_energy_model(small_dataset_dir):
    models = [MultiplicationCount(), ReferenceModel("eyeriss"), SummingPredictor().fit(small_dataset_dir, "eyeriss"),
              LearnedPredictor(kind="hgb", n_estimators=20).fit(small_dataset_dir, "eyeriss")]
    workload = GENOME.to_workload()
    for model in models:
        assert isinstance(model, EnergyModel)
        assert model.unit in ("pJ", "exact multiplications") and model.name
        one = model.energy(workload, "u8_bam_h2_v6")
        per_layer = model.energy(workload, _per_layer(workload))
        assert math.isfinite(one) and math.isfinite(per_layer) and one != per_layer
    summing, learned = models[2], models[3]
    for pred in (summing, learned):
        assert pred.energy(workload, "u8_trunc_2") == pytest.approx(float(pred.predict([workload], ["u8_trunc_2"])[0]))
        layers = _per_layer(workload)
        assert pred.energy(workload, layers) == pytest.approx(float(pred.predict(workload, [layers])[0]))


def test_multiplication_count_and_reference_values():
    workload = GENOME.to_workload()
    layers = _per_layer(workload)
    expected = sum(layer.macs * relative_energy_of(m) for layer, m in zip(workload.layers, layers))
    assert MultiplicationCount().energy(workload, layers) == pytest.approx(expected)
    assert MultiplicationCount().energy(workload, "u8_exact") == workload.macs
    ref = ReferenceModel("eyeriss")
    assert ref.energy(workload, "u8_trunc_2") == estimate_energy(workload, "eyeriss", "u8_trunc_2").energy_pJ
    by_name = dict(zip(workload.names, layers))
    assert ref.energy(workload, layers) == pytest.approx(
        estimate_energy(workload, "eyeriss", layers[0], layer_multipliers=by_name).energy_pJ)
    with pytest.raises(ApproxDSEError, match="layers but 2 multipliers were given"):
        ref.energy(workload, ["u8_exact", "u8_exact"])


def test_the_objective_builds_its_model_from_the_config_name():
    assert set(MODELS) == set(BUILTIN_ENERGY_MODELS)
    assert EnergyObjective("multiplications").unit == "exact multiplications"
    assert EnergyObjective("reference").unit == EnergyObjective("summing").unit == EnergyObjective("x.json").unit == "pJ"
    assert isinstance(EnergyObjective("reference", "simba").model(), ReferenceModel)
    assert EnergyObjective("reference", "simba").model().accelerator == "simba"
    assert isinstance(EnergyObjective("multiplications").model(), MultiplicationCount)
    with pytest.raises(ApproxDSEError, match="energy.predictor file 'nope.json' does not exist"):
        EnergyObjective("nope.json").energy(Candidate(GENOME, ("u8_exact",)))


def test_objective_energy_is_the_model_energy_per_layer_too(small_dataset_dir, tmp_path):
    workload = GENOME.to_workload()
    n = len(GENOME.conv_specs())
    single = Candidate(GENOME, ("u8_trunc_2",))
    mixed = Candidate(GENOME, tuple(MULTS[i % 3] for i in range(n)))
    assert mixed.per_layer
    layer_list = [mixed.layer_multipliers()[layer.name] for layer in workload.layers]
    ref = ReferenceModel("eyeriss")
    assert EnergyObjective("reference").energy(mixed) == ref.energy(workload, layer_list) == reference_energy(mixed, "eyeriss")
    assert EnergyObjective("multiplications").energy(single) == MultiplicationCount().energy(workload, "u8_trunc_2")
    pred = SummingPredictor().fit(small_dataset_dir, "eyeriss")
    pred.save(tmp_path / "p.json")
    objective = EnergyObjective(str(tmp_path / "p.json"))
    assert objective.name == "p.json"
    assert objective.energy(mixed) == pytest.approx(pred.energy(workload, layer_list))
