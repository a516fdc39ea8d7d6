"""Small CNNs for accuracy evaluation, and a registry ``get_model(name, dataset)``.

* ``lenet5``: LeNet-5 (LeCun et al. 1998) with ReLU and max pooling. On 28x28
  or 32x32 inputs it is the classic 5x5-kernel network (6 and 16 channels,
  fully connected 120-84-classes); on small inputs such as the 8x8 digits it
  uses 3x3 kernels with padding 1 so that two conv+pool stages still fit
  (8 -> 4 -> 2).
* ``resnet8`` / ``resnet20``: the CIFAR ResNets of He et al. (2016), 6n+2 layers
  with n = 1 / 3 basic blocks per stage, 16-32-64 channels, batch norm, global
  average pooling, parameter-free shortcuts (subsample + zero-padded channels,
  the paper's "option A" for CIFAR; no multiplications outside the convs).

Each network is defined once, as a zoo spec (:mod:`approxdse.networks.zoo`), so the
module trained here and the workload priced by the energy model are the same
network: tracing ``get_model("resnet20", "cifar10")`` gives ``zoo.workload("resnet20")``.

* ``lstm_digits`` / ``gru_digits``: an image read as a sequence of its rows
  (8 rows of 8 features for the digits), a 2-layer LSTM / GRU with 64 hidden
  units, and a linear classifier on the last step's output.

Every model maps images [N, C, H, W] to logits [N, classes] and is built only
from ``Conv2d``, ``Linear``, ``BatchNorm2d``, ``LSTM``/``GRU``, ReLU, pooling and
flatten, all of which :func:`approxdse.emulator.approximate` handles.

>>> from approxdse.networks.torch_models import get_model
>>> net = get_model("lenet5", "digits")
>>> import torch
>>> tuple(net(torch.zeros(2, 1, 8, 8)).shape)
(2, 10)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.networks import zoo
from approxdse.networks.dataset_shapes import DatasetInfo, dataset_info


def lenet5(in_channels: int = 1, num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """LeNet-5 with ReLU: conv-pool-conv-pool-fc120-fc84-fc(classes), built from the zoo's
    one definition (:func:`approxdse.networks.zoo.lenet5_spec`; the kernels follow ``input_size``)."""
    return zoo.module_from_spec(zoo.lenet5_spec(input_size, num_classes), (in_channels, input_size, input_size))


def cifar_resnet(depth: int = 20, in_channels: int = 3, num_classes: int = 10, input_size: int = 32) -> nn.Module:
    """ResNet-(6n+2) for small images, built from the zoo's one definition
    (:func:`approxdse.networks.zoo.resnet_cifar_spec`: 16-32-64 channels, option-A shortcuts)."""
    return zoo.module_from_spec(zoo.resnet_cifar_spec(depth, num_classes), (in_channels, input_size, input_size))


class RowRecurrent(nn.Module):
    """Reads an image [N, C, H, W] as H time steps of C*W features with a stacked
    ``nn.LSTM``/``nn.GRU`` (``rnn``, batch first) and classifies the last step's output (``fc``)."""

    def __init__(self, cell: str = "lstm", features: int = 8, num_classes: int = 10, hidden: int = 64,
                 layers: int = 2) -> None:
        super().__init__()
        kinds = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell not in kinds:
            raise ApproxDSEError(f"recurrent cell must be one of {', '.join(kinds)}, got {cell!r}")
        self.rnn = kinds[cell](features, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        out, _ = self.rnn(x.permute(0, 2, 1, 3).reshape(n, h, c * w))
        return self.fc(out[:, -1])


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: its builder and training defaults (epochs, learning rate)."""

    name: str
    build: Callable[[DatasetInfo], nn.Module]
    description: str
    default_epochs: int
    lr: float
    batch_size: int


MODELS: dict[str, ModelSpec] = {
    "lenet5": ModelSpec(
        "lenet5",
        lambda info: lenet5(info.channels, info.num_classes, info.size),
        "LeNet-5 (ReLU, max pooling); 3x3 kernels on 8x8 digits",
        default_epochs=30, lr=2e-3, batch_size=64,
    ),
    "resnet8": ModelSpec(
        "resnet8",
        lambda info: cifar_resnet(8, info.channels, info.num_classes, info.size),
        "ResNet-8 (He et al. 2016, CIFAR variant, parameter-free shortcuts)",
        default_epochs=30, lr=2e-3, batch_size=128,
    ),
    "resnet20": ModelSpec(
        "resnet20",
        lambda info: cifar_resnet(20, info.channels, info.num_classes, info.size),
        "ResNet-20 (He et al. 2016, CIFAR variant, parameter-free shortcuts)",
        default_epochs=30, lr=2e-3, batch_size=128,
    ),
    "lstm_digits": ModelSpec(
        "lstm_digits",
        lambda info: RowRecurrent("lstm", info.channels * info.size, info.num_classes),
        "2-layer LSTM (64 hidden) over the image rows (8 rows of 8 features on digits)",
        default_epochs=30, lr=5e-3, batch_size=64,
    ),
    "gru_digits": ModelSpec(
        "gru_digits",
        lambda info: RowRecurrent("gru", info.channels * info.size, info.num_classes),
        "2-layer GRU (64 hidden) over the image rows (8 rows of 8 features on digits)",
        default_epochs=30, lr=5e-3, batch_size=64,
    ),
}

_ALIASES = {"lenet": "lenet5", "lenet-5": "lenet5", "resnet-8": "resnet8", "resnet-20": "resnet20"}


def model_names() -> list[str]:
    """Names accepted by :func:`get_model`."""
    return list(MODELS)


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name`` (case-insensitive)."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in MODELS:
        raise UnknownNameError(f"unknown network {name!r}; known: {', '.join(MODELS)}")
    return MODELS[key]


def get_model(name: str, dataset: str = "digits", *, seed: int | None = None) -> nn.Module:
    """Build network ``name`` shaped for ``dataset`` (its channels, image size and classes).

    With ``seed`` the initial weights are reproducible (``torch.manual_seed(seed)``
    just before construction; the global RNG state is restored afterwards).
    """
    spec = model_spec(name)
    info = dataset_info(dataset)
    if seed is None:
        return spec.build(info)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.build(info)
