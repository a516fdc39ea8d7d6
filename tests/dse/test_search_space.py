"""The mixed-variable encoding of genomes and multiplier choices."""
import numpy as np
import pytest

from approxdse.networks.generator import GeneratorSpace, in_space, sample_genome
from approxdse.dse.search_space import Candidate, SearchSpace

MULTS = ("u8_exact", "u8_bam_h2_v6", "u8_trunc_2")


@pytest.fixture(params=["network", "layer"])
def space(request):
    gen = GeneratorSpace.preset("digits", max_stages=3, max_blocks_per_stage=2, max_channels=128)
    return SearchSpace(gen, MULTS, request.param)


def test_decode_encode_round_trip(space):
    rng = np.random.default_rng(0)
    for _ in range(100):
        x = space.sample(rng)
        cand = space.decode(x)
        assert set(x) == set(space.variables())
        assert space.decode(space.encode(cand)) == cand
        assert space.canonical(space.encode(cand)) == space.encode(cand)
        n_layers = len(cand.genome.conv_specs())
        assert len(cand.multipliers) == (1 if space.assignment == "network" else n_layers)
        assert set(cand.layer_multipliers()) == {s.name for s in cand.genome.conv_specs()}


def test_inactive_variables_do_not_change_the_candidate(space):
    x = space.sample(np.random.default_rng(1))
    x["n_stages"] = 1
    y = dict(x)
    y["s2_width"] = 0 if x["s2_width"] else 1
    y["s2_kind"] = "plain" if x["s2_kind"] != "plain" else "residual"
    assert space.decode(x) == space.decode(y)
    assert space.canonical(x) == space.canonical(y)


def test_generator_genomes_encode_exactly():
    gen = GeneratorSpace.preset("digits", max_channels=128)
    space = SearchSpace(gen, MULTS)
    hits = 0
    for seed in range(30):
        g = sample_genome(seed, gen)
        if all(s.blocks[0].out_channels in space.channels for s in g.stages) and g.stem_channels in space.channels:
            assert space.decode(space.encode(g, "u8_trunc_2")).genome == g
            hits += 1
    assert hits >= 5


def test_repair_brings_networks_into_bounds():
    gen = GeneratorSpace.preset("digits", max_conv_layers=6, min_output_size=2)
    space = SearchSpace(gen, MULTS)
    rng = np.random.default_rng(2)
    inside = [space.decode(space.sample(rng)) for _ in range(200)]
    assert all(c.genome.num_conv_layers <= 6 for c in inside)
    assert all(min(c.genome.output_hw) >= 2 for c in inside)
    assert np.mean([c.in_space for c in inside]) > 0.95
    assert all(c.in_space == in_space(c.genome, gen) for c in inside)


def test_candidate_keys_and_labels():
    gen = GeneratorSpace.preset("digits")
    g = sample_genome(0, gen)
    a, b = Candidate(g, ("u8_exact",)), Candidate(g, ("u8_trunc_2",))
    assert a.key() != b.key() and a.key() == Candidate.from_dict(a.to_dict()).key()
    n = len(g.conv_specs())
    mixed = Candidate(g, ("u8_exact",) * (n - 1) + ("u8_trunc_2",))
    assert mixed.multiplier_label == "mixed(u8_exact, u8_trunc_2)"
    assert mixed.layer_multipliers()["classifier"] == "u8_trunc_2"
