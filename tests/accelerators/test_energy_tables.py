"""Primitive energy estimates against the ERT values Accelergy produced (shared data)."""
import pytest

from accelerators import energy_tables as et
from approxdse.errors import ApproxDSEError


def test_mac_reproduces_accelergy_intmac():
    # Eyeriss (65 nm): multiplier 8x8 1.2440 + adder 16-bit 0.1648 = 1.40883 pJ (ERT)
    m = et.mac_energy(8, 16, 65)
    assert m.multiplier == pytest.approx(1.2440, abs=5e-5)
    assert m.adder == pytest.approx(0.1648, abs=5e-5)
    assert m.mac == pytest.approx(1.40883, rel=1e-4)
    # Simba (45 nm): 1.13555 pJ (ERT)
    assert et.mac_energy(8, 16, 45).mac == pytest.approx(1.13555, rel=1e-4)


def test_tech_scaling_factors():
    assert et.tech_scale(45, 32) == pytest.approx(0.6593)
    assert et.tech_scale(40, 65) == pytest.approx(1.5697)
    assert et.parse_technology("65nm") == 65
    with pytest.raises(ApproxDSEError, match="supported"):
        et.parse_technology("7nm")


def test_dram_by_type():
    assert et.dram_energy("LPDDR4", 64).read == pytest.approx(512.0)
    assert et.dram_energy("hbm2", 64).read < 512.0
    with pytest.raises(ApproxDSEError, match="unknown DRAM type"):
        et.dram_energy("SDRAM-1999", 64)


def test_regfile_register_part_matches_ert():
    # The register-array read energy is the only difference between read and write of a
    # smartbuffer_RF; the ERT's read - write differences are 0.0613 (ifmap 12x16) and
    # 0.2260 (weights 192x16) pJ at 65 nm.
    for depth, ert_diff in ((12, 0.497023 - 0.43577), (192, 4.73566 - 4.50962)):
        e = et.regfile_energy(depth, 16, 65)
        assert e.read - e.write == pytest.approx(ert_diff, rel=0.01)
        assert e.update == e.write


def test_sram_scaling():
    anchor = et.sram_energy(16384, 64, 65)
    assert anchor.read == pytest.approx(59.4555)
    smaller = et.sram_energy(2048, 64, 65)
    assert smaller.read == pytest.approx(59.4555 * (2048 / 16384) ** 0.78)
    assert et.sram_energy(16384, 128, 45).read == pytest.approx(59.4555 * 2 * 1.2652 / 1.5697)


def test_estimate_storage_dispatch():
    assert et.estimate_storage_energy("DRAM", None, 64, 45).read == 512.0
    with pytest.raises(ApproxDSEError, match="unknown storage class"):
        et.estimate_storage_energy("tape", 10, 8, 45)
