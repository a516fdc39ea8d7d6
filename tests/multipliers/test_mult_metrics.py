"""Error metrics: brute force, published values, closed forms, EvoApproxLib's signed circuits."""
import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.cost_model import parse_family_hint
from approxdse.multipliers.families import generate_lut
from approxdse.multipliers.metrics import error_metrics, weighted_error_metrics

DATA = Path(__file__).resolve().parents[1] / "data" / "evoapproxlib"


def brute_force(lut, signed):
    """Plain-Python metrics over all 65,536 pairs, written independently of metrics.py."""
    off = 128 if signed else 0
    n = nz = errs = 0
    s_abs = s_sq = s_err = s_rel = 0.0
    wce = wcre = 0.0
    for i in range(256):
        a = i - off
        row = lut[i].tolist()
        for j in range(256):
            b = j - off
            exact = a * b
            e = row[j] - exact
            n += 1
            s_abs += abs(e)
            s_sq += e * e
            s_err += e
            wce = max(wce, abs(e))
            errs += e != 0
            if exact != 0:
                nz += 1
                r = abs(e) / abs(exact)
                s_rel += r
                wcre = max(wcre, r)
    mean = s_err / n
    return {
        "mae": s_abs / n, "wce": wce, "mae_pct": s_abs / n / 65536 * 100, "wce_pct": wce / 65536 * 100,
        "mre_pct": s_rel / nz * 100, "wcre_pct": wcre * 100, "ep_pct": errs / n * 100,
        "mse": s_sq / n, "bias": mean, "std": (s_sq / n - mean * mean) ** 0.5,
    }


@pytest.mark.parametrize("name", ["u8_drum_4", "s8_bam_h2_v6", "s8_etm_3", "u8_kulkarni"])
def test_metrics_match_brute_force(name):
    m = multipliers.get(name)
    got = m.metrics.as_dict()
    for key, value in brute_force(m.lut, m.signed).items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("name", ["u8_exact", "s8_exact", "u8_bam_h0_v0", "s8_trunc_0", "u8_drum_8"])
def test_exact_multipliers_have_zero_error(name):
    m = multipliers.get(name)
    assert m.is_exact
    assert all(v == 0 for v in m.metrics.as_dict().values())


def test_mitchell_published_values():
    # Mitchell (1962): mean relative error ~3.8 %, worst case 1/9 = 11.1 % (at x1 = x2 = 0.5)
    met = multipliers.get("u8_mitchell").metrics
    assert met.mre_pct == pytest.approx(3.79, abs=0.01)
    assert met.wcre_pct == pytest.approx(100 / 9, rel=1e-9)
    assert met.bias < 0  # Mitchell never overestimates
    assert np.all(multipliers.get("u8_mitchell").error_matrix <= 0)


@pytest.mark.parametrize("v", [2, 4, 7, 9])
def test_column_truncation_closed_forms(v):
    # BAM(0, v) drops the bits a_i b_j with i + j < v; each bit is 1 with probability 1/4
    # and the error is always <= 0, so MAE = -bias = sum 2^(i+j) / 4 and WCE = sum 2^(i+j).
    dropped = [(i, j) for i in range(8) for j in range(8) if i + j < v]
    total = sum(2 ** (i + j) for i, j in dropped)
    met = error_metrics(generate_lut("bam", False, {"h": 0, "v": v}), signed=False)
    assert met.wce == total
    assert met.mae == pytest.approx(total / 4)
    assert met.bias == pytest.approx(-total / 4)
    # variance: the dropped bits are products of independent bits; compute E[e^2] exactly
    terms = {(i, j): 2 ** (i + j) for i, j in dropped}
    e2 = 0.0
    for (i1, j1), w1 in terms.items():
        for (i2, j2), w2 in terms.items():
            e2 += w1 * w2 * 0.5 ** len({i1, i2}) * 0.5 ** len({j1, j2})
    assert met.mse == pytest.approx(e2)


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_operand_truncation_closed_form(t):
    # E[A B - A' B'] with independent uniform operands and A' = A with t LSBs cleared
    mean_a, mean_at = 127.5, 127.5 - (2 ** t - 1) / 2
    met = multipliers.get(f"u8_trunc_{t}").metrics
    assert met.bias == pytest.approx(-(mean_a**2 - mean_at**2))
    assert met.wce == 255 * 255 - (255 - 2**t + 1) ** 2


def _evoapproxlib_signed():
    with open(DATA / "mul8_all_branches.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["branch"] == "master" and parse_family_hint(r["family_hint"])]
    assert len(rows) == 13
    return rows


@pytest.mark.parametrize("row", _evoapproxlib_signed(), ids=lambda r: r["name"])
def test_signed_normalisation_matches_evoapproxlib(row):
    """Our signed BAM/TM LUTs reproduce EvoApproxLib's published metrics (2 significant digits)."""
    family, params = parse_family_hint(row["family_hint"])
    met = error_metrics(generate_lut(family, True, params), signed=True).as_dict()
    for key in ("mae_pct", "wce_pct", "mre_pct", "ep_pct", "wcre_pct"):
        text = row[key]
        # EvoApproxLib prints 2-4 significant digits (and derives MAE% from an already
        # rounded MAE, e.g. 1.25 -> 1.2 -> 0.0018 %): agree within 1.5 units of the last digit
        unit = 10.0 ** Decimal(text).as_tuple().exponent
        assert abs(met[key] - float(text)) <= unit * 1.5, (key, met[key], text)
    assert met["wce"] == float(row["wce_abs"])


def test_weighted_metrics():
    m = multipliers.get("u8_bam_h2_v6")
    uniform = np.ones(256)
    w = weighted_error_metrics(m, uniform, uniform).as_dict()
    for key, value in m.metrics.as_dict().items():
        assert w[key] == pytest.approx(value, rel=1e-9, abs=1e-9)
    # a point mass picks that single pair
    pa, pb = np.zeros(256), np.zeros(256)
    pa[200], pb[77] = 5, 1
    point = weighted_error_metrics(m, pa, pb)
    e = int(m.lut[200, 77]) - 200 * 77
    assert point.bias == e and point.mae == abs(e) and point.wce == abs(e)
    assert point.mre_pct == pytest.approx(abs(e) / (200 * 77) * 100)
    # small operands only: BAM h2 v6 drops low bits, so the relative error grows
    small = np.zeros(256)
    small[1:16] = 1
    assert weighted_error_metrics(m, small, small).mre_pct > m.metrics.mre_pct
    # brute-force weighted mean abs error on a random distribution
    rng = np.random.default_rng(0)
    pa, pb = rng.random(256), rng.random(256)
    err = m.error_matrix.astype(float)
    ref = (np.outer(pa / pa.sum(), pb / pb.sum()) * np.abs(err)).sum()
    assert weighted_error_metrics(m, pa, pb).mae == pytest.approx(ref)


def test_weighted_metrics_reject_bad_histograms():
    m = multipliers.get("u8_exact")
    with pytest.raises(ApproxDSEError, match="256 entries"):
        weighted_error_metrics(m, np.ones(10), np.ones(256))
    with pytest.raises(ApproxDSEError, match="non-negative"):
        weighted_error_metrics(m, -np.ones(256), np.ones(256))
    with pytest.raises(ApproxDSEError, match="signed=True or signed=False"):
        error_metrics(np.zeros((256, 256), dtype=np.int32))
