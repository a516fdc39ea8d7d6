"""The random CNN generator: determinism, bounds, variety."""
import collections

import numpy as np
import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.generator import GeneratorSpace, in_space, sample_genome, sample_genomes


def test_same_seed_same_genome_different_seed_different_genome():
    space = GeneratorSpace.preset("cifar")
    assert sample_genome(42, space) == sample_genome(42, space)
    assert sample_genomes(20, seed=5) == sample_genomes(20, seed=5)
    assert sample_genomes(20, seed=5) != sample_genomes(20, seed=6)
    rng = np.random.default_rng(3)
    a = [sample_genome(rng, space) for _ in range(3)]
    rng = np.random.default_rng(3)
    assert a == [sample_genome(rng, space) for _ in range(3)]


@pytest.mark.parametrize("preset,shape", [("digits", (1, 8, 8)), ("cifar", (3, 32, 32)), ("imagenet", (3, 224, 224))])
def test_bounds_and_variety(preset, shape):
    space = GeneratorSpace.preset(preset)
    genomes = sample_genomes(150, seed=11, space=space)
    assert len({g.key() for g in genomes}) == 150
    depths = [g.num_conv_layers for g in genomes]
    assert min(depths) >= 2 and max(depths) <= 30
    assert max(depths) >= 20 and min(depths) <= 6  # the whole depth range is reached
    kinds = collections.Counter(b.kind for g in genomes for b in g.blocks)
    assert set(kinds) == {"plain", "residual", "bottleneck", "dwsep"}
    kernels = {b.kernel for g in genomes for b in g.blocks}
    assert kernels == {1, 3, 5, 7}
    assert {b.stride for g in genomes for b in g.blocks} == {1, 2}
    channels = [l.M for g in genomes for l in g.to_workload().layers if l.kind == "conv"]
    assert min(channels) >= 8 and max(channels) <= 512 * 6  # dwsep hidden width = in * expansion
    assert all(g.input_shape == shape and in_space(g, space) for g in genomes)
    assert all(8 <= b.out_channels <= 512 for g in genomes for b in g.blocks)


def test_space_round_trip_and_overrides():
    space = GeneratorSpace.preset("cifar", max_conv_layers=8, block_kinds=("plain", "dwsep"))
    assert GeneratorSpace.from_dict(space.to_dict()) == space
    assert GeneratorSpace.from_dict({"preset": "cifar", "max_conv_layers": 8, "block_kinds": ["plain", "dwsep"]}) == space
    for g in sample_genomes(30, seed=1, space=space):
        assert g.num_conv_layers <= 8
        assert {b.kind for b in g.blocks} <= {"plain", "dwsep"}


@pytest.mark.parametrize(
    "call",
    [
        lambda: GeneratorSpace.preset("mnist"),
        lambda: GeneratorSpace(min_conv_layers=10, max_conv_layers=5),
        lambda: GeneratorSpace(block_kinds=("plain", "transformer")),
        lambda: GeneratorSpace(kernels=(2, 3)),
        lambda: GeneratorSpace.from_dict({"depth": 3}),
        lambda: sample_genome(-1),
        lambda: sample_genomes(-2),
    ],
)
def test_bad_space_raises(call):
    with pytest.raises(ApproxDSEError):
        call()
