"""Generated families: definitions, signed schemes, index convention."""
import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.families import FAMILIES, generate_lut
from approxdse.multipliers.multiplier import exact_lut


def test_index_convention():
    lut = exact_lut(True)
    assert lut[0, 0] == (-128) * (-128)
    assert lut[128 + 3, 128 - 5] == -15
    assert exact_lut(False)[200, 3] == 600


def test_bam_definition_bitwise():
    h, v = 2, 6
    lut = generate_lut("bam", False, {"h": h, "v": v})
    rng = np.random.default_rng(1)
    for a, b in rng.integers(0, 256, size=(200, 2)):
        expected = sum(((a >> i) & 1) * ((b >> j) & 1) << (i + j)
                       for i in range(8) for j in range(8) if j >= h and i + j >= v)
        assert lut[a, b] == expected


def test_signed_array_families_drop_signed_weights():
    # signed truncation: two's-complement operands with the t LSBs cleared (floor)
    lut = generate_lut("trunc", True, {"t": 2})
    for a in (-128, -127, -3, 0, 5, 127):
        for b in (-128, -1, 1, 126):
            assert lut[a + 128, b + 128] == (a & ~3) * (b & ~3)


@pytest.mark.parametrize("family,params", [("drum", {"k": 4}), ("mitchell", {}), ("etm", {"m": 3}),
                                           ("kulkarni", {}), ("roba", {})])
def test_sign_magnitude_families(family, params):
    u = generate_lut(family, False, params)
    s = generate_lut(family, True, params)
    v = np.arange(-127, 128)
    idx = v + 128
    mag = np.abs(v)
    neg = np.logical_xor.outer(v < 0, v < 0)
    expected = np.where(neg, -1, 1) * u[np.ix_(mag, mag)]
    assert np.array_equal(s[np.ix_(idx, idx)], expected)


def test_drum_keeps_small_operands_exact_and_is_unbiased_ish():
    lut = generate_lut("drum", False, {"k": 4})
    assert np.array_equal(lut[:16, :16], exact_lut(False)[:16, :16])
    assert lut[0b10110111, 1] == 0b10110000 | 0b00010000  # window 1011 -> 1011 | 1 = 1011, shifted back by 4
    # the forced window LSB centres each operand's truncation interval: the bias is
    # only the +1/2 LSB of integer midpoints, far below plain truncation's
    m = multipliers.get("u8_drum_6")
    assert 0 < m.metrics.bias < 0.5 * m.metrics.mae


def test_mitchell_exact_on_powers_of_two():
    lut = generate_lut("mitchell", False)
    for p in range(8):
        for q in range(8):
            assert lut[1 << p, 1 << q] == 1 << (p + q)
    assert lut[3, 3] == 8  # 2^(1+1) * (1 + 0.5 + 0.5) -> second case: 2^3 * (1.0) = 8


def test_etm_rules():
    lut = generate_lut("etm", False, {"m": 4})
    assert lut[9, 13] == 9 * 13  # both high parts zero: exact
    # high parts 1 and 2 -> 2 << 8; low parts 0b0101 | 0b0011: leading one at bit 2 -> 7 bits set
    assert lut[0x15, 0x23] == (1 * 2 << 8) + (1 << 7) - 1
    assert lut[0x10, 0x20] == 2 << 8  # low parts zero: no low bits


def test_kulkarni_only_errs_on_three_times_three_digits():
    m = multipliers.get("u8_kulkarni")
    assert m.lut[3, 3] == 7
    assert m.lut[2, 3] == 6
    assert m.metrics.wcre_pct == pytest.approx(100 * 2 / 9)


def test_roba_rounding():
    lut = generate_lut("roba", False)
    # 3 rounds to 4 (tie up), 5 rounds to 4: 3*5 ~ 4*5 + 3*4 - 4*4 = 16
    assert lut[3, 5] == 16
    assert lut[8, 100] == 800  # a power of two is exact


def test_family_parameter_errors():
    with pytest.raises(ApproxDSEError, match=r"parameter k of family 'drum' must be an integer in \[2, 8\]"):
        generate_lut("drum", False, {"k": 12})
    with pytest.raises(ApproxDSEError, match="takes parameters"):
        generate_lut("bam", False, {"h": 1})
    with pytest.raises(ApproxDSEError, match="unknown multiplier family 'booth'"):
        generate_lut("booth", False)


def test_every_family_builds_valid_luts():
    for fam in FAMILIES.values():
        params = {k: lo for k, (lo, hi) in fam.params.items()}
        for signed in (False, True):
            lut = fam.lut(signed, **params)
            assert lut.shape == (256, 256) and lut.dtype == np.int32
