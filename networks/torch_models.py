"""Small CNNs for accuracy evaluation, and a registry ``get_model(name, dataset)``.

* ``lenet5``: LeNet-5 (LeCun et al. 1998) with ReLU and max pooling. On 28x28
  or 32x32 inputs it is the classic 5x5-kernel network (6 and 16 channels,
  fully connected 120-84-classes); on small inputs such as the 8x8 digits it
  uses 3x3 kernels with padding 1 so that two conv+pool stages still fit
  (8 -> 4 -> 2).
* ``resnet8`` / ``resnet20``: the CIFAR ResNets of He et al. (2016), 6n+2 layers
  with n = 1 / 3 basic blocks per stage, 16-32-64 channels, batch norm, global
  average pooling. Where a block changes shape its shortcut is a 1x1 conv + BN
  projection (the "option B" of the paper, as in the Keras ResNet v1 recipe that
  ALWANN/TFApprox's ResNet-8 uses), so every multiplication is a conv the
  emulator sees.

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
from approxdse.emulator.datasets import DatasetInfo, dataset_info


class LeNet5(nn.Module):
    """LeNet-5 with ReLU: conv-pool-conv-pool-fc120-fc84-fc(classes).

    ``input_size`` picks the kernels: 5x5 (padding 2 on 28x28 MNIST, so that
    the classic 16x5x5 feature map feeds the first fully connected layer) for
    inputs of 20 pixels or more, 3x3 with padding 1 below that.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28) -> None:
        super().__init__()
        if input_size < 4:
            raise ApproxDSEError(f"LeNet-5 needs inputs of at least 4x4 pixels, got {input_size}x{input_size}")
        if input_size >= 20:
            k, pad1 = 5, 2 if input_size < 32 else 0
            pad2 = 0
        else:
            k, pad1, pad2 = 3, 1, 1
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, k, padding=pad1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, k, padding=pad2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        side = input_size + 2 * pad1 - k + 1
        side = (side // 2 + 2 * pad2 - k + 1) // 2
        if side < 1:
            raise ApproxDSEError(f"LeNet-5 cannot shrink a {input_size}x{input_size} input through two stages")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN layers with a residual connection (projection when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for small images: a 3x3 stem, three stages of ``n`` basic blocks
    (16, 32, 64 channels; the 2nd and 3rd stages halve the resolution), global average
    pooling and a linear classifier."""

    def __init__(self, depth: int = 20, in_channels: int = 3, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ApproxDSEError(f"a CIFAR ResNet has depth 6n+2 (8, 14, 20, 32...), got {depth}")
        n = (depth - 2) // 6
        self.depth = depth
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        channels = width
        for stage, out_channels in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(channels, out_channels, stride))
                channels = out_channels
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


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
        lambda info: LeNet5(info.channels, info.num_classes, info.size),
        "LeNet-5 (ReLU, max pooling); 3x3 kernels on 8x8 digits",
        default_epochs=30, lr=2e-3, batch_size=64,
    ),
    "resnet8": ModelSpec(
        "resnet8",
        lambda info: CifarResNet(8, info.channels, info.num_classes),
        "ResNet-8 (He et al. 2016, CIFAR variant, 1x1 projection shortcuts)",
        default_epochs=30, lr=2e-3, batch_size=128,
    ),
    "resnet20": ModelSpec(
        "resnet20",
        lambda info: CifarResNet(20, info.channels, info.num_classes),
        "ResNet-20 (He et al. 2016, CIFAR variant, 1x1 projection shortcuts)",
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
