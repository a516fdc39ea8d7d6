"""The built-in catalog, name resolution and the energy cost model."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError, UnknownNameError
from approxdse.multipliers.catalog_build import BUILTIN_SPECS, lut_digest
from approxdse.multipliers.cost_model import calibrate, estimate
from approxdse.multipliers.multiplier import InvalidLUTError, Multiplier, exact_lut

ROOT = Path(__file__).resolve().parents[2]


def test_catalog_size_and_range(approxdse_home):
    df = multipliers.catalog()
    assert len(df) >= 40
    assert set(df["signed"]) == {True, False}
    assert df["mre_pct"].min() == 0 and df["mre_pct"].max() > 20
    assert df["name"].is_unique
    assert {"exact", "bam", "trunc", "drum", "mitchell", "etm", "kulkarni", "roba"} <= set(df["family"])
    for col in ("name", "signed", "family", "mae_pct", "wce_pct", "mre_pct", "ep_pct", "relative_energy"):
        assert df[col].notna().all(), col
    assert set(multipliers.names()) == set(df["name"])
    assert len(multipliers.names(signed=True)) == len(BUILTIN_SPECS)


def test_shipped_yaml_is_what_the_script_builds():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_catalog.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_catalog_metrics_and_digests_match_regenerated_luts():
    df = multipliers.catalog(include_user=False)
    from approxdse.multipliers.catalog import builtin_document

    digests = {e["name"]: e["lut_sha256"] for e in builtin_document()["multipliers"]}
    for row in df.itertuples():
        m = multipliers.get(row.name)
        assert lut_digest(m.lut) == digests[row.name]
        assert m.metrics.mre_pct == pytest.approx(row.mre_pct, abs=1e-8)
        assert m.relative_energy == row.relative_energy


def test_get_resolution():
    assert multipliers.get("exact").name == "u8_exact"
    m = multipliers.get("s8_exact")
    assert m.signed and m.is_exact and m.relative_energy == 1.0
    assert multipliers.get(m) is m
    assert multipliers.get("u8_bam_h2_v6") is multipliers.get("u8_bam_h2_v6")  # cached
    # a generated name outside the shipped catalog is built on request
    d7 = multipliers.get("u8_drum_7")
    assert d7.family == "drum" and d7.params == {"k": 7} and 0 < d7.relative_energy < 1


def test_unknown_names_suggest_close_matches(approxdse_home):
    with pytest.raises(UnknownNameError, match=r"unknown multiplier 'u8_mitchel'; did you mean u8_mitchell"):
        multipliers.get("u8_mitchel")
    with pytest.raises(UnknownNameError, match="approxdse multipliers list"):
        multipliers.get("zzzzzzzz")
    with pytest.raises(ApproxDSEError, match=r"parameter k of family 'drum' must be an integer in \[2, 8\]"):
        multipliers.get("u8_drum_9")


def test_multiplier_rejects_bad_luts():
    with pytest.raises(InvalidLUTError, match=r"shape \(255, 256\)"):
        Multiplier("x", signed=False, lut=np.zeros((255, 256), dtype=np.int32))
    with pytest.raises(InvalidLUTError, match="non-integer"):
        Multiplier("x", signed=False, lut=np.full((256, 256), 0.5))
    with pytest.raises(InvalidLUTError, match="dtype"):
        Multiplier("x", signed=False, lut=np.full((256, 256), "a"))
    with pytest.raises(InvalidLUTError, match="outside the range"):
        Multiplier("x", signed=False, lut=np.full((256, 256), 1 << 20))
    with pytest.raises(InvalidLUTError, match="negative products"):
        Multiplier("x", signed=False, lut=exact_lut(True))


def test_cost_model_calibration():
    cal = calibrate()
    assert len(cal.circuits) == 13
    # stated in docs/multipliers.md: mean 4.8 %, max 11.2 % on relative energy
    assert cal.power_mape_pct < 6 and cal.power_max_err_pct < 12
    assert cal.area_mape_pct < 6
    assert estimate("exact", True).relative_energy == pytest.approx(1.0)
    # more approximation, less energy
    for fam, seq in [("trunc", [{"t": t} for t in range(5)]), ("drum", [{"k": k} for k in (7, 6, 5, 4, 3)]),
                     ("bam", [{"h": 0, "v": v} for v in range(0, 10, 2)])]:
        e = [estimate(fam, False, p).relative_energy for p in seq]
        assert all(x > y for x, y in zip(e, e[1:])), (fam, e)
