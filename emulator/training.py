"""Float training, evaluation, fine-tuning through an approximate multiplier, and the
one-call accuracy report.

The functions here are the library that ``approxdse accuracy`` and the NAS search
share:

* :func:`train_float`: train a float model (AdamW, cosine schedule, seeded
  shuffling), keep the weights of the best validation epoch; with a
  ``checkpoint_dir`` every epoch is checkpointed and an interrupted run resumes.
* :func:`evaluate_accuracy`: top-1 accuracy of any model on a dataset.
* :func:`fine_tune`: a few epochs of low-learning-rate training of an emulated
  (approximated) model through its straight-through gradients, batch-norm
  statistics frozen, returning the best validation checkpoint (never worse than
  where it started, on validation).
* :func:`trained_float_model`: train once per (network, dataset, seed, epochs)
  and cache the ``state_dict`` under ``$APPROXDSE_HOME/cache/models`` (else the user
  cache directory), so repeated calls don't retrain.
* :func:`accuracy_report`: float, 8-bit exact and approximate top-1 accuracy
  (and optionally after fine-tuning) with timings, for one multiplier or a
  per-layer assignment; :func:`accuracy_sweep` runs it over many multipliers.

Checkpoints are plain ``state_dict`` files (or dicts of them) written to a
temporary file and renamed, and are always loaded with
``torch.load(..., weights_only=True)``.

>>> from approxdse.emulator.training import accuracy_report
>>> report = accuracy_report("lenet5", "digits", "u8_exact")   # doctest: +SKIP
>>> report.float_accuracy, report.exact_8bit_accuracy, report.approx_accuracy  # doctest: +SKIP
(0.9638888888888889, 0.9583333333333334, 0.9583333333333334)
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import torch
from torch import nn

from approxdse.core.atomic_files import atomic_path, atomic_write_text, make_dirs
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.datasets import DatasetSplits, load_dataset
from approxdse.networks.torch_models import get_model, model_spec

if TYPE_CHECKING:
    import pandas as pd

    from approxdse.multipliers.multiplier import Multiplier

# --------------------------------------------------------------------------- storage


def home_dir() -> Path:
    """The cache root: ``$APPROXDSE_HOME/cache`` if that variable is set (where the multiplier
    library keeps its caches too), else the platform's user cache directory for approxdse."""
    env = os.environ.get("APPROXDSE_HOME")
    if env:
        return Path(env).expanduser() / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("approxdse"))


