"""The search's energy re-check: out-of-domain or wide-interval predictions go to the reference."""
import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import EnergyConfig
from approxdse.dse.energy_objective import EnergyObjective, reference_energy
from approxdse.dse.search_space import Candidate
from approxdse.networks.genome import Genome
from approxdse.networks.generator import GeneratorSpace, sample_genome


@pytest.fixture(scope="module")
def model_and_genomes(tmp_path_factory):
    from approxdse.predictors import Dataset, LearnedPredictor
    from approxdse.predictors.dataset import generate_dataset

    folder = tmp_path_factory.mktemp("recheck")
    generate_dataset(folder / "data", "eyeriss", "nas-digits:8", "u8_exact,u8_trunc_2", seed=0, progress=False)
    ds = Dataset.load(folder / "data")
    p = LearnedPredictor(n_estimators=30, interval_folds=2).fit(ds, "eyeriss")
    path = folder / "m.json"
    p.save(path)
    trained = [Genome.from_json(g) for g in ds.networks["genome_json"]]
    return path, trained


def test_out_of_domain_candidates_are_priced_by_the_reference(model_and_genomes):
    path, _ = model_and_genomes
    cifar = sample_genome(0, GeneratorSpace.preset("cifar"))  # 32x32 inputs: outside a digits-only domain
    cand = Candidate(cifar, ("u8_trunc_2",))
    obj = EnergyObjective(str(path), "eyeriss", recheck=True)
    got = obj.evaluate(cand)
    assert got.recheck.startswith("out-of-domain: ")
    assert got.energy == pytest.approx(reference_energy(cand, "eyeriss"), rel=1e-12)
    plain = EnergyObjective(str(path), "eyeriss", recheck=False).evaluate(cand)
    assert plain.recheck == "" and plain.energy != got.energy


def test_in_domain_candidates_keep_the_prediction_unless_the_interval_is_wide(model_and_genomes):
    path, trained = model_and_genomes
    cand = Candidate(trained[0], ("u8_trunc_2",))
    kept = EnergyObjective(str(path), "eyeriss", recheck=True, recheck_width=10.0).evaluate(cand)
    model = EnergyObjective(str(path), "eyeriss").model()
    assert kept.recheck == "" and kept.energy == pytest.approx(model.energy(cand.genome.to_workload(), "u8_trunc_2"))
    narrow = EnergyObjective(str(path), "eyeriss", recheck=True, recheck_width=1e-9).evaluate(cand)
    assert narrow.recheck.startswith("wide interval: ")
    assert narrow.energy == pytest.approx(reference_energy(cand, "eyeriss"), rel=1e-12)


def test_models_without_intervals_are_never_rechecked():
    cand = Candidate(sample_genome(1, GeneratorSpace.preset("digits")), ("u8_trunc_2",))
    got = EnergyObjective("multiplications", recheck=True, recheck_width=1e-9).evaluate(cand)
    w = cand.genome.to_workload()
    assert got.recheck == "" and got.energy < w.macs


def test_config_keys():
    assert EnergyConfig().recheck is True and EnergyConfig().recheck_width == 0.25
    with pytest.raises(ApproxDSEError, match="recheck must be true or false"):
        EnergyConfig(recheck="yes")
    with pytest.raises(ApproxDSEError, match="recheck_width"):
        EnergyConfig(recheck_width=0)
