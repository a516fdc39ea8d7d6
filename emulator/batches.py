"""Batches of a ``TensorDataset`` by tensor slicing (much faster than a per-sample
DataLoader), the seeded CIFAR augmentation, and the calibration sample."""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.datasets import DatasetSplits

__all__ = ["as_tensor_dataset", "augment_batch", "calibration_batches", "iterate_batches"]


def as_tensor_dataset(data: Any):
    """The evaluation split of ``data``: a DatasetSplits gives its test split."""
    if isinstance(data, DatasetSplits):
        return data.test
    return data


def iterate_batches(
    dataset: Any,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    limit: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` batches of a ``TensorDataset`` by slicing its tensors (much faster
    than a per-sample DataLoader); any other iterable of ``(x, y)`` batches passes through.
    ``limit`` stops after that many batches."""
    if batch_size < 1:
        raise ApproxDSEError(f"batch size must be at least 1, got {batch_size}")
    tensors = getattr(dataset, "tensors", None)
    if tensors is None:
        for i, batch in enumerate(dataset):
            if limit is not None and i >= limit:
                return
            yield batch[0], batch[1]
        return
    x, y = tensors[0], tensors[1]
    n = len(x)
    order = torch.randperm(n, generator=generator) if shuffle else None
    for i, start in enumerate(range(0, n, batch_size)):
        if limit is not None and i >= limit:
            return
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx.to(x.device)], y[idx.to(y.device)]


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) and horizontal flip of a batch, seeded by ``generator``:
    the standard CIFAR augmentation."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    dev = x.device  # random draws on the CPU generator, then moved: same result on every device
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    ar_h, ar_w = torch.arange(h, device=dev), torch.arange(w, device=dev)
    rows = (dy[:, None] + ar_h[None, :])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * pad)
    cols = (dx[:, None] + ar_w[None, :])[:, None, None, :].expand(n, x.shape[1], h, w)
    out = padded.gather(2, rows).gather(3, cols)
    flip = (torch.rand(n, generator=generator) < 0.5).to(dev)
    out[flip] = out[flip].flip(3)
    return out



def calibration_batches(data: DatasetSplits | Any, n_batches: int = 4, batch_size: int = 128) -> list[torch.Tensor]:
    """The first ``n_batches`` input batches of the training split (a fixed, seeded sample:
    the splits are shuffled once at load time) for activation calibration."""
    train = data.train if isinstance(data, DatasetSplits) else data
    return [x for x, _ in iterate_batches(train, batch_size, limit=n_batches)]

