"""ApproxLSTM / ApproxGRU / ApproxRNN: bit-exact with an integer oracle, swapped by approximate(), traced per step."""
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import EmulationConfig, approximate, calibrate
from approxdse.emulator.oracles import structured_test_multipliers
from approxdse.emulator.quantization import quantize, weight_qparams
from approxdse.emulator.recurrent import ApproxGRU, ApproxLSTM, ApproxRecurrent
from approxdse.emulator.training import approximable_layers, layer_macs
from approxdse.networks.tracing import trace_module


class Wrap(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, hx=None):
        return self.rnn(x, hx)


def _oracle_matmul(layer, x):
    """An integer accelerator's ``W x + b`` for one ApproxLinear: numpy LUT gather, int64 sums, dequantise."""
    fmt = layer.fmt
    a_scale, a_zero = layer.act_scale, int(layer.act_zero_point)
    w_scale, w_zero = weight_qparams(layer.weight, fmt)
    flat = x.reshape(-1, x.shape[-1])
    a = quantize(flat, a_scale, torch.tensor(a_zero), fmt).numpy()
    w = quantize(layer.weight, w_scale.view(-1, 1), w_zero.view(-1, 1), fmt).numpy()
    lut = layer.multiplier.lut.astype(np.int64)
    off = fmt.index_offset
    prods = lut[(a + off)[:, None, :], (w + off)[None, :, :]].sum(axis=2)  # [B, M]
    acc = prods - w_zero.numpy()[None, :] * (a - a_zero).sum(axis=1)[:, None] - a_zero * w.sum(axis=1)[None, :]
    step = a_scale.double() * w_scale.double()
    if layer.bias is not None:
        acc = acc + torch.round(layer.bias.detach().double() / step).long().numpy()[None, :]
    out = (torch.from_numpy(acc).double() * step[None, :]).float()
    return out.reshape(*x.shape[:-1], -1)


def _oracle(q: ApproxRecurrent, x: torch.Tensor) -> torch.Tensor:
    """The whole sequence output, time first / batch first as the layer, from the matmul oracle."""
    seq = x.transpose(0, 1) if q.batch_first else x
    dirs = 2 if q.bidirectional else 1
    for k in range(q.num_layers):
        outs = []
        for d in range(dirs):
            cell = getattr(q, f"l{k}{'_reverse' if d else ''}")
            s = seq.flip(0) if d else seq
            gi = _oracle_matmul(cell.ih, s)
            h = torch.zeros(s.shape[1], q.hidden_size)
            c = torch.zeros_like(h)
            hs = []
            for t in range(s.shape[0]):
                gh = _oracle_matmul(cell.hh, h)
                if q.recurrent_cell == "LSTM":
                    i, f, g, o = (gi[t] + gh).chunk(4, dim=-1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                elif q.recurrent_cell == "GRU":
                    r = torch.sigmoid(gi[t][:, :q.hidden_size] + gh[:, :q.hidden_size])
                    z = torch.sigmoid(gi[t][:, q.hidden_size:2 * q.hidden_size] + gh[:, q.hidden_size:2 * q.hidden_size])
                    n = torch.tanh(gi[t][:, 2 * q.hidden_size:] + r * gh[:, 2 * q.hidden_size:])
                    h = (1 - z) * n + z * h
                else:
                    h = torch.tanh(gi[t] + gh)
                hs.append(h)
            out = torch.stack(hs)
            outs.append(out.flip(0) if d else out)
        seq = torch.cat(outs, dim=-1)
    return seq.transpose(0, 1) if q.batch_first else seq


CASES = [
    (nn.LSTM, dict(num_layers=1, batch_first=True)),
    (nn.LSTM, dict(num_layers=2, batch_first=False, bidirectional=True)),
    (nn.GRU, dict(num_layers=2, batch_first=True)),
    (nn.GRU, dict(num_layers=1, batch_first=False, bidirectional=True, bias=False)),
    (nn.RNN, dict(num_layers=2, batch_first=True)),
]


@pytest.mark.parametrize("cls,kw", CASES)
@pytest.mark.parametrize("signed", [False, True])
def test_recurrent_layers_are_bit_exact_with_the_integer_oracle(cls, kw, signed):
    torch.manual_seed(3)
    mult = structured_test_multipliers(signed)["random"]
    model = Wrap(cls(6, 5, **kw))
    x = torch.randn(3, 4, 6)
    for backend in ("reference", "cpu"):
        q = approximate(model, mult, backend=backend)
        calibrate(q, [x])
        with torch.no_grad():
            got = q(x)[0]
        assert torch.equal(got, _oracle(q.rnn, x)), backend


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_exact_multiplier_tracks_the_float_layer_and_states(cls):
    torch.manual_seed(0)
    model = Wrap(cls(8, 16, num_layers=2, batch_first=True))
    x = torch.randn(4, 7, 8)
    q = approximate(model, "u8_exact")
    assert type(q.rnn).__name__ == {nn.LSTM: "ApproxLSTM", nn.GRU: "ApproxGRU"}[cls]
    calibrate(q, [x])
    with torch.no_grad():
        ref, got = model(x), q(x)
    assert got[0].shape == ref[0].shape
    assert torch.allclose(got[0], ref[0], atol=0.02)
    ref_h = ref[1][0] if cls is nn.LSTM else ref[1]
    got_h = got[1][0] if cls is nn.LSTM else got[1]
    assert torch.allclose(got_h, ref_h, atol=0.02)
    assert torch.equal(got_h[-1], got[0][:, -1])  # the last layer's final state is the last output


def test_initial_state_and_unbatched_inputs():
    torch.manual_seed(1)
    lstm = nn.LSTM(4, 3)
    q = ApproxLSTM.from_float(lstm, multipliers.get("u8_exact"))
    x = torch.randn(5, 4)  # unbatched (time, features)
    h0, c0 = torch.randn(1, 3), torch.randn(1, 3)
    with torch.no_grad():
        out, (h, c) = q(x, (h0, c0))
        ref, (rh, rc) = lstm(x, (h0, c0))
    assert out.shape == ref.shape and h.shape == rh.shape and c.shape == rc.shape
    assert torch.allclose(out, ref, atol=0.05)
    with pytest.raises(ApproxDSEError, match="initial state must have shape"):
        q(torch.randn(5, 2, 4), (torch.zeros(2, 2, 3), torch.zeros(2, 2, 3)))
    with pytest.raises(ApproxDSEError, match="expected a"):
        q(torch.randn(5, 2, 7))
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(5, 2, 4), [5, 3])
    with pytest.raises(ApproxDSEError, match="PackedSequence"):
        q(packed)