def save_checkpoint(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``obj`` (a state_dict or a dict of them) atomically: temp file + rename."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> Any:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ApproxDSEError(f"checkpoint {str(path)!r} does not exist") from None
    except Exception as exc:  # corrupt, truncated or not a weights-only file
        raise ApproxDSEError(f"checkpoint {str(path)!r} cannot be read as weights: {exc}") from None


# --------------------------------------------------------------------------- batches


def _as_tensor_dataset(data: Any):
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


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, data: Any, batch_size: int = 256) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``data`` (a TensorDataset, a DatasetSplits,
    whose test split is used, or an iterable of ``(x, y)`` batches). The model is put in
    eval mode and left there."""
    dataset = _as_tensor_dataset(data)
    model.eval()
    correct = total = 0
    for x, y in iterate_batches(dataset, batch_size):
        logits = model(x)
        correct += int((logits.argmax(1) == y).sum())
        total += int(y.numel())
    if total == 0:
        raise ApproxDSEError("cannot evaluate accuracy on an empty dataset")
    return correct / total


def _eval_timed(model: nn.Module, data: Any, batch_size: int) -> tuple[float, float]:
    """Accuracy and evaluation seconds, after a one-sample warm-up (kernel compilation, caches)."""
    dataset = _as_tensor_dataset(data)
    if hasattr(dataset, "tensors"):
        with torch.no_grad():
            model.eval()
            model(dataset.tensors[0][:1])
    t0 = time.perf_counter()
    acc = evaluate_accuracy(model, data, batch_size)
    return acc, time.perf_counter() - t0


# --------------------------------------------------------------------------- training


@dataclass
class EpochRecord:
    """One epoch of training: mean loss and accuracy on the training batches, validation accuracy."""

    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: float
    lr: float
    seconds: float


@dataclass
class TrainResult:
    """What :func:`train_float` or :func:`fine_tune` returns. ``model`` holds the weights of
    ``best_epoch`` (0 = the starting weights, for fine-tuning)."""

    model: nn.Module
    history: list[EpochRecord]
    best_epoch: int
    best_val_accuracy: float
    initial_val_accuracy: float | None
    seconds: float
    resumed_from_epoch: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [asdict(r) for r in self.history],
            "best_epoch": self.best_epoch,
            "best_val_accuracy": self.best_val_accuracy,
            "initial_val_accuracy": self.initial_val_accuracy,
            "seconds": self.seconds,
            "resumed_from_epoch": self.resumed_from_epoch,
        }


def _splits(data: Any, what: str) -> tuple[Any, Any]:
    if isinstance(data, DatasetSplits):
        return data.train, data.val
    try:
        train, val = data[0], data[1]
    except (TypeError, IndexError, KeyError):
        raise ApproxDSEError(f"{what} needs a DatasetSplits or a (train, val[, test]) tuple of datasets") from None
    return train, val


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _run_epochs(
    model: nn.Module,
    train: Any,
    val: Any,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    batch_size: int,
    generator: torch.Generator,
    augment: bool,
    freeze_bn: bool,
    checkpoint: Path | None,
    start_epoch: int,
    best_state: dict,
    best_val: float,
    best_epoch: int,
    history: list[EpochRecord],
    initial_val: float | None,
    progress: bool,
    desc: str,
) -> tuple[dict, float, int]:
    from tqdm import tqdm

    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(range(start_epoch, epochs), desc=desc, disable=not progress, leave=False,
               initial=start_epoch, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        if freeze_bn:
            _freeze_batchnorm(model)
        total_loss, correct, seen = 0.0, 0, 0
        for x, y in iterate_batches(train, batch_size, shuffle=True, generator=generator):
            if augment:
                x = augment_batch(x, generator)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = loss_fn(logits, y)
            if not torch.isfinite(loss.detach()):
                raise ApproxDSEError(f"training diverged at epoch {epoch + 1} (loss {loss.item()}); lower the learning rate")
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
        lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        val_acc = evaluate_accuracy(model, val)
        history.append(EpochRecord(epoch + 1, total_loss / max(seen, 1), correct / max(seen, 1), val_acc, lr,
                                   time.perf_counter() - t0))
        if val_acc > best_val:
            best_val, best_epoch = val_acc, epoch + 1
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{history[-1].loss:.3f}", val=f"{val_acc:.3f}")
        if checkpoint is not None:
            save_checkpoint(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else {},
                    "generator": generator.get_state(),
                    "epoch": epoch + 1,
                    "epochs": epochs,
                    "best": best_state,
                    "best_val": best_val,
                    "best_epoch": best_epoch,
                    "initial_val": initial_val if initial_val is not None else -1.0,
                    "history": [asdict(r) for r in history],
                },
                checkpoint,
            )
    return best_state, best_val, best_epoch


def _resume(checkpoint: Path | None, epochs: int, model, optimizer, scheduler, generator):
    """Restore a run from ``checkpoint`` if it is a compatible, unfinished-or-finished run."""
    if checkpoint is None or not checkpoint.is_file():
        return None
    state = load_checkpoint(checkpoint)
    if not isinstance(state, dict) or state.get("epochs") != epochs or "model" not in state:
        warnings.warn(f"ignoring checkpoint {str(checkpoint)!r}: it belongs to a different run", stacklevel=3)
        return None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler"):
        scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    return state


def _training_setup(data: Any, caller: str, epochs_label: str, epochs: int, lr: float,
                    augment: bool | None, seed: int):
    """Checks and set-up shared by :func:`train_float` and :func:`fine_tune`: the train and
    validation splits, the augmentation default (on for 32x32 colour images), the seeds."""
    if epochs < 0:
        raise ApproxDSEError(f"{epochs_label} must be zero or more, got {epochs}")
    if not lr > 0:
        raise ApproxDSEError(f"learning rate must be positive, got {lr}")
    train, val = _splits(data, caller)
    if augment is None:
        shape = tuple(train.tensors[0].shape[1:]) if hasattr(train, "tensors") else ()
        augment = len(shape) == 3 and shape[0] == 3 and shape[1] >= 32
    torch.manual_seed(seed)
    return train, val, augment, torch.Generator().manual_seed(seed)


def train_float(
    model: nn.Module,
    data: Any,
    *,
    epochs: int = 30,
    lr: float = 2e-3,
    batch_size: int = 64,
    weight_decay: float = 5e-4,
    seed: int = 0,
    augment: bool | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train ``model`` (in place) on ``data`` with AdamW and a cosine learning-rate schedule.

    ``data`` is a :class:`DatasetSplits` or a ``(train, val[, test])`` tuple of
    TensorDatasets. The weights of the epoch with the best validation accuracy are
    loaded into ``model`` at the end. ``augment`` (random crop + flip) defaults to
    on for 32x32 colour images. With ``checkpoint_dir`` the run writes
    ``last.pt`` after each epoch and resumes from it; the final weights go to
    ``model.pt`` (a plain state_dict). Deterministic for a given ``seed``.
    """
    train, val, augment, generator = _training_setup(data, "train_float", "epochs", epochs, lr, augment, seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    ckpt = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
    t0 = time.perf_counter()
    state = _resume(ckpt, epochs, model, optimizer, scheduler, generator)
    if state is not None:
        start, best_state, best_val, best_epoch = state["epoch"], state["best"], state["best_val"], state["best_epoch"]
        history = [EpochRecord(**r) for r in state["history"]]
    else:
        start, best_state, best_val, best_epoch, history = 0, copy.deepcopy(model.state_dict()), -1.0, 0, []
    best_state, best_val, best_epoch = _run_epochs(
        model, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler, batch_size=batch_size,
        generator=generator, augment=augment, freeze_bn=False, checkpoint=ckpt, start_epoch=start,
        best_state=best_state, best_val=best_val, best_epoch=best_epoch, history=history, initial_val=None,
        progress=progress, desc="train",
    )
    model.load_state_dict(best_state)
    if best_val < 0:  # zero epochs
        best_val = evaluate_accuracy(model, val)
    if checkpoint_dir is not None:
        save_checkpoint(model.state_dict(), Path(checkpoint_dir) / "model.pt")
    model.eval()
    return TrainResult(model, history, best_epoch, best_val, None, time.perf_counter() - t0, start)


def fine_tune(
    qmodel: nn.Module,
    data: Any,
    *,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
    freeze_bn: bool = True,
    augment: bool | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> TrainResult:
    """Recover accuracy lost to an approximate multiplier by training through it.

    The recipe: Adam at a modest learning rate (default 1e-3, cosine-decayed to 0) for a
    few epochs, gradients through the emulated layers' straight-through estimator,
    batch-norm running statistics frozen (the calibrated activation ranges stay
    valid), and the best validation checkpoint kept, where epoch 0 (the weights as
    given) competes too, so the result is never worse on validation than the start.
    ``qmodel`` is modified in place and returned in ``TrainResult.model``.
    """
    train, val, augment, generator = _training_setup(data, "fine_tune", "fine-tuning epochs", epochs, lr, augment,
                                                     seed)
    params = [p for p in qmodel.parameters() if p.requires_grad]
    if not params:
        raise ApproxDSEError("the model has no trainable parameters to fine-tune")
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    ckpt = Path(checkpoint_dir) / "fine_tune_last.pt" if checkpoint_dir is not None else None
    t0 = time.perf_counter()
    state = _resume(ckpt, epochs, qmodel, optimizer, scheduler, generator)
    if state is not None:
        start, best_state, best_val, best_epoch = state["epoch"], state["best"], state["best_val"], state["best_epoch"]
        initial_val = state["initial_val"]
        history = [EpochRecord(**r) for r in state["history"]]
    else:
        initial_val = evaluate_accuracy(qmodel, val)
        start, best_state, best_val, best_epoch, history = 0, copy.deepcopy(qmodel.state_dict()), initial_val, 0, []
    best_state, best_val, best_epoch = _run_epochs(
        qmodel, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler, batch_size=batch_size,
        generator=generator, augment=augment, freeze_bn=freeze_bn, checkpoint=ckpt, start_epoch=start,
        best_state=best_state, best_val=best_val, best_epoch=best_epoch, history=history,
        initial_val=initial_val, progress=progress, desc="fine-tune",
    )
    qmodel.load_state_dict(best_state)
    qmodel.eval()
    return TrainResult(qmodel, history, best_epoch, best_val, initial_val, time.perf_counter() - t0, start)


# --------------------------------------------------------------------------- float model cache


@dataclass
class TrainedModel:
    """A float model from :func:`trained_float_model` with its test and validation accuracy."""

    model: nn.Module
    network: str
    dataset: str
    seed: int
    epochs: int
    float_accuracy: float
    val_accuracy: float
    train_seconds: float
    from_cache: bool
    path: Path | None


def _cache_paths(network: str, dataset: str, seed: int, epochs: int, fingerprint: str) -> tuple[Path, Path]:
    stem = f"{network}_{dataset}_seed{seed}_ep{epochs}_{fingerprint}"
    base = home_dir() / "models" / "float"
    return base / f"{stem}.pt", base / f"{stem}.json"


def trained_float_model(
    network: str,
    dataset: str = "digits",
    *,
    data: DatasetSplits | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    cache: bool = True,
    progress: bool = False,
) -> TrainedModel:
    """The float ``network`` trained on ``dataset``: loaded from the cache when this
    (network, dataset, seed, epochs, data) was trained before, else trained and cached.

    The cache lives in ``home_dir()/models/float`` as a ``state_dict`` (``.pt``) plus a
    JSON sidecar with the accuracies; the data's fingerprint is part of the key, so a
    different MNIST/CIFAR directory content never reuses a stale model.
    """
    spec = model_spec(network)
    if data is None:
        data = load_dataset(dataset, data_dir)
    epochs = spec.default_epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ApproxDSEError(f"float training needs at least 1 epoch, got {epochs}")
    model = get_model(spec.name, data.name, seed=seed)
    pt, meta = _cache_paths(spec.name, data.name, seed, epochs, data.fingerprint())
    if cache and pt.is_file() and meta.is_file():
        try:
            info = json.loads(meta.read_text())
            model.load_state_dict(load_checkpoint(pt))
            model.eval()
            return TrainedModel(model, spec.name, data.name, seed, epochs, info["float_accuracy"],
                                info["val_accuracy"], info["train_seconds"], True, pt)
        except (ApproxDSEError, KeyError, ValueError, RuntimeError) as exc:
            warnings.warn(f"retraining: the cached model {str(pt)!r} is unusable ({exc})", stacklevel=2)
    result = train_float(model, data, epochs=epochs, lr=lr or spec.lr, batch_size=batch_size or spec.batch_size,
                         seed=seed, progress=progress)
    float_acc = evaluate_accuracy(model, data.test)
    if cache:
        save_checkpoint(model.state_dict(), pt)
        atomic_write_text(meta, json.dumps({
            "network": spec.name, "dataset": data.name, "seed": seed, "epochs": epochs,
            "fingerprint": data.fingerprint(), "float_accuracy": float_acc,
            "val_accuracy": result.best_val_accuracy, "best_epoch": result.best_epoch,
            "train_seconds": result.seconds, "torch": torch.__version__,
        }, indent=2))
    return TrainedModel(model, spec.name, data.name, seed, epochs, float_acc, result.best_val_accuracy,
                        result.seconds, False, pt if cache else None)


def train_module(
    module: nn.Module,
    data: DatasetSplits,
    *,
    seed: int = 0,
    epochs: int | None = None,
    lr: float = 2e-3,
    batch_size: int = 64,
    progress: bool = False,
) -> TrainedModel:
    """Train any float ``module`` (in place, not cached) on ``data`` and wrap it as a
    :class:`TrainedModel`, for networks outside the registry (e.g. a search candidate)."""
    epochs = 30 if epochs is None else int(epochs)
    if epochs < 0:
        raise ApproxDSEError(f"epochs must be zero or more, got {epochs}")
    result = train_float(module, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=progress)
    return TrainedModel(module, type(module).__name__, data.name, seed, epochs,
                        evaluate_accuracy(module, data.test), result.best_val_accuracy, result.seconds, False, None)


def _float_model_for(network: Any, data: DatasetSplits, seed: int, epochs: int | None,
                     progress: bool) -> TrainedModel:
    if isinstance(network, TrainedModel):
        return network
    if isinstance(network, nn.Module):
        return train_module(network, data, seed=seed, epochs=epochs, progress=progress)
    return trained_float_model(network, data.name, data=data, seed=seed, epochs=epochs, progress=progress)


# --------------------------------------------------------------------------- approximate accuracy


def resolve_multiplier(spec: Any) -> "Multiplier":
    """A :class:`~multipliers.Multiplier` from a Multiplier, a catalog name (built-in or
    imported into the user catalog) or the path of a multiplier file (``.c`` model or
    ``.npy``/``.bin``/``.txt`` LUT)."""
    from approxdse import multipliers
    from approxdse.multipliers.multiplier import Multiplier

    if isinstance(spec, Multiplier):
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ApproxDSEError(f"a multiplier is named by a non-empty string, got {spec!r}")
    spec = spec.strip()
    path = Path(spec)
    if path.suffix.lower() in (".c", ".npy", ".bin", ".txt") and (path.is_file() or os.sep in spec):
        from approxdse.multipliers.importing import load

        return load(path)
    return multipliers.get(spec)


def approximable_layers(model: nn.Module) -> list[str]:
    """Names of the layers that :func:`~approxdse.emulator.approximate` replaces
    (``Conv2d`` and ``Linear``), in module order."""
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def layer_assignment(
    model: nn.Module, default: Any, overrides: Mapping[str, Any] | None = None
) -> dict[str, "Multiplier"]:
    """A multiplier for every approximable layer of ``model``: the last entry of ``overrides``
    whose key is the layer's name or a shell pattern matching it (``"layers.0.*"``), else
    ``default``. A key that matches no layer is an error that lists the model's layers."""
    import fnmatch

    layers = approximable_layers(model)
    overrides = dict(overrides or {})
    unknown = [key for key in overrides if not any(n == key or fnmatch.fnmatchcase(n, key) for n in layers)]
    if unknown:
        raise ApproxDSEError(
            f"layer(s) {', '.join(map(repr, unknown))} not in the network; its layers are {', '.join(layers)}"
        )
    resolved = {key: resolve_multiplier(m) for key, m in overrides.items()}
    resolved_default = resolve_multiplier(default) if default is not None else None
    out: dict[str, Multiplier] = {}
    for name in layers:
        chosen = resolved_default
        for key, m in resolved.items():
            if name == key or fnmatch.fnmatchcase(name, key):
                chosen = m
        if chosen is None:
            raise ApproxDSEError(f"no multiplier given for layer {name!r} (name a default multiplier)")
        out[name] = chosen
    return out


def exact_counterpart(multiplier: "Multiplier") -> "Multiplier":
    """The exact 8-bit multiplier with the same signedness (so the same quantisation)."""
    return resolve_multiplier("s8_exact" if multiplier.signed else "u8_exact")


def _assignment_of(spec: Any) -> "Multiplier | dict[str, Multiplier]":
    if isinstance(spec, Mapping):
        return {name: resolve_multiplier(m) for name, m in spec.items()}
    return resolve_multiplier(spec)


def _exact_of(assignment: "Multiplier | dict[str, Multiplier]") -> "Multiplier | dict[str, Multiplier]":
    if isinstance(assignment, dict):
        return {name: exact_counterpart(m) for name, m in assignment.items()}
    return exact_counterpart(assignment)


def calibration_batches(data: DatasetSplits | Any, n_batches: int = 4, batch_size: int = 128) -> list[torch.Tensor]:
    """The first ``n_batches`` input batches of the training split (a fixed, seeded sample:
    the splits are shuffled once at load time) for activation calibration."""
    train = data.train if isinstance(data, DatasetSplits) else data
    return [x for x, _ in iterate_batches(train, batch_size, limit=n_batches)]


def emulate(
    model: nn.Module,
    multiplier: Any,
    data: DatasetSplits | Any,
    *,
    backend: str = "auto",
    mode: str = "lut",
    calibration: str = "minmax",
    n_calibration_batches: int = 4,
    **options: Any,
) -> nn.Module:
    """An approximated, calibrated copy of ``model``: every Conv2d/Linear multiplies through
    ``multiplier`` (a name, a Multiplier or a ``{layer: multiplier}`` dict), activation
    ranges calibrated on the first training batches of ``data``. Extra ``options`` are
    fields of :class:`approxdse.emulator.EmulationConfig` (``rank``, ``percentile``,
    ``noise_operand_dependent``, ``seed`` ...)."""
    from approxdse.emulator import EmulationConfig, approximate, calibrate

    try:
        config = EmulationConfig(backend=backend, mode=mode, calibration=calibration, **options)
    except TypeError:
        unknown = sorted(set(options) - set(EmulationConfig.__dataclass_fields__))
        raise ApproxDSEError(f"unknown emulation option(s) {', '.join(unknown)}") from None
    assignment = _assignment_of(multiplier)
    # a dict from layer_assignment names every layer, so nothing is left to "others"
    others = "float" if isinstance(assignment, dict) else "exact"
    qmodel = approximate(model, assignment, config=config, others=others)
    calibrate(qmodel, calibration_batches(data, n_calibration_batches), method=calibration)
    qmodel.eval()
    return qmodel


@dataclass
class AccuracyReport:
    """Float, 8-bit exact and approximate top-1 accuracy of one network with one multiplier
    (or per-layer assignment), all in [0, 1], on the test split, with timings in seconds.

    ``exact_8bit_accuracy`` uses the exact multiplier of the same signedness (the same
    quantisation), so ``exact_8bit_accuracy - approx_accuracy`` is the multiplier's cost.
    ``fine_tuned_accuracy`` is None unless fine-tuning ran.
    """

    network: str
    dataset: str
    multiplier: str
    multipliers: dict[str, str]
    signed: bool
    relative_energy: float | None
    backend: str
    mode: str
    float_accuracy: float
    exact_8bit_accuracy: float
    approx_accuracy: float
    fine_tuned_accuracy: float | None
    fine_tune_epochs: int
    float_time_s: float
    exact_8bit_time_s: float
    approx_time_s: float
    fine_tune_time_s: float | None
    train_time_s: float
    float_model_cached: bool
    test_samples: int
    seed: int
    epochs: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy_drop(self) -> float:
        """8-bit exact minus approximate accuracy (positive = the multiplier costs accuracy)."""
        return self.exact_8bit_accuracy - self.approx_accuracy

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["accuracy_drop"] = self.accuracy_drop
        out["approx_slowdown"] = self.approx_time_s / self.float_time_s if self.float_time_s > 0 else None
        return out


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


def _relative_energy(model: nn.Module, per_layer: Mapping[str, "Multiplier"], data: Any) -> float | None:
    """Multiplication energy relative to exact multipliers: the MAC-weighted mean of the
    layers' multipliers' relative energies (None if one of them has no energy figure)."""
    energies = {m.relative_energy for m in per_layer.values()}
    if None in energies:
        return None
    if len(energies) == 1:
        return float(energies.pop())
    sample = data.test.tensors[0] if isinstance(data, DatasetSplits) else data
    macs = layer_macs(model, sample)
    total = sum(macs.get(n, 0) for n in per_layer)
    if total == 0:
        return None
    return float(sum(macs.get(n, 0) * float(m.relative_energy) for n, m in per_layer.items()) / total)


def accuracy_report(
    network: "str | nn.Module | TrainedModel" = "lenet5",
    dataset: str = "digits",
    multiplier: Any = "u8_exact",
    *,
    layers: Mapping[str, Any] | None = None,
    data: DatasetSplits | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    epochs: int | None = None,
    fine_tune_epochs: int = 0,
    fine_tune_lr: float = 1e-3,
    backend: str = "auto",
    mode: str = "lut",
    calibration: str = "minmax",
    batch_size: int = 256,
    float_model: TrainedModel | None = None,
    exact_8bit_accuracy: float | None = None,
    exact_8bit_time_s: float | None = None,
    progress: bool = False,
    **options: Any,
) -> AccuracyReport:
    """Train (or load from the cache) the float ``network`` on ``dataset``, then measure
    its top-1 test accuracy in float, with 8-bit exact multipliers and with ``multiplier``
    (a catalog name or Multiplier; ``layers`` maps layer names to multipliers that
    override it per layer), optionally after ``fine_tune_epochs`` of fine-tuning.

    ``network`` is a registry name (trained once and cached), a float ``nn.Module``
    (trained in place, not cached) or a :class:`TrainedModel`.
    ``float_model`` and ``exact_8bit_accuracy`` / ``exact_8bit_time_s`` let a caller
    that evaluates many multipliers (see :func:`accuracy_sweep`) reuse what does not
    depend on the multiplier. Extra ``options`` go to
    :func:`approxdse.emulator.approximate` (e.g. ``rank`` for low-rank mode).
    """
    if fine_tune_epochs < 0:
        raise ApproxDSEError(f"fine-tuning epochs must be zero or more, got {fine_tune_epochs}")
    if data is None:
        data = load_dataset(dataset, data_dir)
    if float_model is None:
        float_model = _float_model_for(network, data, seed, epochs, progress)
    model = float_model.model
    float_acc, float_time = _eval_timed(model, data.test, batch_size)

    if layers:
        assignment: Any = layer_assignment(model, multiplier, layers)
    else:
        assignment = resolve_multiplier(multiplier)
    per_layer = assignment if isinstance(assignment, dict) else {n: assignment for n in approximable_layers(model)}

    if exact_8bit_accuracy is None:
        qexact = emulate(model, _exact_of(assignment), data, backend=backend, mode="lut", calibration=calibration)
        exact_8bit_accuracy, exact_8bit_time_s = _eval_timed(qexact, data.test, batch_size)
        del qexact

    torch.manual_seed(seed)  # the noise mode draws random errors
    options.setdefault("seed", seed)
    qmodel = emulate(model, assignment, data, backend=backend, mode=mode, calibration=calibration, **options)
    approx_acc, approx_time = _eval_timed(qmodel, data.test, batch_size)

    tuned_acc = tune_time = None
    extra: dict[str, Any] = {}
    if fine_tune_epochs > 0:
        result = fine_tune(qmodel, data, epochs=fine_tune_epochs, lr=fine_tune_lr, seed=seed, progress=progress)
        torch.manual_seed(seed)
        tuned_acc = evaluate_accuracy(qmodel, data.test, batch_size)
        tune_time = result.seconds
        extra["fine_tune"] = result.to_dict()

    signed = {m.signed for m in per_layer.values()}
    names = {n: m.name for n, m in per_layer.items()}
    energy = _relative_energy(model, per_layer, data)
    label = assignment.name if not isinstance(assignment, dict) else (
        multiplier if isinstance(multiplier, str) else getattr(multiplier, "name", "per-layer")) + " (per-layer)"
    return AccuracyReport(
        network=float_model.network, dataset=data.name, multiplier=label, multipliers=names,
        signed=signed == {True}, relative_energy=energy, backend=backend, mode=mode,
        float_accuracy=float_acc, exact_8bit_accuracy=float(exact_8bit_accuracy), approx_accuracy=approx_acc,
        fine_tuned_accuracy=tuned_acc, fine_tune_epochs=fine_tune_epochs, float_time_s=float_time,
        exact_8bit_time_s=float(exact_8bit_time_s or 0.0), approx_time_s=approx_time, fine_tune_time_s=tune_time,
        train_time_s=float_model.train_seconds, float_model_cached=float_model.from_cache,
        test_samples=len(data.test), seed=seed, epochs=float_model.epochs, extra=extra,
    )


# --------------------------------------------------------------------------- sweep

SWEEP_CSV = "accuracy_sweep.csv"
SWEEP_PNG = "accuracy_sweep.png"
_SWEEP_PARTIAL = "accuracy_sweep.partial.csv"
_SWEEP_SETTINGS = "accuracy_sweep.settings.json"


def _metric(m: "Multiplier", attr: str) -> float | None:
    try:
        value = getattr(m.metrics, attr)
    except Exception:  # metrics not available for this multiplier
        return None
    return float(value) if value is not None else None


def accuracy_sweep(
    network: "str | nn.Module | TrainedModel" = "lenet5",
    dataset: str = "digits",
    multipliers: Sequence[Any] | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    data: DatasetSplits | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    epochs: int | None = None,
    fine_tune_epochs: int = 0,
    backend: str = "auto",
    mode: str = "lut",
    calibration: str = "minmax",
    batch_size: int = 256,
    resume: bool = True,
    progress: bool = True,
    **options: Any,
) -> "pd.DataFrame":
    """Approximate accuracy of ``network`` on ``dataset`` for each of ``multipliers``
    (default: every catalog multiplier), one row per multiplier, with its relative
    energy: the table behind an accuracy-vs-energy plot.

    The float model is trained once (cached) and the 8-bit exact accuracy is measured
    once per signedness. A multiplier that cannot run (e.g. ``exact-decomposition``
    mode on a LUT without that structure) gets its reason in the ``error`` column.
    With ``out_dir`` the table goes to ``accuracy_sweep.csv`` and the plot to
    ``accuracy_sweep.png`` there; rows are saved as they finish, and with ``resume``
    an interrupted sweep with the same settings continues where it stopped.
    """
    import pandas as pd
    from tqdm import tqdm

    import approxdse.multipliers as mlib
    names = list(multipliers) if multipliers is not None else list(mlib.names())
    if not names:
        raise ApproxDSEError("the sweep has no multipliers to evaluate")
    resolved = [resolve_multiplier(m) for m in names]  # fail fast on unknown names
    if data is None:
        data = load_dataset(dataset, data_dir)
    trained = _float_model_for(network, data, seed, epochs, progress)

    settings = {"network": trained.network, "dataset": data.name, "fingerprint": data.fingerprint(), "seed": seed,
                "epochs": trained.epochs, "fine_tune_epochs": fine_tune_epochs, "backend": backend, "mode": mode,
                "calibration": calibration, "options": {k: repr(v) for k, v in sorted(options.items())}}
    out = Path(out_dir) if out_dir is not None else None
    done: dict[str, dict] = {}
    if out is not None:
        make_dirs(out)
        partial, settings_file = out / _SWEEP_PARTIAL, out / _SWEEP_SETTINGS
        if resume and partial.is_file() and settings_file.is_file():
            try:
                if json.loads(settings_file.read_text()) == settings:
                    done = {str(r["multiplier"]): r for r in pd.read_csv(partial).to_dict("records")}
            except (ValueError, KeyError, pd.errors.ParserError):
                done = {}
        if not done:
            partial.unlink(missing_ok=True)
        atomic_write_text(settings_file, json.dumps(settings, indent=2))

    float_acc, _ = _eval_timed(trained.model, data.test, batch_size)
    exact_cache: dict[bool, tuple[float, float]] = {}
    rows: list[dict] = []
    bar = tqdm(resolved, desc="multipliers", disable=not progress)
    for m in bar:
        bar.set_postfix_str(m.name)
        if m.name in done:
            rows.append(done[m.name])
            continue
        row: dict[str, Any] = {
            "multiplier": m.name, "family": m.family, "signed": m.signed, "relative_energy": m.relative_energy,
            "mae_pct": _metric(m, "mae_pct"), "wce_pct": _metric(m, "wce_pct"), "float_accuracy": float_acc,
        }
        try:
            if m.signed not in exact_cache:
                qexact = emulate(trained.model, exact_counterpart(m), data, backend=backend, mode="lut",
                                 calibration=calibration)
                exact_cache[m.signed] = _eval_timed(qexact, data.test, batch_size)
            report = accuracy_report(
                trained.network, data.name, m, data=data, seed=seed, fine_tune_epochs=fine_tune_epochs,
                backend=backend, mode=mode, calibration=calibration, batch_size=batch_size, float_model=trained,
                exact_8bit_accuracy=exact_cache[m.signed][0], exact_8bit_time_s=exact_cache[m.signed][1],
                **options,
            )
            row.update(exact_8bit_accuracy=report.exact_8bit_accuracy, approx_accuracy=report.approx_accuracy,
                       accuracy_drop=report.accuracy_drop, fine_tuned_accuracy=report.fine_tuned_accuracy,
                       approx_time_s=report.approx_time_s, fine_tune_time_s=report.fine_tune_time_s, error="")
        except ApproxDSEError as exc:
            row.update(exact_8bit_accuracy=exact_cache.get(m.signed, (math.nan,))[0], approx_accuracy=math.nan,
                       accuracy_drop=math.nan, fine_tuned_accuracy=None, approx_time_s=math.nan,
                       fine_tune_time_s=None, error=str(exc))
        rows.append(row)
        if out is not None:
            with atomic_path(out / _SWEEP_PARTIAL) as tmp:
                pd.DataFrame(rows).to_csv(tmp, index=False)
    table = pd.DataFrame(rows)
    if out is not None:
        with atomic_path(out / SWEEP_CSV) as tmp:
            table.to_csv(tmp, index=False)
        plot_accuracy_vs_energy(table, out / SWEEP_PNG, title=f"{trained.network} on {data.name} ({mode})")
        (out / _SWEEP_PARTIAL).unlink(missing_ok=True)
        (out / _SWEEP_SETTINGS).unlink(missing_ok=True)
    return table


def plot_accuracy_vs_energy(table: "pd.DataFrame", path: str | os.PathLike, *, title: str = "") -> Path:
    """Scatter of approximate top-1 accuracy against relative multiplication energy (one point
    per multiplier, colour = family, marker = signedness, hollow = after fine-tuning), with the
    float and 8-bit exact accuracies as reference lines; written atomically to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    ok = table[table["approx_accuracy"].notna() & table["relative_energy"].notna()]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    families = sorted(ok["family"].astype(str).unique()) if len(ok) else []
    colours = plt.get_cmap("tab10")
    for i, fam in enumerate(families):
        for signed, marker in ((False, "o"), (True, "s")):
            sel = ok[(ok["family"].astype(str) == fam) & (ok["signed"].astype(bool) == signed)]
            if not len(sel):
                continue
            label = f"{fam} ({'signed' if signed else 'unsigned'})"
            ax.scatter(sel["relative_energy"], 100 * sel["approx_accuracy"], marker=marker,
                       color=colours(i % 10), label=label, s=28, zorder=3)
            if "fine_tuned_accuracy" in sel and sel["fine_tuned_accuracy"].notna().any():
                ft = sel[sel["fine_tuned_accuracy"].notna()]
                ax.scatter(ft["relative_energy"], 100 * ft["fine_tuned_accuracy"].astype(float), marker=marker,
                           facecolors="none", edgecolors=colours(i % 10), s=36, zorder=3)
    if len(table) and table["float_accuracy"].notna().any():
        ax.axhline(100 * float(table["float_accuracy"].dropna().iloc[0]), color="k", ls="--", lw=1, label="float")
    exact = table["exact_8bit_accuracy"].dropna() if "exact_8bit_accuracy" in table else []
    if len(exact):
        ax.axhline(100 * float(exact.max()), color="grey", ls=":", lw=1, label="8-bit exact")
    ax.set_xlabel("multiplication energy relative to the exact multiplier")
    ax.set_ylabel("top-1 accuracy (%)")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path
