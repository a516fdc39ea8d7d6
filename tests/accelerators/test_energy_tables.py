"""Primitive energy estimates against the ERT values Accelergy produced (shared data)."""
import pytest

from approxdse.accelerators import energy_tables as et
from approxdse.core.errors import ApproxDSEError


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


# ERT values (pJ per vector access, read / write) Accelergy produced for the exercises'
# register files in our Timeloop v3.0.3 runs (shared data our_runs/head_*/ERT_summary)
REGFILE_ERT = {
    (12, 16, 65): (0.497023, 0.43577),      # eyeriss ifmap_spad
    (192, 16, 65): (4.73566, 4.50962),      # eyeriss weights_spad
    (16, 16, 65): (0.613343, 0.536681),     # eyeriss psum_spad
    (8192, 64, 45): (306.234, 305.505),     # simba PEInputBuffer
    (4096, 64, 45): (153.503, 152.775),     # simba PEWeightBuffer
    (128, 24, 45): (3.88122, 3.60793),      # simba PEAccuBuffer
    (1, 512, 45): (0.324827, 0.0973879),    # simba PEWeightRegs
}


@pytest.mark.parametrize("shape", list(REGFILE_ERT))
def test_regfile_estimate_matches_ert(shape):
    e = et.regfile_energy(*shape)
    read, write = REGFILE_ERT[shape]
    assert e.read == pytest.approx(read, rel=0.015)
    assert e.write == pytest.approx(write, rel=0.05)
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
