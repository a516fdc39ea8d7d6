"""Quantisation: code ranges, zero points, per-channel scales, calibration."""
import pytest
import torch

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import approximate, calibrate
from approxdse.emulator.quantization import (
    SIGNED, UNSIGNED, fake_quantize, number_format, qparams_from_range, quantize, weight_qparams,
)


def test_unsigned_affine_covers_range_and_zero_is_exact():
    x = torch.tensor([-1.0, 0.0, 0.5, 3.0])
    scale, zp = qparams_from_range(x.min(), x.max(), UNSIGNED)
    q = quantize(x, scale, zp, UNSIGNED)
    assert int(q.min()) == 0 and int(q.max()) == 255
    assert int(q[1]) == int(zp)  # real 0 maps to the zero point exactly
    deq = (q - zp).float() * scale
    assert torch.allclose(deq, x, atol=float(scale) / 2 + 1e-7)


def test_signed_symmetric_has_zero_zero_point():
    x = torch.tensor([-2.0, 0.3, 1.0])
    scale, zp = qparams_from_range(x.min(), x.max(), SIGNED)
    assert int(zp) == 0 and float(scale) == pytest.approx(2.0 / 127)
    q = quantize(x, scale, zp, SIGNED)
    assert int(q[0]) == -127 and q.min() >= -128 and q.max() <= 127


def test_per_channel_weight_scales():
    w = torch.zeros(3, 2, 3, 3)
    w[0] = 0.01
    w[1] = -5.0
    w[2, 0] = 1.0
    w[2, 1] = -1.0
    for fmt in (UNSIGNED, SIGNED):
        scale, zp = weight_qparams(w, fmt)
        assert scale.shape == (3,) and zp.shape == (3,)
        assert float(scale[1]) > 100 * float(scale[0])
        q = quantize(w, scale.view(-1, 1, 1, 1), zp.view(-1, 1, 1, 1), fmt)
        assert int(q[2].max()) == fmt.qmax or fmt.signed
        deq = (q - zp.view(-1, 1, 1, 1)).float() * scale.view(-1, 1, 1, 1)
        assert torch.allclose(deq, w, atol=float(scale.max()) / 2 + 1e-6)


def test_scheme_must_match_multiplier_signedness():
    assert number_format("auto", True) is SIGNED
    assert number_format("auto", False) is UNSIGNED
    with pytest.raises(ApproxDSEError, match="signed multiplier cannot be used with unsigned"):
        number_format("unsigned", True)
    with pytest.raises(ApproxDSEError, match="unsigned multiplier cannot be used with signed"):
        number_format("signed", False)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with pytest.raises(ApproxDSEError, match="cannot be used with"):
        approximate(model, "s8_exact", scheme="unsigned")
    with pytest.raises(ApproxDSEError, match="cannot be used with"):
        approximate(model, "u8_exact", scheme="signed")


def test_fake_quantize_gradient_is_straight_through_inside_the_range():
    x = torch.tensor([-0.5, 0.2, 0.9, 5.0], requires_grad=True)
    scale, zp = qparams_from_range(torch.tensor(-1.0), torch.tensor(1.0), UNSIGNED)
    y = fake_quantize(x, scale, zp, UNSIGNED)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 0.0]  # clipped value gets no gradient
    assert float(y[3].detach()) == pytest.approx(1.0, abs=float(scale))


def test_calibration_minmax_and_percentile():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    batches = [torch.randn(64, 8) for _ in range(4)]
    batches[2][0, 0] = 50.0  # one outlier
    q_mm = calibrate(approximate(model, "u8_exact"), batches, method="minmax")
    q_pc = calibrate(approximate(model, "u8_exact"), [(b, None) for b in batches], method="percentile",
                     percentile=99.0)
    first_mm, first_pc = q_mm[0], q_pc[0]
    assert bool(first_mm.calibrated) and bool(first_pc.calibrated)
    lo = min(float(b.min()) for b in batches)
    assert float(first_mm.act_scale) == pytest.approx((50.0 - lo) / 255, rel=1e-5)
    assert float(first_pc.act_scale) < float(first_mm.act_scale) / 5  # the outlier is clipped
    # the second layer sees ReLU outputs: unsigned zero point 0
    assert int(q_mm[2].act_zero_point) == 0
    with pytest.raises(ApproxDSEError, match="unknown calibration method"):
        calibrate(q_mm, batches, method="kl")
    with pytest.raises(ApproxDSEError, match="no batches"):
        calibrate(q_mm, [])


def test_calibrated_scales_are_in_the_state_dict():
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3))
    q = calibrate(approximate(model, "u8_exact"), [torch.rand(2, 2, 8, 8) * 4])
    sd = q.state_dict()
    assert "0.act_scale" in sd and "0.act_zero_point" in sd
    fresh = approximate(model, "u8_exact")
    fresh.load_state_dict(sd)
    x = torch.rand(1, 2, 8, 8)
    with torch.no_grad():
        assert torch.equal(fresh(x), q(x))
