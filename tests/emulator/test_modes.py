"""Modes: every exact mode is bit-exact with the LUT mode; approximate modes report their error."""
import numpy as np
import pytest
import torch

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import MODES, EmulationConfig, decompose
from approxdse.emulator.backends import ConvGeometry, get_backend
from approxdse.emulator.integer_conv import IntegerOperands
from approxdse.emulator.oracles import bam_lut, structured_test_multipliers
from approxdse.emulator.quantization import SIGNED, UNSIGNED
from approxdse.multipliers.multiplier import Multiplier

GEOMETRIES = [
    ((2, 4, 9, 8), (5, 4, 3, 3), ConvGeometry((1, 1), (1, 1), (1, 1), 1)),
    ((1, 6, 11, 7), (6, 1, 3, 3), ConvGeometry((2, 1), (2, 2), (2, 1), 6)),
    ((3, 4, 6, 6), (6, 2, 2, 3), ConvGeometry((1, 2), (0, 1), (1, 1), 2)),
    ((4, 300, 1, 1), (7, 300, 1, 1), ConvGeometry()),  # a linear layer, long reduction
]


def _ops(mult, a_shape, w_shape, geom, seed, large_weights=False):
    rng = np.random.default_rng(seed)
    fmt = SIGNED if mult.signed else UNSIGNED
    a = torch.from_numpy(rng.integers(fmt.qmin, fmt.qmax + 1, a_shape))
    w = torch.from_numpy(rng.integers(fmt.qmin, fmt.qmax + 1, w_shape))
    a_zero = 0 if mult.signed else int(rng.integers(0, 256))
    w_zero = torch.zeros(w_shape[0], dtype=torch.int64) if mult.signed else \
        torch.from_numpy(rng.integers(0, 256, w_shape[0]))
    return IntegerOperands(a, w, a_zero, w_zero, fmt, geom, mult, get_backend("reference"))


def _lut_sum(mode_name, ops, config=None):
    mode = MODES[mode_name]
    state = mode.prepare(ops.multiplier, config or EmulationConfig())
    return mode.lut_sum(ops, state, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("kind", ["exact", "masked", "bam", "lowrank_err"])
def test_exact_decomposition_is_bit_exact(signed, kind):
    mult = structured_test_multipliers(signed)[kind]
    for i, (a_shape, w_shape, geom) in enumerate(GEOMETRIES):
        ops = _ops(mult, a_shape, w_shape, geom, seed=i)
        expected = _lut_sum("lut", ops).to(torch.int64)
        got = _lut_sum("exact-decomposition", ops)
        assert got.dtype == torch.int64
        assert torch.equal(got, expected), (kind, i)


@pytest.mark.parametrize("groups", [1, 2])
def test_exact_decomposition_stays_exact_beyond_float32_range(groups):
    """K = 4,608 / 2,304 (512 channels, 3x3) with extreme codes: partial sums far above 2^24
    (groups=1 takes the channel-chunk path, groups=2 the base-16 digit split)."""
    mult = structured_test_multipliers(False)["bam"]
    geom = ConvGeometry((1, 1), (1, 1), (1, 1), groups)
    ops = _ops(mult, (1, 512, 4, 4), (4, 512 // groups, 3, 3), geom, seed=9)
    ops.a_codes[:] = 255
    ops.a_zero = 0
    ops.w_codes[:, ::2] = 0
    ops.w_zero[:] = 255
    assert torch.equal(_lut_sum("exact-decomposition", ops), _lut_sum("lut", ops).to(torch.int64))


def test_decomposition_is_detected_from_the_lut():
    v = np.arange(256)
    trunc = Multiplier("t", signed=False, lut=np.multiply.outer(v & ~15, v & ~15))
    assert decompose(trunc).rank == 1
    bam = Multiplier("b", signed=False, lut=bam_lut(2, 6))
    d = decompose(bam)
    assert 1 < d.rank <= 6 and np.array_equal(d.lut(), bam.lut)
    assert decompose(multipliers.get("s8_exact")).rank == 1
    with pytest.raises(ApproxDSEError, match="no exact decomposition"):
        decompose(structured_test_multipliers(False)["random"])


def test_mode_flags():
    assert MODES["lut"].exact is True
    assert MODES["exact-decomposition"].exact is True
    assert MODES["low-rank"].exact is False
    assert MODES["noise"].exact is False


def test_low_rank_error_shrinks_with_rank_and_is_reported():
    mult = structured_test_multipliers(False)["random"]
    reports = []
    for rank in (1, 8, 64):
        state = MODES["low-rank"].prepare(mult, EmulationConfig(mode="low-rank", rank=rank))
        reports.append(MODES["low-rank"].report(state))
    errs = [r["relative_error"] for r in reports]
    assert errs[0] > errs[1] > errs[2] > 0
    assert all(r["exact"] is False for r in reports)
    # with a rank covering the whole error, the approximation is the LUT up to float rounding
    lowrank = structured_test_multipliers(False)["lowrank_err"]
    ops = _ops(lowrank, *GEOMETRIES[0][:2], GEOMETRIES[0][2], seed=2)
    approx = _lut_sum("low-rank", ops, EmulationConfig(mode="low-rank", rank=2))
    exact = _lut_sum("lut", ops).to(torch.float64)
    assert torch.allclose(approx, exact, atol=0.5, rtol=0)


def test_noise_mode_matches_the_mean_and_spread_of_the_error():
    mult = structured_test_multipliers(False)["random"]
    a_shape, w_shape, geom = (8, 16, 10, 10), (8, 16, 3, 3), ConvGeometry((1, 1), (1, 1), (1, 1), 1)
    ops = _ops(mult, a_shape, w_shape, geom, seed=4)
    exact = _lut_sum("lut", ops).to(torch.float64)
    noisy = _lut_sum("noise", ops, EmulationConfig(mode="noise"))
    base_ops = IntegerOperands(ops.a_codes, ops.w_codes, ops.a_zero, ops.w_zero, ops.fmt, geom,
                               multipliers.get("u8_exact"), ops.backend)
    true_err = exact - _lut_sum("lut", base_ops).to(torch.float64)
    model_err = noisy - _lut_sum("lut", base_ops).to(torch.float64)
    assert abs(float(model_err.mean() - true_err.mean())) < 0.1 * float(true_err.std()) + 1.0
    assert 0.5 < float(model_err.std() / true_err.std()) < 2.0
    # deterministic for a seed
    assert torch.equal(noisy, _lut_sum("noise", ops, EmulationConfig(mode="noise")))


def test_exact_decomposition_of_unstructured_lut_is_a_clear_error():
    from approxdse.emulator import approximate

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3))
    with pytest.raises(ApproxDSEError, match="no exact decomposition"):
        approximate(model, structured_test_multipliers(False)["random"], mode="exact-decomposition")


def test_noise_mode_without_operand_dependence_and_layer_level_reports():
    from approxdse.emulator import approximate

    mult = structured_test_multipliers(True)["random"]
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1))
    x = torch.randn(2, 2, 6, 6)
    outs = []
    for dependent in (True, False):
        cfg = EmulationConfig(mode="noise", noise_operand_dependent=dependent)
        q = approximate(model, mult, config=cfg)
        with torch.no_grad():
            outs.append(q(x))
        assert q[0].mode_report["operand_dependent"] is dependent
    assert not torch.equal(outs[0], outs[1]) and all(torch.isfinite(o).all() for o in outs)
    q = approximate(model, mult, config=EmulationConfig(mode="low-rank", rank=3))
    assert q[0].mode_report["rank"] == 3 and 0 < q[0].mode_report["relative_error"] < 1
