"""The layer error model: exact on constructed cases, close to the emulator, correlation matters."""
import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from approxdse import multipliers
from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import approximate, calibrate
from approxdse.emulator.error_model import (
    LayerStatistics, emulated_layer_error, estimate_table, layer_statistics, predict_layer_error,
)
from approxdse.emulator.oracles import structured_test_multipliers
from approxdse.multipliers.multiplier import Multiplier, exact_lut

torch.set_num_threads(1)


def _constant_error(delta: int) -> Multiplier:
    return Multiplier("const_err", signed=False, lut=exact_lut(False) + delta, family="custom", relative_energy=0.5)


def test_constant_error_gives_exact_mean_and_zero_variance():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 4))
    q = approximate(net, "u8_exact")
    x = torch.rand(64, 6)
    calibrate(q, [x])
    stats = layer_statistics(q, [x])["0"]
    pred = predict_layer_error(stats, _constant_error(3))
    assert np.allclose(pred.mean, 3 * 6) and np.allclose(pred.variance, 0)
    emulated = emulated_layer_error(q, [x], _constant_error(3), ["0"])["0"]
    # the emulated error is 18 codes^2 times each channel's step: its std over channels is the model's
    assert pred.std == pytest.approx(emulated, rel=1e-4)  # float32 outputs


def test_correlated_activations_are_modelled():
    """The same activation duplicated across the reduction (an extreme case): the measured covariance
    moves the prediction most of the way from the independent-products one towards the emulated std
    (the residuals, taken as uncorrelated, are the rest)."""
    torch.manual_seed(1)
    lin = torch.nn.Linear(8, 3, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.5)
    q = approximate(torch.nn.Sequential(lin), "u8_exact")
    base = torch.rand(4000, 1)
    x = base.repeat(1, 8)  # perfectly correlated inputs
    calibrate(q, [x])
    mult = structured_test_multipliers(False)["bam"]  # an error that grows with the operand
    stats = layer_statistics(q, [x])["0"]
    pred = predict_layer_error(stats, mult)
    emulated = emulated_layer_error(q, [x], mult, ["0"])["0"]
    independent = LayerStatistics(stats.name, stats.signed, stats.w_index, stats.step, stats.marginals,
                                  np.diag(np.diag(stats.covariance)), stats.patches, stats.outputs_per_channel)
    ind = predict_layer_error(independent, mult)
    assert abs(pred.std / emulated - 1) < 0.1
    assert ind.std < 0.5 * emulated  # independent products: sqrt(1/8) of it


def test_conv_layers_track_the_emulator_over_multipliers():
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 6, 3, padding=1), torch.nn.ReLU(inplace=True),
                              torch.nn.Conv2d(6, 5, 3, stride=2), torch.nn.Flatten())
    q = approximate(net, "u8_exact")
    x = torch.randn(32, 2, 9, 9)
    calibrate(q, [x])
    names = ["u8_bam_h0_v6", "u8_bam_h2_v8", "u8_trunc_2", "u8_trunc_4", "u8_drum_4", "u8_mitchell", "u8_etm_4"]
    names = [n for n in names if n in multipliers.names()]
    rows = estimate_table(q, [x], names)
    assert {r["layer"] for r in rows} == {"0", "2"}
    p = np.array([r["predicted_std"] for r in rows])
    e = np.array([r["emulated_std"] for r in rows])
    assert spearmanr(p, e).statistic > 0.9
    assert np.median(p / e) == pytest.approx(1.0, abs=0.2)
    with pytest.raises(ApproxDSEError, match="signed"):
        predict_layer_error(layer_statistics(q, [x])["0"], "s8_exact")


def test_cli_estimate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("APPROXDSE_HOME", str(tmp_path / "home"))
    assert main(["accuracy", "lenet5", "--epochs", "2", "--multiplier", "u8_trunc_3", "--estimate",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["error_model"]
    assert [r["layer"] for r in rows] == ["features.0", "features.3", "classifier.1", "classifier.3",
                                          "classifier.5"]
    for r in rows:
        assert r["multiplier"] == "u8_trunc_3" and r["predicted_std"] > 0
        assert 0.5 < r["predicted_std"] / r["emulated_std"] < 2.0
