"""Dataset loaders: digits split, MNIST IDX files and CIFAR-10 binary batches written here in
their real formats, and one clear message for a missing or corrupt directory."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.emulator.datasets import (
    CIFAR10_TRAIN_FILES,
    dataset_info,
    load_dataset,
    read_cifar10_batch,
    read_idx,
)


def _denormalize(data, x):
    mean = torch.tensor(data.mean)[None, :, None, None]
    std = torch.tensor(data.std)[None, :, None, None]
    return (x * std + mean) * data.pixel_scale


# ----------------------------------------------------------------------------- digits


def test_digits_splits_shapes_and_normalisation():
    data = load_dataset("digits")
    train, val, test = data
    assert data.sizes() == {"train": len(train), "val": len(val), "test": len(test)}
    assert len(train) + len(val) + len(test) == 1797
    assert len(test) == 360  # 20% test
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    x = train.tensors[0]
    assert x.dtype == torch.float32 and train.tensors[1].dtype == torch.int64
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1.0) < 1e-2
    # every class in every split (stratified)
    for split in data:
        assert set(split.tensors[1].tolist()) == set(range(10))
    # de-normalised pixels are the digits' integer intensities 0..16
    pixels = _denormalize(data, test.tensors[0])
    assert torch.allclose(pixels, pixels.round(), atol=1e-3)
    assert float(pixels.min()) > -1e-3 and float(pixels.max()) < 16 + 1e-3


def test_digits_split_is_fixed_for_a_seed_and_differs_across_seeds():
    a, b, c = load_dataset("digits"), load_dataset("digits"), load_dataset("digits", split_seed=1)
    assert torch.equal(a.train.tensors[0], b.train.tensors[0]) and torch.equal(a.test.tensors[1], b.test.tensors[1])
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert not torch.equal(a.test.tensors[1], c.test.tensors[1])


def test_digits_train_size_and_bad_arguments():
    data = load_dataset("digits", train_size=100)
    assert len(data.train) == 100 and len(data.test) == 360
    with pytest.raises(ApproxDSEError, match="val_fraction"):
        load_dataset("digits", val_fraction=1.5)
    with pytest.raises(ApproxDSEError, match="train_size"):
        load_dataset("digits", train_size=0)
    with pytest.raises(UnknownNameError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
    assert dataset_info("CIFAR-10").name == "cifar10"


# ----------------------------------------------------------------------------- MNIST


def _write_idx(path, array: np.ndarray, gz: bool = False):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def _make_mnist(root, n_train=60, n_test=20, side=28, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        _write_idx(root / (name + (".gz" if gz else "")), arr, gz=gz)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    arrays = _make_mnist(tmp_path / "mnist", gz=gz)
    data = load_dataset("mnist", tmp_path / "mnist")
    assert data.sizes() == {"train": 54, "val": 6, "test": 20}
    assert data.input_shape == (1, 28, 28)
    # the test split keeps the file order: pixels and labels round-trip exactly
    pixels = _denormalize(data, data.test.tensors[0]).round().to(torch.int64)
    assert torch.equal(pixels[:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"].astype(np.int64)))
    assert torch.equal(data.test.tensors[1], torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64)))
    # train + val are a permutation of the training file
    train_labels = torch.cat([data.train.tensors[1], data.val.tensors[1]]).sort().values
    assert torch.equal(train_labels, torch.from_numpy(np.sort(arrays["train-labels-idx1-ubyte"]).astype(np.int64)))


def test_mnist_accepts_dotted_names_in_raw_subdirectory(tmp_path):
    arrays = _make_mnist(tmp_path / "stage", side=10)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in arrays:
        (tmp_path / "stage" / name).rename(raw / name.replace("-idx", ".idx"))
    assert load_dataset("mnist", tmp_path).input_shape == (1, 10, 10)


def test_mnist_missing_and_corrupt_files_give_one_clear_message(tmp_path):
    with pytest.raises(ApproxDSEError, match="pass the directory"):
        load_dataset("mnist")
    with pytest.raises(ApproxDSEError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")
    root = tmp_path / "m"
    _make_mnist(root)
    (root / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ApproxDSEError, match=r"lacks t10k-labels-idx1-ubyte \(IDX"):
        load_dataset("mnist", root)
    _make_mnist(root)
    blob = (root / "train-images-idx3-ubyte").read_bytes()
    (root / "train-images-idx3-ubyte").write_bytes(blob[:-10])  # truncated
    with pytest.raises(ApproxDSEError, match="train-images-idx3-ubyte.*data bytes but its header"):
        load_dataset("mnist", root)
    (root / "train-images-idx3-ubyte").write_bytes(b"GIF89a" + blob[6:])
    with pytest.raises(ApproxDSEError, match="not an IDX file"):
        load_dataset("mnist", root)
    _make_mnist(root, n_train=60)
    _write_idx(root / "train-labels-idx1-ubyte", np.zeros(59, dtype=np.uint8))
    with pytest.raises(ApproxDSEError, match=r"label file .* holds \(59,\) labels for 60 images"):
        load_dataset("mnist", root)
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    (root / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(ApproxDSEError, match="cannot read IDX file"):
        read_idx(root / "t10k-images-idx3-ubyte.gz")


# ----------------------------------------------------------------------------- CIFAR-10


def _write_cifar_batch(path, images: np.ndarray, labels: np.ndarray):
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    path.write_bytes(records.astype(np.uint8).tobytes())


def _make_cifar(root, per_batch=6, n_test=8, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in (*CIFAR10_TRAIN_FILES, "test_batch.bin"):
        n = n_test if name == "test_batch.bin" else per_batch
        images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        _write_cifar_batch(root / name, images, labels)
        batches[name] = (images, labels)
    return batches


def test_cifar10_reads_binary_batches(tmp_path):
    root = tmp_path / "cifar-10-batches-bin"
    batches = _make_cifar(root)
    (root / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n\n")
    data = load_dataset("cifar10", tmp_path)  # finds the sub-directory
    assert data.sizes() == {"train": 27, "val": 3, "test": 8}
    assert data.input_shape == (3, 32, 32) and len(data.mean) == 3
    assert data.classes[0] == "class0"
    images, labels = batches["test_batch.bin"]
    pixels = _denormalize(data, data.test.tensors[0]).round().to(torch.int64)
    assert torch.equal(pixels, torch.from_numpy(images.astype(np.int64)))  # channel planes in R, G, B order
    assert torch.equal(data.test.tensors[1], torch.from_numpy(labels.astype(np.int64)))
    x, y = read_cifar10_batch(root / "data_batch_3.bin")
    assert x.shape == (6, 3, 32, 32) and np.array_equal(x, batches["data_batch_3.bin"][0])


def test_cifar10_missing_and_corrupt_files(tmp_path):
    root = tmp_path / "c"
    _make_cifar(root)
    (root / "data_batch_4.bin").unlink()
    (root / "test_batch.bin").unlink()
    with pytest.raises(ApproxDSEError, match=r"lacks data_batch_4\.bin, test_batch\.bin"):
        load_dataset("cifar10", root)
    _make_cifar(root)
    (root / "data_batch_2.bin").write_bytes(b"\x01" * 3000)
    with pytest.raises(ApproxDSEError, match=r"data_batch_2\.bin.*not a whole number of 3073-byte records"):
        load_dataset("cifar10", root)
    _make_cifar(root)
    bad = bytearray((root / "test_batch.bin").read_bytes())
    bad[0] = 200
    (root / "test_batch.bin").write_bytes(bytes(bad))
    with pytest.raises(ApproxDSEError, match="labels outside 0..9"):
        load_dataset("cifar10", root)
    with pytest.raises(ApproxDSEError, match="cifar10 data directory .* does not exist"):
        load_dataset("cifar10", tmp_path / "missing")
