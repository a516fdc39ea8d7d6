"""Progress of float training: a line per epoch on stderr when it is not a terminal, a
batch-level bar otherwise, nothing with --no-progress; and the weights do not depend on it."""
from __future__ import annotations

import pytest
import torch

from approxdse.emulator.datasets import load_dataset
from approxdse.emulator.training import train_float
from approxdse.emulator.training_progress import progress_mode
from approxdse.networks.torch_models import get_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _train(digits, progress):
    model = get_model("lenet5", "digits", seed=0)
    train_float(model, digits, epochs=2, seed=0, progress=progress)
    return model.state_dict()


def test_lines_bar_and_silence(digits, capsys):
    quiet = _train(digits, False)
    assert capsys.readouterr().err == ""
    lines = _train(digits, "lines")
    err = capsys.readouterr().err.splitlines()
    batches = -(-len(digits.train.tensors[0]) // 64)
    assert err[0] == f"approxdse: train 2 epochs, {batches} batches each"
    assert [e.split(":")[1] for e in err[1:]] == [" train epoch 1/2", " train epoch 2/2"]
    assert all("loss" in e and "val acc" in e for e in err[1:])
    bar = _train(digits, True)
    err = capsys.readouterr().err
    assert "train epoch 2/2" in err and f"/{2 * batches}" in err  # advanced per batch
    for state in (lines, bar):
        assert all(torch.equal(quiet[k], state[k]) for k in quiet)


def test_progress_mode(monkeypatch):
    assert progress_mode(False) is False and progress_mode(True) is True
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert progress_mode(None) == "lines"


class _Stop(Exception):
    pass


@pytest.mark.parametrize("flags, tty, expected", [
    ((), False, "lines"), ((), True, True), (("--no-progress",), False, False),
    (("--no-progress",), True, False), (("--progress",), False, True),
])
def test_accuracy_cli_passes_the_progress_mode(monkeypatch, flags, tty, expected):
    """What ``approxdse accuracy`` hands to the training (the run itself is in test_accuracy_cli.py)."""
    from approxdse import cli
    from approxdse.emulator import training

    seen = {}

    def fake_report(*args, progress, **kwargs):
        seen["progress"] = progress
        raise _Stop

    monkeypatch.setattr(training, "accuracy_report", fake_report)
    monkeypatch.setattr("sys.stderr.isatty", lambda: tty)
    with pytest.raises(_Stop):
        cli.main(["accuracy", "lenet5", "--dataset", "digits", "--multiplier", "u8_exact", *flags])
    assert seen["progress"] == expected and type(seen["progress"]) is type(expected)
