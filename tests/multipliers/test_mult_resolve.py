"""One multiplier resolution and one policy for a multiplier without energy, everywhere it is priced."""
import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.multipliers import MissingEnergyError, Multiplier, relative_energy_of, resolve_multiplier

NO_ENERGY = "my_lut_no_energy"


@pytest.fixture
def unpriced(approxdse_home, tmp_path):
    """A user multiplier imported from a LUT file without --relative-energy/--power-mw."""
    lut = multipliers.get("u8_trunc_2").lut
    np.save(tmp_path / "lut.npy", lut)
    m = multipliers.import_multiplier(tmp_path / "lut.npy", NO_ENERGY)
    assert m.relative_energy is None
    return m


def _refuses(call):
    with pytest.raises(MissingEnergyError) as info:
        call()
    msg = str(info.value)
    assert f"multiplier {NO_ENERGY!r} has no energy figure" in msg
    assert "--relative-energy" in msg and "--power-mw" in msg
    return msg


def test_resolve_multiplier_forms(tmp_path):
    m = resolve_multiplier("u8_bam_h2_v6")
    assert isinstance(m, Multiplier) and m.name == "u8_bam_h2_v6"
    assert resolve_multiplier(m) is m
    np.save(tmp_path / "x.npy", m.lut)
    from_file = resolve_multiplier(tmp_path / "x.npy")
    assert np.array_equal(from_file.lut, m.lut) and from_file.name == "x"
    assert resolve_multiplier(str(tmp_path / "x.npy")).name == "x"
    with pytest.raises(UnknownNameError, match="unknown multiplier .u8_bamm."):
        resolve_multiplier("u8_bamm")
    for bad in ("", "  ", 3, None):
        with pytest.raises(ApproxDSEError, match="a multiplier is given by a name, a file or a Multiplier"):
            resolve_multiplier(bad)
    assert relative_energy_of("u8_exact") == 1.0
    assert relative_energy_of(m) == pytest.approx(m.relative_energy)


def test_every_pricer_refuses_a_multiplier_without_energy(unpriced, tmp_path):
    """Reference, predictors and the search's multiplications objective give the same error."""
    from approxdse.accelerators.estimate import estimate_energy
    from approxdse.dse.energy_objective import EnergyObjective
    from approxdse.dse.search_space import Candidate
    from approxdse.networks.genome import BlockGene, Genome, StageGene
    from approxdse.predictors.features import multiplier_feature_vector
    from approxdse.predictors.summing import SummingPredictor

    messages = {
        _refuses(lambda: estimate_energy("lenet5", "eyeriss", NO_ENERGY)),
        _refuses(lambda: estimate_energy("lenet5", "eyeriss", "u8_exact", layer_multipliers={"conv1": NO_ENERGY})),
        _refuses(lambda: multiplier_feature_vector(unpriced)),
        _refuses(lambda: relative_energy_of(unpriced)),
    }
    genome = Genome((1, 8, 8), 10, (StageGene((BlockGene("plain", 16, 3, 2),)),), stem_channels=8)
    cand = Candidate(genome, (NO_ENERGY,))
    for spec in ("multiplications", "reference"):
        messages.add(_refuses(lambda: EnergyObjective(spec, "eyeriss").energy(cand)))
    pred = SummingPredictor()
    pred.accelerator, pred.a, pred.b = "eyeriss", 0.0, 1.0
    messages.add(_refuses(lambda: pred.predict(genome, NO_ENERGY, "eyeriss")))
    assert len(messages) == 1  # one sentence, whoever asks


def test_dataset_refuses_before_writing_anything(unpriced, tmp_path):
    from approxdse.predictors.dataset import generate_dataset, resolve_multiplier_names

    _refuses(lambda: generate_dataset(tmp_path / "d", "eyeriss", "lenet5", f"u8_exact,{NO_ENERGY}", progress=False))
    assert not (tmp_path / "d").exists()
    assert NO_ENERGY not in resolve_multiplier_names("all")  # 'all' means every multiplier it can price


def test_search_space_refuses_a_named_unpriced_multiplier_and_skips_it_in_filters(unpriced, tmp_path):
    from approxdse.dse.config import MultiplierSpace

    _refuses(lambda: MultiplierSpace(names=("u8_exact", NO_ENERGY)).resolve())
    np.save(tmp_path / "priced.npy", multipliers.get("u8_trunc_3").lut)
    multipliers.import_multiplier(tmp_path / "priced.npy", "my_lut_priced", relative_energy=0.5)
    assert MultiplierSpace(families=("lut-file",)).resolve() == ("u8_exact", "my_lut_priced")
