"""Zoo and genome networks are module-level torch classes: they pickle and deep-copy.

The pickle round trip below only proves picklability (what multiprocessing spawn and
``copy.deepcopy`` need); approxdse itself never loads pickles.
"""
import copy
import pickle

import pytest

torch = pytest.importorskip("torch")

from approxdse.networks import torch_modules, zoo  # noqa: E402
from approxdse.networks.generator import sample_genome  # noqa: E402
from approxdse.networks.tracing import workload_from_module  # noqa: E402


def _round_trips(module, x):
    module.eval()
    want = module(x)
    for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
        assert type(clone) is type(module)
        assert torch.equal(clone.eval()(x), want)


@pytest.mark.parametrize("name", ["resnet20", "lenet5_digits", "mobilenet_v2"])
def test_zoo_module_pickles(name):
    shape = zoo.entry(name).input_shape
    if name == "mobilenet_v2":
        shape = (1, 3, 32, 32)
    net = zoo.module(name, shape)
    assert type(net).__module__ == torch_modules.__name__
    _round_trips(net, torch.rand(2, *shape[1:], generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("seed", [0, 3])
def test_genome_module_pickles(seed):
    genome = sample_genome(seed, "digits")
    net = genome.to_module()
    assert isinstance(net, torch_modules.GenomeNet)
    _round_trips(net, torch.rand(2, *genome.input_shape, generator=torch.Generator().manual_seed(1)))
    # the copy still describes the same network
    assert workload_from_module(copy.deepcopy(net), (1, *genome.input_shape)).layers == genome.to_workload().layers
