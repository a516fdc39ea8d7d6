"""ApproxConv2d / ApproxLinear: the exact multiplier reproduces integer conv; backends and modes agree."""
import pytest
import torch

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import ApproxConv2d, ApproxLinear, EmulationConfig
from approxdse.emulator.oracles import integer_conv, structured_test_multipliers
from approxdse.emulator.quantization import quantize, weight_qparams

CONVS = [
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=1, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(0, 2), groups=2),
    dict(in_channels=6, out_channels=6, kernel_size=3, stride=2, padding=2, dilation=2, groups=6),
    dict(in_channels=5, out_channels=7, kernel_size=1, bias=False),
]


def _integer_reference(layer, x):
    """The accumulators an integer accelerator computes, from the layer's own quantisation."""
    fmt = layer.fmt
    a_scale, a_zero = layer._activation_qparams(x)
    w_scale, w_zero = weight_qparams(layer.weight, fmt)
    a = quantize(x, a_scale, a_zero, fmt)
    w = quantize(layer.weight, w_scale.view(-1, 1, 1, 1), w_zero.view(-1, 1, 1, 1), fmt)
    return integer_conv(a, w, int(a_zero), w_zero, layer._geometry()), a_scale, w_scale


@pytest.mark.parametrize("spec", CONVS)
@pytest.mark.parametrize("name", ["u8_exact", "s8_exact"])
def test_exact_multiplier_layer_equals_integer_conv(spec, name):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(**spec)
    x = torch.randn(2, spec["in_channels"], 9, 8)
    for backend in ("reference", "cpu"):
        for mode in ("lut", "exact-decomposition"):
            layer = ApproxConv2d.from_float(conv, multipliers.get(name), EmulationConfig(backend=backend, mode=mode))
            layer.set_activation_range(float(x.min()), float(x.max()))
            expected, a_scale, w_scale = _integer_reference(layer, x)
            with torch.no_grad():
                ops_out = layer(x)
            bias_q = torch.zeros(spec["out_channels"], dtype=torch.int64) if conv.bias is None else \
                torch.round(conv.bias.detach().double() / (a_scale.double() * w_scale.double())).long()
            want = (expected + bias_q.view(1, -1, 1, 1)).double() * (a_scale.double() * w_scale.double()).view(1, -1, 1, 1)
            assert torch.equal(ops_out, want.float()), (backend, mode)
            # and it is close to the float layer
            ref = conv(x).detach()
            assert torch.allclose(ops_out, ref, atol=0.05 * float(ref.abs().max()))


@pytest.mark.parametrize("signed", [False, True])
def test_backends_and_exact_modes_agree_on_an_approximate_multiplier(signed):
    torch.manual_seed(1)
    mult = structured_test_multipliers(signed)["bam"]
    conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    x = torch.randn(3, 4, 10, 10)
    outs = []
    for backend in ("reference", "cpu"):
        for mode in ("lut", "exact-decomposition"):
            layer = ApproxConv2d.from_float(conv, mult, EmulationConfig(backend=backend, mode=mode))
            layer.set_activation_range(-3, 3)
            with torch.no_grad():
                outs.append(layer(x))
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    with torch.no_grad():
        exact = ApproxConv2d.from_float(conv, multipliers.get("s8_exact" if signed else "u8_exact"))
        exact.set_activation_range(-3, 3)
        assert not torch.equal(outs[0], exact(x))  # the multiplier does change the result


def test_linear_layer_with_extra_leading_dims():
    torch.manual_seed(2)
    lin = torch.nn.Linear(10, 3)
    x = torch.randn(2, 5, 10)
    layer = ApproxLinear.from_float(lin, multipliers.get("u8_exact"))
    with torch.no_grad():
        y = layer(x)
    assert y.shape == (2, 5, 3)
    assert torch.allclose(y, lin(x), atol=0.05)
    outs = [ApproxLinear.from_float(lin, structured_test_multipliers(False)["masked"],
                                    EmulationConfig(backend=b, mode=m))(x.reshape(10, 10)).detach()
            for b in ("reference", "cpu") for m in ("lut", "exact-decomposition")]
    assert all(torch.equal(outs[0], o) for o in outs)
    with pytest.raises(ApproxDSEError, match="expected inputs with 10 features"):
        layer(torch.randn(2, 7))


def test_uncalibrated_layer_uses_the_batch_range_and_calibrated_layer_clips():
    lin = torch.nn.Linear(4, 2)
    layer = ApproxLinear.from_float(lin, multipliers.get("u8_exact"))
    x = torch.randn(8, 4)
    with torch.no_grad():
        assert torch.allclose(layer(x), lin(x), atol=0.05)
        layer.set_activation_range(-0.1, 0.1)
        assert not torch.allclose(layer(x), lin(x), atol=0.05)


def test_bad_layer_arguments():
    with pytest.raises(ApproxDSEError, match="divide by groups"):
        ApproxConv2d(3, 4, 3, groups=2, multiplier=multipliers.get("u8_exact"))
    conv = torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")
    with pytest.raises(ApproxDSEError, match="padding_mode"):
        ApproxConv2d.from_float(conv, multipliers.get("u8_exact"))
    with pytest.raises(ApproxDSEError, match="unknown mode"):
        EmulationConfig(mode="fast")
