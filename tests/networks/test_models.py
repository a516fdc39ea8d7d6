"""The model registry: shapes per dataset, published parameter counts, seeded construction."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.emulator.datasets import DATASETS
from approxdse.networks import torch_modules, zoo
from approxdse.networks.torch_models import get_model, model_names
from approxdse.networks.tracing import workload_from_module

SUPPORTED = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
             nn.Identity, nn.Sequential, torch_modules.PadShortcutModule)


@pytest.mark.parametrize("network", ["lenet5", "resnet8", "resnet20"])
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_network_fits_every_dataset(network, dataset):
    info = DATASETS[dataset]
    model = get_model(network, dataset, seed=0)
    out = model(torch.randn(3, *info.input_shape))
    assert out.shape == (3, info.num_classes)
    assert torch.isfinite(out).all()
    leaf_types = {type(m) for m in model.modules() if not list(m.children())}
    assert all(issubclass(t, SUPPORTED) for t in leaf_types), leaf_types


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_published_architectures():
    # LeNet-5 on 28x28 (padded to 32x32 in the original): 61,706 parameters with a 10-way output
    assert num_params(get_model("lenet5", "mnist")) == 61706
    # ResNet-20 for CIFAR-10: 0.27M parameters (He et al. 2016, Table 6)
    assert 0.26e6 < num_params(get_model("resnet20", "cifar10")) < 0.28e6
    assert 0.07e6 < num_params(get_model("resnet8", "cifar10")) < 0.09e6


def test_resnet_depth_counts_weighted_layers():
    for depth in (8, 20):
        model = get_model(f"resnet{depth}", "cifar10")
        main_convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and "shortcut" not in n]
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        assert len(main_convs) + len(linears) == depth
    with pytest.raises(ApproxDSEError, match="depth 6n\\+2"):
        zoo.resnet_cifar_spec(10)


def test_digits_lenet_uses_small_kernels():
    model = get_model("lenet5", "digits")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3), (3, 3)]
    assert model.get_submodule("classifier.1").in_features == 16 * 2 * 2
    with pytest.raises(ApproxDSEError, match="at least 4x4"):
        zoo.lenet5_spec(3)


def test_seeded_construction_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = get_model("resnet8", "cifar10", seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)  # the global generator was not advanced
    b = get_model("resnet8", "cifar10", seed=7)
    c = get_model("resnet8", "cifar10", seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_unknown_names():
    assert model_names() == ["lenet5", "resnet8", "resnet20", "lstm_digits", "gru_digits"]
    assert isinstance(get_model("LeNet-5", "digits"), torch_modules.SpecSequential)
    with pytest.raises(UnknownNameError, match="unknown network 'vgg16'; known: lenet5, resnet8, resnet20"):
        get_model("vgg16", "digits")
    with pytest.raises(UnknownNameError, match="unknown dataset"):
        get_model("lenet5", "svhn")


@pytest.mark.parametrize("network, dataset, zoo_name", [
    ("lenet5", "digits", "lenet5_digits"),
    ("lenet5", "cifar10", "lenet5"),  # 32x32 inputs: LeCun's layer sizes (the zoo's lenet5 is 1x32x32)
    ("resnet8", "cifar10", "resnet8"),
    ("resnet20", "cifar10", "resnet20"),
])
def test_trained_models_are_the_zoo_networks(network, dataset, zoo_name):
    """One definition per network: the traced torch model is the zoo's workload, layer for layer."""
    info = DATASETS[dataset]
    traced = workload_from_module(get_model(network, dataset, seed=0), (1, *info.input_shape))
    want = zoo.workload(zoo_name, (1, *info.input_shape))  # the first conv reads the dataset's channels
    assert traced.layers == want.layers
