"""``granularity: channel``: multipliers per resilience-ranked channel group, encoded, priced, evaluated."""
import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import ConstraintConfig, DatasetConfig, SpaceConfig, TrainingConfig
from approxdse.dse.energy_objective import EnergyObjective, reference_energy
from approxdse.dse.evaluation import EvaluationSettings, evaluate_group
from approxdse.dse.search_space import Candidate, SearchSpace, channel_group_sizes
from approxdse.networks.generator import GeneratorSpace
from approxdse.networks.genome import BlockGene, Genome, StageGene

MULTS = ("u8_exact", "u8_bam_h2_v6", "u8_trunc_2")
GENOME = Genome((1, 8, 8), 10, (StageGene((BlockGene("plain", 16, 3, 2),)),), stem_channels=8)


@pytest.fixture(params=["network", "layer"])
def space(request):
    gen = GeneratorSpace.preset("digits", max_stages=2, max_blocks_per_stage=2, max_channels=64)
    return SearchSpace(gen, MULTS, request.param, "channel", 3)


def test_group_sizes():
    assert channel_group_sizes(10, 3) == [3, 3, 4] and channel_group_sizes(2, 4) == [0, 1, 0, 1]
    assert sum(channel_group_sizes(97, 5)) == 97


def test_channel_variables_round_trip(space):
    rng = np.random.default_rng(0)
    names = set(space.variables())
    assert ({"mult_g0", "mult_g1", "mult_g2"} <= names) == (space.assignment == "network")
    assert ({"m_stem_g0", "m_classifier_g2"} <= names) == (space.assignment == "layer")
    for _ in range(40):
        x = space.sample(rng)
        cand = space.decode(x)
        assert cand.channel_groups == 3
        n_layers = len(cand.genome.conv_specs())
        assert len(cand.multipliers) == (3 if space.assignment == "network" else 3 * n_layers)
        assert space.decode(space.encode(cand)) == cand
        widths = {l.name: l.M for l in cand.genome.to_workload().layers}
        per_channel = cand.layer_multipliers()
        assert {n: len(v) for n, v in per_channel.items()} == widths
        assert Candidate.from_dict(cand.to_dict()) == cand
    other = Candidate(cand.genome, cand.multipliers[:3] * (len(cand.multipliers) // 3))
    assert other.key() != cand.key()  # the grouping is part of the cache key


def test_config_validates_granularity():
    assert SpaceConfig(granularity="channel", channel_groups=2).channel_groups == 2
    with pytest.raises(ApproxDSEError, match="granularity"):
        SpaceConfig(granularity="kernel")
    with pytest.raises(ApproxDSEError, match="channel_groups"):
        SpaceConfig(granularity="channel", channel_groups=0)


def test_channel_candidates_are_priced_channel_weighted():
    cand = Candidate(GENOME, ("u8_exact", "u8_trunc_2"), True, 2)
    w = GENOME.to_workload()
    rel = {m: multipliers.get(m).relative_energy for m in MULTS}
    want = sum(l.macs * (sum(channel_group_sizes(l.M, 2)[k] * rel[("u8_exact", "u8_trunc_2")[k]]
                             for k in range(2)) / l.M) for l in w.layers)
    assert EnergyObjective("multiplications").energy(cand) == pytest.approx(want)
    exact = reference_energy(Candidate(GENOME, ("u8_exact",)), "eyeriss")
    trunc = reference_energy(Candidate(GENOME, ("u8_trunc_2",)), "eyeriss")
    assert trunc < reference_energy(cand, "eyeriss") < exact


def test_channel_candidate_evaluation(tmp_path):
    settings = EvaluationSettings(DatasetConfig("digits", max_train_samples=600, max_validation_samples=200),
                                  TrainingConfig(epochs=3, batch_size=64, learning_rate=0.02), "multiplications",
                                  "eyeriss", ConstraintConfig(), str(tmp_path / "w"))
    exact = Candidate(GENOME, ("u8_exact",))
    uniform = Candidate(GENOME, ("u8_exact", "u8_exact"), True, 2)
    mixed = Candidate(GENOME, ("u8_bam_h2_v6", "u8_exact"), True, 2)
    rows = evaluate_group(settings, [c.to_dict() for c in (exact, uniform, mixed)])
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert rows[0]["accuracy"] == rows[1]["accuracy"]  # all-exact groups = the exact network
    assert rows[2]["energy"] < rows[1]["energy"]
