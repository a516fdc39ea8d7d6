"""Accuracy through the emulator on digits: 8-bit exact within a point of float, a heavily
approximate multiplier loses accuracy and fine-tuning wins some back, per-layer assignment,
exact modes agreeing with the LUT, and the sweep (with resume)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers import Multiplier
from approxdse.emulator import sweep
from approxdse.emulator.datasets import load_dataset
from approxdse.emulator.training import (
    SWEEP_CSV,
    SWEEP_PNG,
    accuracy_report,
    accuracy_sweep,
    emulate,
    layer_assignment,
    layer_macs,
    trained_float_model,
)

torch.set_num_threads(1)


def operand_truncation(bits: int, name: str) -> Multiplier:
    """An unsigned multiplier that drops the ``bits`` low bits of both operands: a heavy,
    biased error, written here so the test does not depend on the catalog's contents."""
    v = np.arange(256)
    kept = (v >> bits) << bits
    return Multiplier(name, signed=False, lut=np.multiply.outer(kept, kept), family="custom",
                      relative_energy=0.3)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPROXDSE_HOME", str(tmp_path_factory.mktemp("home")))
        data = load_dataset("digits")
        model = trained_float_model("lenet5", "digits", data=data, seed=0)
        yield data, model


def _in_unit(*values):
    return all(0.0 <= v <= 1.0 for v in values)


@pytest.mark.parametrize("name", ["u8_exact", "s8_exact"])
def test_exact_8bit_accuracy_is_within_one_point_of_float(env, name):
    data, model = env
    r = accuracy_report("lenet5", "digits", name, data=data, float_model=model)
    assert r.float_accuracy >= 0.93
    assert r.exact_8bit_accuracy >= r.float_accuracy - 0.01
    assert r.approx_accuracy == r.exact_8bit_accuracy  # the multiplier *is* exact
    assert _in_unit(r.float_accuracy, r.exact_8bit_accuracy, r.approx_accuracy)
    assert r.relative_energy == 1.0 and r.signed == name.startswith("s8")
    d = r.to_dict()
    assert {"float_accuracy", "exact_8bit_accuracy", "approx_accuracy"} <= set(d)
    assert d["accuracy_drop"] == 0.0


def test_heavy_multiplier_loses_accuracy_and_fine_tuning_wins_some_back(env):
    data, model = env
    heavy = operand_truncation(3, "drop3")
    r = accuracy_report("lenet5", "digits", heavy, data=data, float_model=model, fine_tune_epochs=2)
    assert r.approx_accuracy <= r.exact_8bit_accuracy - 0.10, r
    assert r.fine_tuned_accuracy >= r.approx_accuracy + 0.05, r
    assert r.fine_tune_time_s > 0 and r.extra["fine_tune"]["best_epoch"] >= 1
    # the cached float model was not touched by fine-tuning (it works on a copy)
    again = accuracy_report("lenet5", "digits", heavy, data=data, float_model=model)
    assert again.approx_accuracy == r.approx_accuracy


def test_per_layer_assignment_and_mac_weighted_energy(env):
    data, model = env
    heavy = operand_truncation(4, "drop4")
    r = accuracy_report("lenet5", "digits", "u8_exact", layers={"classifier.*": heavy}, data=data,
                        float_model=model)
    assert r.multipliers == {"features.0": "u8_exact", "features.3": "u8_exact", "classifier.1": "drop4",
                             "classifier.3": "drop4", "classifier.5": "drop4"}
    macs = layer_macs(model.model, data.test.tensors[0])
    total = sum(macs.values())
    fc = sum(v for k, v in macs.items() if k.startswith("classifier"))
    assert macs["features.0"] == 8 * 8 * 6 * 9  # 6 output channels, 8x8 outputs, 3x3x1 window
    assert r.relative_energy == pytest.approx((total - fc + 0.3 * fc) / total)
    assert r.approx_accuracy < r.exact_8bit_accuracy
    with pytest.raises(ApproxDSEError, match="'conv9' not in the network; its layers are features.0"):
        layer_assignment(model.model, "u8_exact", {"conv9": "u8_exact"})
    with pytest.raises(ApproxDSEError, match="no multiplier given for layer 'features.0'"):
        layer_assignment(model.model, None, {"classifier.*": "u8_exact"})