def test_per_matmul_multipliers_and_unsupported_layers():
    model = Wrap(nn.GRU(4, 6, num_layers=2))
    bam = multipliers.get("u8_bam_h3_v9")
    q = approximate(model, {"rnn": "u8_exact", "rnn.l1.hh": bam})
    names = {n: m.multiplier.name for n, m in q.rnn.matmuls().items()}
    assert names == {"l0.ih": "u8_exact", "l0.hh": "u8_exact", "l1.ih": "u8_exact", "l1.hh": bam.name}
    with pytest.raises(ApproxDSEError, match="does not exist"):
        approximate(model, {"rnn.l2.hh": bam})
    proj = Wrap(nn.LSTM(4, 6, proj_size=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = approximate(proj, "u8_exact")
    assert isinstance(out.rnn, nn.LSTM) and any("proj_size" in str(w.message) for w in caught)
    with pytest.raises(ApproxDSEError, match="proj_size"):
        ApproxLSTM.from_float(nn.LSTM(4, 6, proj_size=2), multipliers.get("u8_exact"))
    with pytest.raises(ApproxDSEError, match="cannot become"):
        ApproxGRU.from_float(nn.LSTM(4, 6), multipliers.get("u8_exact"))


def test_straight_through_gradients_reach_every_gate_matmul():
    torch.manual_seed(2)
    q = approximate(Wrap(nn.LSTM(4, 5, batch_first=True)), "u8_exact")
    x = torch.randn(2, 3, 4)
    calibrate(q, [x])
    q.train()
    out, _ = q(x)
    out.sum().backward()
    for layer in q.rnn.matmuls().values():
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_trace_lists_matmuls_per_time_step_with_their_multipliers():
    bam = multipliers.get("u8_bam_h3_v9")
    model = Wrap(nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True))
    float_trace = trace_module(model, (3, 5, 8))
    q = approximate(model, {"rnn": "u8_exact", "rnn.l1_reverse.ih": bam})
    trace = trace_module(q, (3, 5, 8))
    assert [l.shape_key() for l in trace.workload] == [l.shape_key() for l in float_trace.workload]
    assert len(trace.workload) == 2 * 2 * 5 * 2
    first = trace.workload["rnn.l0.ih.t0"]
    assert (first.C, first.M, first.N, first.kind) == (8, 64, 3, "fc")
    assert trace.workload["rnn.l1.ih.t4"].C == 32 and trace.workload["rnn.l1.hh.t4"].C == 16
    assert trace.workload.macs == sum(layer_macs(model, torch.zeros(3, 5, 8)).values()) * 3
    assert trace.multipliers["rnn.l1_reverse.ih.t2"].name == bam.name
    assert trace.multipliers["rnn.l0.hh.t0"].name == "u8_exact"
    assert "rnn.l0.ih" in approximable_layers(model) and "rnn" not in approximable_layers(model)


def test_noise_and_low_rank_modes_run_through_recurrent_layers():
    torch.manual_seed(4)
    model = Wrap(nn.GRU(4, 6, batch_first=True))
    x = torch.randn(2, 3, 4)
    for mode in ("noise", "low-rank"):
        q = approximate(model, structured_test_multipliers(False)["lowrank_err"], config=EmulationConfig(mode=mode))
        calibrate(q, [x])
        with torch.no_grad():
            assert q(x)[0].shape == (2, 3, 6)


def test_accuracy_report_on_a_recurrent_network_with_per_matmul_layers():
    from approxdse.emulator.training import accuracy_report

    rep = accuracy_report("gru_digits", "digits", "u8_exact", layers={"rnn.l1.*": "u8_bam_h3_v9"}, epochs=1)
    assert rep.multipliers["rnn.l1.hh"] == "u8_bam_h3_v9" and rep.multipliers["rnn.l0.ih"] == "u8_exact"
    assert set(rep.multipliers) == {"rnn.l0.ih", "rnn.l0.hh", "rnn.l1.ih", "rnn.l1.hh", "fc"}
    bam = multipliers.get("u8_bam_h3_v9").relative_energy
    assert bam < rep.relative_energy < 1.0  # MAC-weighted over the matmuls
    assert 0.0 <= rep.approx_accuracy <= 1.0 and rep.exact_8bit_accuracy > 0.3
