"""Kernel-wise approximation: per-output-channel multipliers, bit-exact, priced channel-weighted."""
import numpy as np
import pytest
import torch

from approxdse import multipliers
from approxdse.accelerators.estimate import estimate_energy
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import ApproxConv2d, ApproxLinear, EmulationConfig, approximate
from approxdse.emulator.channelwise import assign_channels, set_channel_multipliers
from approxdse.emulator.oracles import integer_conv, lut_conv_loops, structured_test_multipliers
from approxdse.emulator.quantization import quantize, weight_qparams
from approxdse.multipliers.channel_mix import ChannelMix
from approxdse.networks.tracing import trace_module
from approxdse.predictors.features import multiplier_feature_vector, per_layer_relative_energy


def _oracle(layer, x, per_channel):
    """Accumulators channel by channel from explicit LUT loops with that channel's LUT, plus the
    zero-point corrections (integer conv minus the exact-LUT loop sum), dequantised."""
    fmt = layer.fmt
    a_scale, a_zero = layer._activation_qparams(x)
    w_scale, w_zero = weight_qparams(layer.weight, fmt)
    w4 = layer.weight if layer.weight.dim() == 4 else layer.weight[:, :, None, None]
    x4 = x if x.dim() == 4 else x[:, :, None, None]
    geometry = layer._geometry()
    a = quantize(x4, a_scale, a_zero, fmt)
    w = quantize(w4, w_scale.view(-1, 1, 1, 1), w_zero.view(-1, 1, 1, 1), fmt)
    ai, wi = (a + fmt.index_offset).numpy(), (w + fmt.index_offset).numpy()
    pad = int(a_zero) + fmt.index_offset
    exact = multipliers.get("s8_exact" if fmt.signed else "u8_exact").lut
    corr = integer_conv(a, w, int(a_zero), w_zero, geometry).numpy() - lut_conv_loops(ai, wi, exact, geometry, pad)
    acc = np.zeros_like(corr)
    for name in {m.name for m in per_channel}:
        lut = next(m for m in per_channel if m.name == name).lut
        full = lut_conv_loops(ai, wi, lut, geometry, pad)
        for c, m in enumerate(per_channel):
            if m.name == name:
                acc[:, c] = full[:, c]
    acc = torch.from_numpy(acc + corr)
    step = (a_scale.double() * w_scale.double()).view(1, -1, 1, 1)
    if layer.bias is not None:
        acc = acc + torch.round(layer.bias.detach().double() / step.view(-1)).long().view(1, -1, 1, 1)
    out = (acc.double() * step).float()
    return out if x.dim() == 4 else out[:, :, 0, 0]


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("kind", ["conv", "grouped", "linear"])
def test_per_channel_multipliers_are_bit_exact(signed, kind):
    torch.manual_seed(0)
    tm = structured_test_multipliers(signed)
    if kind == "linear":
        layer_f, x = torch.nn.Linear(7, 6), torch.randn(3, 7)
    else:
        groups = 2 if kind == "grouped" else 1
        layer_f, x = torch.nn.Conv2d(4, 6, 3, padding=1, groups=groups), torch.randn(2, 4, 5, 5)
    per_channel = [tm["random"], tm["exact"], tm["bam"], tm["random"], tm["masked"], tm["exact"]]
    for backend, mode in (("reference", "lut"), ("cpu", "lut")):
        cfg = EmulationConfig(backend=backend, mode=mode)
        cls = ApproxLinear if kind == "linear" else ApproxConv2d
        layer = cls.from_float(layer_f, tm["exact"], cfg)
        layer.set_activation_range(float(x.min()), float(x.max()))
        set_channel_multipliers(layer, per_channel)
        assert layer.channel_mix.counts()[tm["random"].name] == 2
        with torch.no_grad():
            got = layer(x)
        assert torch.equal(got, _oracle(layer, x, per_channel)), (backend, mode)
        # the same as one single-multiplier layer per channel
        for c, m in enumerate(per_channel):
            single = cls.from_float(layer_f, m, cfg)
            single.set_activation_range(float(x.min()), float(x.max()))
            with torch.no_grad():
                assert torch.equal(got[:, c], single(x)[:, c])


def test_channel_assignment_errors_and_reset():
    layer = ApproxLinear.from_float(torch.nn.Linear(4, 3), multipliers.get("u8_exact"))
    with pytest.raises(ApproxDSEError, match="3 output channels"):
        set_channel_multipliers(layer, ["u8_exact"] * 2)
    with pytest.raises(ApproxDSEError, match="signed"):
        set_channel_multipliers(layer, ["u8_exact", "s8_exact", "u8_exact"])
    set_channel_multipliers(layer, ["u8_trunc_2"] * 3)  # uniform: the layer's multiplier
    assert layer.channel_mix is None and layer.multiplier.name == "u8_trunc_2"
    set_channel_multipliers(layer, ["u8_trunc_2", "u8_exact", "u8_exact"])
    assert layer.channel_mix is not None
    layer.set_multiplier(multipliers.get("u8_exact"))
    assert layer.channel_mix is None
    with pytest.raises(ApproxDSEError, match="not an approximate"):
        assign_channels(torch.nn.Sequential(layer), {"1": ["u8_exact"] * 3})


def test_energy_and_features_price_the_channel_weighted_mix():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
    q = approximate(net, "u8_exact")
    mix = ["u8_exact", "u8_exact", "u8_trunc_2", "u8_bam_h3_v9"]
    assign_channels(q, {"0": mix})
    trace = trace_module(q, (1, 1, 8, 8))
    priced = trace.multipliers["0"]
    want = np.mean([multipliers.get(n).relative_energy for n in mix])
    assert isinstance(priced, ChannelMix) and priced.relative_energy == pytest.approx(want)
    traced = estimate_energy(q, "eyeriss", input_shape=(1, 1, 8, 8))
    listed = estimate_energy(net, "eyeriss", input_shape=(1, 1, 8, 8), multiplier="u8_exact",
                             layer_multipliers={"0": mix})
    assert traced.energy_pJ == pytest.approx(listed.energy_pJ)
    layer0 = next(r for r in listed.layers if r.name == "0")
    exact = estimate_energy(net, "eyeriss", input_shape=(1, 1, 8, 8), multiplier="u8_exact")
    e0 = next(r for r in exact.layers if r.name == "0")
    assert layer0.components["multiplier"] == pytest.approx(e0.components["multiplier"] * want)
    assert layer0.relative_energy == pytest.approx(want) and layer0.energy_pJ < e0.energy_pJ
    with pytest.raises(ApproxDSEError, match="4 output channels"):
        estimate_energy(net, "eyeriss", input_shape=(1, 1, 8, 8), layer_multipliers={"0": mix[:3]})
    vec = multiplier_feature_vector(mix)
    assert vec[0] == pytest.approx(want)
    assert per_layer_relative_energy(trace.workload, {"0": mix})[0] == pytest.approx(want)