def test_exact_decomposition_agrees_with_the_lut_on_a_structured_multiplier(env):
    data, model = env
    lut = accuracy_report("lenet5", "digits", "u8_bam_h2_v6", data=data, float_model=model, mode="lut")
    dec = accuracy_report("lenet5", "digits", "u8_bam_h2_v6", data=data, float_model=model,
                          mode="exact-decomposition")
    assert dec.approx_accuracy == lut.approx_accuracy
    q1 = emulate(model.model, "u8_bam_h2_v6", data, mode="lut")
    q2 = emulate(model.model, "u8_bam_h2_v6", data, mode="exact-decomposition")
    x = data.test.tensors[0][:64]
    with torch.no_grad():
        assert torch.equal(q1(x), q2(x))


def test_noise_mode_is_reproducible_for_a_seed(env):
    data, model = env
    a = accuracy_report("lenet5", "digits", "u8_drum_4", data=data, float_model=model, mode="noise")
    b = accuracy_report("lenet5", "digits", "u8_drum_4", data=data, float_model=model, mode="noise")
    assert a.approx_accuracy == b.approx_accuracy and _in_unit(a.approx_accuracy)
    with pytest.raises(ApproxDSEError, match="unknown emulation option"):
        emulate(model.model, "u8_exact", data, bogus=1)


def test_sweep_writes_csv_and_plot_and_resumes(env, tmp_path, monkeypatch):
    data, model = env
    names = ["u8_exact", "s8_exact", "u8_trunc_3"]
    real = sweep.accuracy_report
    calls = []

    def interrupted(network, dataset, m, **kw):
        calls.append(m.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(network, dataset, m, **kw)

    monkeypatch.setattr(sweep, "accuracy_report", interrupted)
    with pytest.raises(KeyboardInterrupt):
        accuracy_sweep("lenet5", "digits", names, out_dir=tmp_path, data=data, progress=False)
    assert len(pd.read_csv(tmp_path / "accuracy_sweep.partial.csv")) == 2
    assert not (tmp_path / SWEEP_CSV).exists()

    def counting(network, dataset, m, **kw):
        calls.append(m.name)
        return real(network, dataset, m, **kw)

    calls.clear()
    monkeypatch.setattr(sweep, "accuracy_report", counting)
    table = accuracy_sweep("lenet5", "digits", names, out_dir=tmp_path, data=data, progress=False)
    assert calls == ["u8_trunc_3"]  # the first two came from the partial results
    assert list(table["multiplier"]) == names
    on_disk = pd.read_csv(tmp_path / SWEEP_CSV)
    assert list(on_disk["multiplier"]) == names
    assert {"relative_energy", "approx_accuracy", "exact_8bit_accuracy", "float_accuracy"} <= set(on_disk)
    assert (tmp_path / SWEEP_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    exact = on_disk.set_index("multiplier")
    assert exact.loc["u8_exact", "approx_accuracy"] == exact.loc["u8_exact", "exact_8bit_accuracy"]
    assert exact.loc["u8_trunc_3", "relative_energy"] < 1.0
    assert not (tmp_path / "accuracy_sweep.partial.csv").exists()


def test_sweep_records_multipliers_a_mode_cannot_run(env, tmp_path):
    data, _ = env
    table = accuracy_sweep("lenet5", "digits", ["u8_bam_h2_v6", "u8_mitchell"], data=data, progress=False,
                           mode="exact-decomposition")
    rows = table.set_index("multiplier")
    assert rows.loc["u8_bam_h2_v6", "error"] == ""
    assert not math.isnan(rows.loc["u8_bam_h2_v6", "approx_accuracy"])
    # Mitchell has no low-rank or bit-plane structure: the row says why instead of aborting the sweep
    assert "no exact decomposition" in rows.loc["u8_mitchell", "error"]
    assert math.isnan(rows.loc["u8_mitchell", "approx_accuracy"])


def test_report_on_a_custom_module(env):
    data, _ = env
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 8 * 8, 10))
    r = accuracy_report(net, "digits", "s8_exact", data=data, epochs=5)
    assert r.network == "Sequential" and r.epochs == 5 and not r.float_model_cached
    assert r.float_accuracy > 0.8
    assert r.approx_accuracy == r.exact_8bit_accuracy >= r.float_accuracy - 0.02
    assert set(r.multipliers) == {"0", "3"}
