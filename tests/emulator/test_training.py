"""Float training, checkpoint/resume, the trained-model cache, evaluation and the fine-tuning
recipe's mechanics (on float models; fine-tuning through multipliers is in test_accuracy.py)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import model_cache
from approxdse.emulator.datasets import load_dataset
from approxdse.networks.torch_models import get_model
from approxdse.emulator.training import (
    augment_batch,
    evaluate_accuracy,
    fine_tune,
    home_dir,
    iterate_batches,
    load_checkpoint,
    train_float,
    trained_float_model,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_float_training_learns_digits_and_is_deterministic(digits):
    m1 = get_model("lenet5", "digits", seed=0)
    r1 = train_float(m1, digits, epochs=30, seed=0)
    acc = evaluate_accuracy(m1, digits.test)
    assert acc >= 0.93, acc
    assert len(r1.history) == 30 and 1 <= r1.best_epoch <= 30
    assert r1.best_val_accuracy == max(h.val_accuracy for h in r1.history)
    assert r1.history[-1].loss < r1.history[0].loss
    m2 = get_model("lenet5", "digits", seed=0)
    train_float(m2, digits, epochs=30, seed=0)
    assert _same_state(m1.state_dict(), m2.state_dict())
    m3 = get_model("lenet5", "digits", seed=0)
    train_float(m3, digits, epochs=3, seed=1)
    assert not _same_state(m1.state_dict(), m3.state_dict())


class _Interrupting(nn.Module):
    """Wraps a model and raises after ``limit`` training-mode forward calls (a killed run)."""

    def __init__(self, inner: nn.Module, limit: int | None) -> None:
        super().__init__()
        self.inner, self.limit, self.calls = inner, limit, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.limit is not None and self.calls > self.limit:
                raise KeyboardInterrupt
        return self.inner(x)


def test_checkpoint_resume_gives_the_same_model_as_an_uninterrupted_run(digits, tmp_path):
    epochs = 4
    full = _Interrupting(get_model("lenet5", "digits", seed=0), None)
    train_float(full, digits, epochs=epochs, seed=0, checkpoint_dir=tmp_path / "full")
    batches_per_epoch = -(-len(digits.train) // 64)
    killed = _Interrupting(get_model("lenet5", "digits", seed=0), 2 * batches_per_epoch + 5)
    with pytest.raises(KeyboardInterrupt):
        train_float(killed, digits, epochs=epochs, seed=0, checkpoint_dir=tmp_path / "resumed")
    state = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert state["epoch"] == 2
    resumed = _Interrupting(get_model("lenet5", "digits", seed=0), None)
    result = train_float(resumed, digits, epochs=epochs, seed=0, checkpoint_dir=tmp_path / "resumed")
    assert result.resumed_from_epoch == 2 and len(result.history) == epochs
    assert _same_state(full.state_dict(), resumed.state_dict())
    # the final weights are a plain state_dict that loads with weights_only=True
    final = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)
    assert _same_state(final, resumed.state_dict())


def test_trained_model_cache(approxdse_home, digits, monkeypatch):
    assert home_dir() == approxdse_home / "cache"
    first = trained_float_model("lenet5", "digits", data=digits, seed=3, epochs=5)
    assert not first.from_cache and first.path.is_file() and first.path.is_relative_to(approxdse_home)
    assert first.float_accuracy == evaluate_accuracy(first.model, digits.test)

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although the model is cached")

    with monkeypatch.context() as patch:
        patch.setattr(model_cache, "train_float", no_training)
        second = trained_float_model("lenet5", "digits", data=digits, seed=3, epochs=5)
    assert second.from_cache and second.float_accuracy == first.float_accuracy
    assert _same_state(first.model.state_dict(), second.model.state_dict())
    # a corrupt cache file is retrained (with a warning), not a crash
    first.path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="retraining"):
        third = trained_float_model("lenet5", "digits", data=digits, seed=3, epochs=5)
    assert not third.from_cache and _same_state(first.model.state_dict(), third.model.state_dict())
    # a different seed is a different cache entry
    other = trained_float_model("lenet5", "digits", data=digits, seed=4, epochs=5)
    assert other.path != first.path


def test_load_checkpoint_rejects_missing_and_non_weight_files(tmp_path):
    with pytest.raises(ApproxDSEError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(ApproxDSEError, match="cannot be read as weights"):
        load_checkpoint(tmp_path / "bad.pt")


def test_evaluate_accuracy_accepts_datasets_splits_and_batch_iterables(digits):
    model = get_model("lenet5", "digits", seed=0)
    a = evaluate_accuracy(model, digits.test)
    b = evaluate_accuracy(model, digits)  # a DatasetSplits: its test split
    c = evaluate_accuracy(model, list(iterate_batches(digits.test, 50)))
    assert a == b == c and 0.0 <= a <= 1.0
    with pytest.raises(ApproxDSEError, match="empty dataset"):
        evaluate_accuracy(model, [])


def test_augment_batch_is_a_seeded_crop_or_flip():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    a = augment_batch(x, torch.Generator().manual_seed(0), pad=2)
    b = augment_batch(x, torch.Generator().manual_seed(0), pad=2)
    assert torch.equal(a, b) and a.shape == x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(torch.equal(a[i], w) or torch.equal(a[i], w.flip(2)) for w in windows)


def test_fine_tune_keeps_the_best_checkpoint_and_freezes_batchnorm(digits):
    model = get_model("resnet8", "digits", seed=0)
    train_float(model, digits, epochs=2, seed=0, batch_size=128)
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    stats = bn.running_mean.clone()
    start = evaluate_accuracy(model, digits.val)
    result = fine_tune(model, digits, epochs=2, lr=1e-3, seed=0)
    assert result.initial_val_accuracy == start
    assert result.best_val_accuracy >= start
    assert evaluate_accuracy(model, digits.val) == result.best_val_accuracy
    assert torch.equal(bn.running_mean, stats)  # statistics frozen
    with pytest.raises(ApproxDSEError, match="learning rate"):
        fine_tune(model, digits, epochs=1, lr=0)
    with pytest.raises(ApproxDSEError, match="DatasetSplits or a"):
        fine_tune(model, 5, epochs=1)
