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


class _Shared(torch.nn.Module):
    """A depthwise conv, a grouped conv, and one linear layer applied twice (shared weights)."""

    def __init__(self):
        super().__init__()
        self.dw = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.grouped = torch.nn.Conv2d(4, 6, 3, groups=2)
        self.fc = torch.nn.Linear(6, 6)

    def forward(self, x):
        y = torch.relu(self.grouped(torch.relu(self.dw(x)))).mean(dim=(2, 3))
        return self.fc(torch.relu(self.fc(y)))


def test_grouped_convs_and_reused_layers_are_modelled():
    torch.manual_seed(3)
    q = approximate(_Shared(), "u8_exact")
    x = torch.randn(48, 4, 7, 7)
    calibrate(q, [x])
    stats = layer_statistics(q, [x])
    assert set(stats) == {"dw", "grouped", "fc"}
    assert stats["dw"].groups == 4 and stats["dw"].covariance.shape == (4, 9, 9)
    assert stats["grouped"].groups == 2 and stats["fc"].calls == 2 and stats["fc"].groups == 1
    names = [n for n in ("u8_bam_h0_v6", "u8_bam_h2_v8", "u8_trunc_2", "u8_trunc_4", "u8_drum_4", "u8_mitchell")
             if n in multipliers.names()]
    rows = estimate_table(q, [x], names)
    p = np.array([r["predicted_std"] for r in rows])
    e = np.array([r["emulated_std"] for r in rows])
    assert spearmanr(p, e).statistic > 0.9 and np.median(p / e) == pytest.approx(1.0, abs=0.2)
    for layer in ("dw", "grouped", "fc"):  # each layer on its own too
        ratio = [r["predicted_std"] / r["emulated_std"] for r in rows if r["layer"] == layer]
        assert 0.8 < np.median(ratio) < 1.25, (layer, ratio)
    # an uncalibrated shared layer (per-call scales) is left out, with the reason
    from approxdse.emulator.error_model import measure_statistics

    raw = approximate(_Shared(), "u8_exact")
    _, skipped = measure_statistics(raw, [x])
    assert "fc" in skipped and "2 times" in skipped["fc"]


class _Rows(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(8, 6, batch_first=True)
        self.fc = torch.nn.Linear(6, 4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("cell", [torch.nn.LSTM, torch.nn.GRU])
def test_recurrent_matmuls_are_a_mixture_of_their_time_steps(cell):
    """The hidden-state matmul runs once per time step on inputs that differ per step (h_0 = 0):
    each step has its own statistics, and the prediction is their mixture."""
    torch.manual_seed(4)
    q = approximate(_Rows(cell), "u8_exact")
    x = torch.rand(64, 8, 8)
    calibrate(q, [x])
    stats = layer_statistics(q, [x])
    hh = [n for n, st in stats.items() if st.calls > 1]
    assert hh and all(len(stats[n].per_call) == stats[n].calls == 8 for n in hh)
    rows = estimate_table(q, [x], ["u8_trunc_3", "u8_bam_h2_v6"])
    for r in rows:
        if r["layer"] in hh:
            assert r["predicted_std"] == pytest.approx(r["emulated_std"], rel=0.1), r


def test_a_layer_the_model_cannot_handle_is_named_with_the_reason():
    from approxdse.emulator.error_model import format_estimate, measure_statistics

    class Unused(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.used(x)

    q = approximate(Unused(), "u8_exact")
    x = torch.rand(16, 4)
    calibrate(q, [x])
    stats, skipped = measure_statistics(q, [x])
    assert set(stats) == {"used"} and skipped == {"spare": "not called in the forward pass"}
    text = format_estimate([{"layer": "used", "multiplier": "u8_trunc_2", "predicted_std": 0.1, "emulated_std": 0.1},
                            {"layer": "spare", "multiplier": "u8_trunc_2", "predicted_std": None,
                             "emulated_std": None, "skipped": skipped["spare"]}])
    assert "spare  u8_trunc_2  not modelled: not called in the forward pass" in text
