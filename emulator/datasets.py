"""Image-classification datasets for accuracy evaluation: digits, MNIST, CIFAR-10.

Every loader returns a :class:`DatasetSplits`: normalised float32
``TensorDataset`` train / validation / test splits plus what is needed to
normalise new images the same way. The splits unpack like a tuple::

    >>> from approxdse.emulator.datasets import load_dataset
    >>> data = load_dataset("digits")
    >>> train, val, test = data
    >>> tuple(train.tensors[0].shape[1:]), data.num_classes
    ((1, 8, 8), 10)

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images), the
  offline default. Split with a fixed seed, stratified: 20% test, then 10% of
  the rest for validation.
* ``mnist``: the four IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) in a directory the user
  gives. The last 10% of a seeded permutation of the training set validates.
* ``cifar10``: the binary version (``data_batch_1.bin`` ... ``data_batch_5.bin``,
  ``test_batch.bin``; records of 1 label byte + 3,072 pixel bytes) in a directory
  the user gives (or its ``cifar-10-batches-bin`` sub-directory).

Pixels are scaled to [0, 1] and normalised per channel with the training
split's mean and standard deviation. Missing or corrupt files raise
:class:`~approxdse.core.errors.ApproxDSEError` with one sentence naming them.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.dataset_shapes import (  # noqa: F401  (re-exported: the emulator's dataset API)
    DATASETS,
    DatasetInfo,
    dataset_info,
    dataset_names,
)

if TYPE_CHECKING:  # torch is imported lazily so that importing this module stays cheap
    import torch
    from torch.utils.data import TensorDataset


@dataclass(frozen=True)
class DatasetSplits:
    """Normalised train / validation / test splits of one dataset.

    ``train``, ``val`` and ``test`` are ``TensorDataset(images, labels)`` with
    float32 images [N, C, H, W] and int64 labels. ``mean`` and ``std`` (one per
    channel) are what the images were normalised with:
    ``(pixel / pixel_scale - mean) / std`` (``pixel_scale`` is 255, or 16 for digits).
    Iterating yields ``train, val, test``.
    """

    name: str
    train: "TensorDataset"
    val: "TensorDataset"
    test: "TensorDataset"
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = ""
    classes: tuple[str, ...] = field(default_factory=tuple)
    pixel_scale: float = 255.0

    def __iter__(self) -> Iterator["TensorDataset"]:
        return iter((self.train, self.val, self.test))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.tensors[0].shape[1:])

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def fingerprint(self) -> str:
        """A short hash of the split contents (labels, shapes, first images): cache keys use it."""
        h = hashlib.sha1(self.name.encode())
        for split in self:
            x, y = split.tensors
            h.update(str(tuple(x.shape)).encode())
            h.update(y.numpy().tobytes())
            h.update(x[:16].numpy().tobytes())
        return h.hexdigest()[:12]

    def normalize(self, images_uint8: np.ndarray) -> "torch.Tensor":
        """Normalise raw images [N, C, H, W] (0..pixel_scale) the way these splits were."""
        return _normalize(np.asarray(images_uint8), np.asarray(self.mean), np.asarray(self.std),
                          scale=self.pixel_scale)


def load_dataset(
    name: str = "digits",
    root: str | os.PathLike | None = None,
    *,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    train_size: int | None = None,
) -> DatasetSplits:
    """Load ``name`` (``digits``, ``mnist`` or ``cifar10``) as normalised splits.

    Parameters
    ----------
    name: dataset name (see :data:`DATASETS`).
    root: directory holding the MNIST IDX files or the CIFAR-10 binary batches
        (not used for ``digits``).
    val_fraction: share of the training images held out for validation.
    split_seed: seed of the (fixed) train/validation(/test) split.
    train_size: keep only the first ``train_size`` training images (after the
        seeded shuffle), for quick experiments.
    """
    info = dataset_info(name)
    if not 0.0 < val_fraction < 1.0:
        raise ApproxDSEError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    if train_size is not None and train_size < 1:
        raise ApproxDSEError(f"train_size must be a positive number of images, got {train_size}")
    if info.needs_directory and root is None:
        raise ApproxDSEError(
            f"dataset {info.name!r} is read from files: pass the directory that holds them (--data-dir)"
        )
    if info.name == "digits":
        return _load_digits(val_fraction, split_seed, train_size)
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise ApproxDSEError(f"{info.name} data directory {str(root_path)!r} does not exist")
    if info.name == "mnist":
        (xtr, ytr), (xte, yte), source = _read_mnist(root_path)
        classes = tuple(str(i) for i in range(10))
    else:
        (xtr, ytr), (xte, yte), source, classes = _read_cifar10(root_path)
    rng = np.random.default_rng(split_seed)
    order = rng.permutation(len(xtr))
    n_val = max(1, int(round(len(xtr) * val_fraction)))
    if len(xtr) - n_val < 1:
        raise ApproxDSEError(f"{info.name} training set in {source!r} has too few images ({len(xtr)}) to split")
    train_idx, val_idx = order[: len(order) - n_val], order[len(order) - n_val :]
    return _make_splits(info, xtr[train_idx], ytr[train_idx], xtr[val_idx], ytr[val_idx], xte, yte,
                        scale=255.0, source=source, classes=classes, train_size=train_size)


# --------------------------------------------------------------------------- digits


def _load_digits(val_fraction: float, split_seed: int, train_size: int | None) -> DatasetSplits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = bunch.images.astype(np.float32)[:, None, :, :]  # values 0..16
    labels = bunch.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        images, labels, test_size=0.2, random_state=split_seed, stratify=labels
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction, random_state=split_seed, stratify=y_rest
    )
    return _make_splits(DATASETS["digits"], x_train, y_train, x_val, y_val, x_test, y_test, scale=16.0,
                        source="sklearn.datasets.load_digits",
                        classes=tuple(str(c) for c in bunch.target_names), train_size=train_size)


# --------------------------------------------------------------------------- MNIST (IDX)

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _find_file(root: Path, stem: str) -> Path | None:
    """``stem`` or a common variant of it (``.gz``, ``.idx3-ubyte`` spelled with a dot) in
    ``root`` or its usual sub-directories."""
    variants = [stem, stem.replace("-idx", ".idx")]
    for directory in (root, root / "raw", root / "MNIST" / "raw", root / "mnist"):
        for v in variants:
            for candidate in (directory / v, directory / f"{v}.gz"):
                if candidate.is_file():
                    return candidate
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array, validating its header and size."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ApproxDSEError(f"cannot read IDX file {str(path)!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise ApproxDSEError(f"{str(path)!r} is not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ApproxDSEError(f"IDX file {str(path)!r} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ApproxDSEError(
            f"IDX file {str(path)!r} holds {len(raw) - header} data bytes but its header {shape} needs {expected}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _read_mnist(root: Path):
    found = {key: _find_file(root, stem) for key, stem in _MNIST_FILES.items()}
    missing = [_MNIST_FILES[k] for k, p in found.items() if p is None]
    if missing:
        raise ApproxDSEError(
            f"MNIST directory {str(root)!r} lacks {', '.join(missing)} (IDX files, optionally .gz)"
        )
    arrays = {key: read_idx(p) for key, p in found.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        img_path, lab_path = found[f"{split}_images"], found[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ApproxDSEError(f"MNIST image file {str(img_path)!r} must hold uint8 images [N, rows, cols]")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ApproxDSEError(
                f"MNIST label file {str(lab_path)!r} holds {labels.shape} labels for {len(images)} images"
            )
        if labels.size and labels.max() > 9:
            raise ApproxDSEError(f"MNIST label file {str(lab_path)!r} holds labels outside 0..9")
        if images.shape[1:] != arrays["train_images"].shape[1:]:
            raise ApproxDSEError(f"MNIST train and test images in {str(root)!r} differ in size")
        if len(images) == 0:
            raise ApproxDSEError(f"MNIST image file {str(img_path)!r} holds no images")
    return (
        (arrays["train_images"][:, None], arrays["train_labels"].astype(np.int64)),
        (arrays["test_images"][:, None], arrays["test_labels"].astype(np.int64)),
        str(root),
    )


# --------------------------------------------------------------------------- CIFAR-10 (binary)

CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
_CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def read_cifar10_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch: uint8 images [N, 3, 32, 32] and int64 labels [N]."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ApproxDSEError(f"cannot read CIFAR-10 batch {str(path)!r}: {exc}") from None
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise ApproxDSEError(
            f"CIFAR-10 batch {str(path)!r} has {raw.size} bytes, not a whole number of "
            f"{_CIFAR_RECORD}-byte records"
        )
    records = raw.reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ApproxDSEError(f"CIFAR-10 batch {str(path)!r} holds labels outside 0..9 (is it the binary version?)")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _read_cifar10(root: Path):
    directory = root
    if not (root / CIFAR10_TEST_FILE).is_file() and (root / "cifar-10-batches-bin").is_dir():
        directory = root / "cifar-10-batches-bin"
    needed = (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE)
    missing = [f for f in needed if not (directory / f).is_file()]
    if missing:
        raise ApproxDSEError(
            f"CIFAR-10 directory {str(directory)!r} lacks {', '.join(missing)} (the binary version's batches)"
        )
    parts = [read_cifar10_batch(directory / f) for f in CIFAR10_TRAIN_FILES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar10_batch(directory / CIFAR10_TEST_FILE)
    classes = CIFAR10_CLASSES
    meta = directory / "batches.meta.txt"
    if meta.is_file():
        names = [line.strip() for line in meta.read_text(errors="replace").splitlines() if line.strip()]
        if len(names) == 10:
            classes = tuple(names)
    return (x_train, y_train), (x_test, y_test), str(directory), classes


# --------------------------------------------------------------------------- common


def _normalize(images: np.ndarray, mean: np.ndarray, std: np.ndarray, scale: float) -> "torch.Tensor":
    import torch

    x = images.astype(np.float32) / np.float32(scale)
    x = (x - mean.astype(np.float32)[None, :, None, None]) / std.astype(np.float32)[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _make_splits(info, x_train, y_train, x_val, y_val, x_test, y_test, *, scale, source, classes,
                 train_size) -> DatasetSplits:
    import torch
    from torch.utils.data import TensorDataset

    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    pixels = x_train.astype(np.float64) / scale
    mean = pixels.mean(axis=(0, 2, 3))
    std = pixels.std(axis=(0, 2, 3))
    std = np.where(std > 1e-8, std, 1.0)

    def split(x, y):
        return TensorDataset(_normalize(x, mean, std, scale), torch.from_numpy(np.asarray(y, dtype=np.int64)))

    return DatasetSplits(
        name=info.name,
        train=split(x_train, y_train),
        val=split(x_val, y_val),
        test=split(x_test, y_test),
        num_classes=info.num_classes,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        source=source,
        classes=tuple(classes),
        pixel_scale=float(scale),
    )
