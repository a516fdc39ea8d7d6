"""Measuring a model: top-1 accuracy on a dataset (plain and timed) and the
multiply-accumulates per layer."""
from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.batches import as_tensor_dataset, iterate_batches

__all__ = ["evaluate_accuracy", "layer_macs", "timed_accuracy"]


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, data: Any, batch_size: int = 256) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``data`` (a TensorDataset, a DatasetSplits,
    whose test split is used, or an iterable of ``(x, y)`` batches). The model is put in
    eval mode and left there."""
    dataset = as_tensor_dataset(data)
    model.eval()
    correct = total = 0
    for x, y in iterate_batches(dataset, batch_size):
        logits = model(x)
        correct += int((logits.argmax(1) == y).sum())
        total += int(y.numel())
    if total == 0:
        raise ApproxDSEError("cannot evaluate accuracy on an empty dataset")
    return correct / total


def timed_accuracy(model: nn.Module, data: Any, batch_size: int) -> tuple[float, float]:
    """Accuracy and evaluation seconds, after a one-sample warm-up (kernel compilation, caches)."""
    dataset = as_tensor_dataset(data)
    if hasattr(dataset, "tensors"):
        with torch.no_grad():
            model.eval()
            model(dataset.tensors[0][:1])
    t0 = time.perf_counter()
    acc = evaluate_accuracy(model, data, batch_size)
    return acc, time.perf_counter() - t0



def layer_macs(model: nn.Module, sample: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates per sample of every Conv2d/Linear layer, counted on one forward pass."""
    macs: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            def hook(mod, inputs, output, name=name):
                per_output = mod.weight[0].numel()  # C/groups * R * S, or in_features
                macs[name] = int(output[0].numel()) * int(per_output)
            hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.eval()
            model(sample[:1])
    finally:
        for h in hooks:
            h.remove()
    return macs

