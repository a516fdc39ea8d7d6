"""Resilience ranking per output channel and the iterative kernel-wise assignment (LeNet-5 on digits)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.channelwise import assign_channels
from approxdse.emulator.datasets import load_dataset
from approxdse.emulator.kernelwise import channel_sensitivity, kernelwise_assignment
from approxdse.emulator.training import emulate, iterate_batches, trained_float_model

torch.set_num_threads(1)
LADDER = ["u8_trunc_2", "u8_trunc_3", "u8_bam_h3_v9"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPROXDSE_HOME", str(tmp_path_factory.mktemp("home")))
        data = load_dataset("digits")
        model = trained_float_model("lenet5", "digits", data=data, seed=0, epochs=8)
        yield data, model


def _loss(qmodel, batches):
    with torch.no_grad():
        return float(np.mean([float(F.cross_entropy(qmodel(x), y)) for x, y in batches]))


def test_sensitivity_is_zero_for_the_exact_multiplier_and_ranks_channels(env):
    data, model = env
    q = emulate(model.model, "u8_exact", data)
    batches = list(iterate_batches(data.train, 128, limit=3))
    scores = channel_sensitivity(q, batches, ["u8_exact", "u8_bam_h3_v9"])
    assert set(scores) == {"features.0", "features.3", "classifier.1", "classifier.3", "classifier.5"}
    assert all(np.all(s["u8_exact"] == 0) for s in scores.values())
    heavy = scores["classifier.1"]["u8_bam_h3_v9"]
    assert heavy.shape == (120,) and np.all(heavy >= 0) and heavy.max() > 0
    # approximating the most resilient half of a layer hurts less than the most sensitive half
    order = np.argsort(heavy)
    losses = {}
    for label, chans in (("resilient", order[:60]), ("sensitive", order[60:])):
        assignment = ["u8_exact"] * 120
        for c in chans:
            assignment[c] = "u8_bam_h3_v9"
        qq = emulate(model.model, "u8_exact", data)
        assign_channels(qq, {"classifier.1": assignment})
        losses[label] = _loss(qq, batches)
    assert losses["resilient"] < losses["sensitive"]
    with pytest.raises(ApproxDSEError, match="signedness"):
        channel_sensitivity(q, batches, ["s8_exact"])


def test_kernelwise_assignment_saves_energy_within_the_budget(env):
    data, model = env
    res = kernelwise_assignment(model, LADDER, budget=0.02, data=data, max_rounds=8)
    assert res.ladder[0] == "u8_exact" and len(res.ladder) == 4
    assert res.exact_val_accuracy - res.val_accuracy <= 0.02 + 1e-12
    assert res.relative_energy < 1.0
    assert res.rounds <= 8 and len(res.history) == res.rounds
    assert {k: len(v) for k, v in res.channels.items()} == {"features.0": 6, "features.3": 16, "classifier.1": 120,
                                                              "classifier.3": 84, "classifier.5": 10}
    accepted = [h for h in res.history if h["accepted"]]
    assert accepted and accepted[-1]["relative_energy"] == pytest.approx(res.relative_energy)
    # the stored assignment reproduces the reported validation accuracy
    q = emulate(model.model, "u8_exact", data)
    assign_channels(q, res.channels)
    from approxdse.emulator.training import evaluate_accuracy
    assert evaluate_accuracy(q, data.val) == pytest.approx(res.val_accuracy)
    json.dumps(res.to_dict())
    with pytest.raises(ApproxDSEError, match="budget"):
        kernelwise_assignment(model, LADDER, budget=1.5, data=data)
    with pytest.raises(ApproxDSEError, match="mixes signed"):
        kernelwise_assignment(model, ["u8_trunc_2", "s8_exact"], data=data)


def test_cli_kernel_wise(env, capsys, monkeypatch):
    rc = main(["accuracy", "--network", "lenet5", "--epochs", "8", "--kernel-wise", "u8_trunc_2,u8_trunc_3",
               "--budget", "0.02", "--max-rounds", "3", "--format", "json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget"] == 0.02 and out["rounds"] <= 3 and out["relative_energy"] <= 1.0
    assert set(out["channels"]) >= {"features.0", "classifier.5"}
    assert main(["accuracy", "--network", "lenet5", "--budget", "0.02", "--multiplier", "u8_exact"]) == 2
