"""An example network file for ``approxdse energy examples/my_net.py:build``.

Any Python file with a function that returns a ``torch.nn.Module`` works; the
module is traced with ``--input-shape`` (else this file's ``INPUT_SHAPE``).
"""
from torch import nn

INPUT_SHAPE = (1, 3, 32, 32)


def build() -> nn.Module:
    """A small CIFAR-sized CNN: two conv blocks, a depthwise-separable block and a classifier."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1, groups=64), nn.Conv2d(64, 128, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10),
    )
