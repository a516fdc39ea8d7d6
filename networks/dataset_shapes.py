"""What a network needs to know about an image dataset: its image shape and classes.

The emulator's loaders (:mod:`approxdse.emulator.datasets`) read the images; the
model registry (:mod:`approxdse.networks.torch_models`) only needs these facts to
shape a network, so they live here, below both.
"""
from __future__ import annotations

from dataclasses import dataclass

from approxdse.core.errors import UnknownNameError


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset: image shape and number of classes."""

    name: str
    channels: int
    size: int
    num_classes: int
    needs_directory: bool
    description: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", 1, 8, 10, False, "scikit-learn's bundled 8x8 handwritten digits"),
    "mnist": DatasetInfo("mnist", 1, 28, 10, True, "MNIST handwritten digits, 28x28, from IDX files"),
    "cifar10": DatasetInfo("cifar10", 3, 32, 10, True, "CIFAR-10, 32x32 colour, from its binary version"),
}

_ALIASES = {"cifar-10": "cifar10", "cifar": "cifar10"}


def dataset_names() -> list[str]:
    """Names accepted by :func:`approxdse.emulator.datasets.load_dataset`."""
    return list(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name`` (case-insensitive), or :class:`UnknownNameError`."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise UnknownNameError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]
