"""Energy (and area) per multiplication of generated circuits: a structural cost model.

Each generated multiplier is described by the standard cells its circuit needs
(:func:`structure`): the partial-product AND/NAND gates it keeps, the full and
half adders that reduce the kept bits to one row (counted column by column,
carries included, by :func:`reduction_cells`), and for the non-array families
the extra logic their published designs use (leading-one detectors, shifters,
muxes, conditional negation for sign-magnitude). Cells are weighed by their area
in the open NanGate 45 nm library (X1 drive), expressed in full-adder
equivalents, and the power is

    P = s_cell * (cell area, in full adders) + s_glitch * G + c0

where ``G = sum_c h_c (h_c - 1) / 2`` counts the pairs of bits that meet in a
column of the reduction (``h_c`` bits in column ``c``): spurious transitions
(glitches) grow with how many signals a column merges, which is why dropping
whole rows saves more power than its cells and dropping a few low columns (with
one to three bits each) saves less.
``s_cell, s_glitch, c0 >= 0`` are fitted (non-negative least squares, relative
errors) on the 13 signed EvoApproxLib 45 nm circuits whose broken-array /
truncation parameters are named (``family_hint`` in
``data/evoapproxlib_mul8_pdk45.csv``; source ehw-fit/evoapproxlib, master
d321f7f). The area uses the same features, fitted separately. The relative
energy of a circuit is ``P(circuit) / P(exact array of the same signedness)``:
the accelerator's energy table supplies the absolute pJ of the exact multiplier.
The fit's error on its calibration circuits is reported by
:func:`calibrate` (and in docs/multipliers.md). The extra logic of DRUM,
Mitchell, ETM, the underdesigned and RoBA multipliers is a structural estimate,
not calibrated on synthesis data (the table has no such circuits): those
figures are marked ``calibrated: false``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from math import ceil, log2
from typing import Mapping

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.families import FAMILIES, bam_mask, trunc_mask

#: Cell areas of the NanGate 45 nm Open Cell Library (X1 drive), um^2.
CELL_AREA_UM2: dict[str, float] = {
    "inv": 0.532,
    "and2": 1.064,
    "nand2": 0.798,
    "or2": 1.064,
    "xor2": 1.596,
    "mux2": 1.862,
    "ha": 2.660,
    "fa": 4.256,
}

#: 45 nm figures of EvoApproxLib's exact 8x8 multipliers (mul8u_1JFF, mul8s_1KV8).
EXACT_POWER_MW = {False: 0.391, True: 0.425}
EXACT_AREA_UM2 = {False: 709.6, True: 729.8}


@dataclass(frozen=True)
class Structure:
    """Standard-cell counts of one circuit."""

    cells: Mapping[str, int]
    glitch: int  # G: pairs of bits meeting in a column of the reductions
    calibrated: bool  # True for the array families the fit covers

    @property
    def fa_equivalents(self) -> float:
        """Total cell area in units of one full adder."""
        return float(sum(CELL_AREA_UM2[k] * n for k, n in self.cells.items()) / CELL_AREA_UM2["fa"])

    def features(self) -> np.ndarray:
        """The cost model's regressors: [full-adder equivalents, G, 1]."""
        return np.array([self.fa_equivalents, float(self.glitch), 1.0])


def reduction_cells(heights) -> dict[str, int]:
    """Full and half adders that reduce columns of bits (LSB first) to one bit each.

    Each column takes its own bits plus the carries of the column below; a full
    adder turns 3 bits into 1 plus a carry, a half adder 2 into 1 plus a carry.
    """
    fa = ha = 0
    carry = 0
    for h in list(heights) + [0] * 4:
        n, carry = int(h) + carry, 0
        while n > 1:
            if n >= 3:
                fa, n = fa + 1, n - 2
            else:
                ha, n = ha + 1, n - 1
            carry += 1
    return {"fa": fa, "ha": ha}


def _merge(*parts: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in parts:
        for k, n in p.items():
            out[k] = out.get(k, 0) + int(n)
    return out


def _array(mask: np.ndarray, signed: bool) -> dict[str, int]:
    """AND/NAND gates and reduction adders of a (Baugh-Wooley, if signed) array."""
    mask = np.asarray(mask, bool)
    n = mask.shape[0]
    i, j = np.nonzero(mask)
    heights = _heights(mask)
    cells: dict[str, int] = {}
    if signed:
        # Baugh-Wooley: the cells of the sign row/column are NANDs; two constant ones
        # (at columns n and 2n - 1) fold the negative weights back in.
        neg = int(((i == n - 1) ^ (j == n - 1)).sum())
        cells = {"and2": len(i) - neg, "nand2": neg}
        heights = heights.copy()
        heights[n] += 1
        heights[2 * n - 1] += 1
    else:
        cells = {"and2": len(i)}
    return _merge(cells, reduction_cells(heights))


def _heights(mask: np.ndarray) -> np.ndarray:
    i, j = np.nonzero(np.asarray(mask, bool))
    return np.bincount(i + j, minlength=2 * np.asarray(mask).shape[0])


def _glitch_of(heights) -> int:
    """G of a reduction: pairs of bits meeting in the same column."""
    h = np.asarray(heights, dtype=np.int64)
    return int((h * (h - 1) // 2).sum())


def _glitch(mask: np.ndarray) -> int:
    return _glitch_of(_heights(mask))


def _array_structure(mask: np.ndarray, signed: bool) -> "Structure":
    return Structure(_array(mask, signed), _glitch(mask), True)


def _lod(bits: int) -> dict[str, int]:
    """Leading-one detector with a binary encoder of its position."""
    stages = ceil(log2(bits))
    return {"or2": bits - 1 + stages * bits // 2, "and2": bits, "inv": bits - 1}


def _shifter(width: int, max_shift: int) -> dict[str, int]:
    """Logarithmic barrel shifter."""
    return {"mux2": width * max(1, ceil(log2(max_shift + 1)))} if max_shift > 0 else {}


def _adder(width: int) -> dict[str, int]:
    return {"fa": width}


def _sign_magnitude_wrapper() -> dict[str, int]:
    """Conditional negation of both 8-bit operands and of the 16-bit result, plus the sign XOR."""
    return {"xor2": 8 + 8 + 16 + 1, "ha": 8 + 8 + 16}


def structure(family_name: str, signed: bool, params: Mapping[str, int] | None = None) -> Structure:
    """Cell counts of a generated family member (see the module docstring)."""
    params = FAMILIES[family_name].check(dict(params or {})) if family_name in FAMILIES else None
    if params is None:
        raise ApproxDSEError(f"no cost model for family {family_name!r}")
    p = params
    if family_name == "exact":
        return _array_structure(np.ones((8, 8), bool), signed)
    if family_name == "bam":
        return _array_structure(bam_mask(p["h"], p["v"]), signed)
    if family_name == "trunc":
        return _array_structure(trunc_mask(p["t"]), signed)
    wrap = _sign_magnitude_wrapper() if signed else {}
    if family_name == "drum":
        k = p["k"]
        core = np.ones((k, k), bool)
        extra = _merge(_lod(8), _lod(8), {"mux2": 2 * k * (8 - k), "or2": 2}, _shifter(16, 2 * (8 - k)), _adder(3))
        return Structure(_merge(_array(core, False), extra, wrap), _glitch(core) + 3, False)
    if family_name == "mitchell":
        extra = _merge(_lod(8), _lod(8), _shifter(7, 7), _shifter(7, 7), _adder(8), _adder(3), _shifter(16, 15), {"mux2": 8})
        return Structure(_merge(extra, wrap), 8 + 3, False)
    if family_name == "etm":
        m = p["m"]
        core = np.ones((8 - m, 8 - m), bool)
        nmp = {"or2": 2 * m - 1 + 2 * (8 - m), "inv": 1}
        select = {"mux2": 2 * (8 - m) + 16}
        return Structure(_merge(_array(core, False), nmp, select, wrap), _glitch(core), False)
    if family_name == "kulkarni":
        heights = np.zeros(16, dtype=np.int64)
        for q in range(4):
            for r in range(4):
                heights[2 * (q + r): 2 * (q + r) + 3] += 1  # a 3-bit 2x2 block
        core = _merge({"and2": 16 * 4, "or2": 16}, reduction_cells(heights))
        return Structure(_merge(core, wrap), _glitch_of(heights), False)
    if family_name == "roba":
        rounding = _merge(_lod(8), {"and2": 8, "or2": 8})
        extra = _merge(rounding, rounding, _shifter(16, 8), _shifter(16, 8), {"or2": 15, "inv": 16}, _adder(16), _adder(16))
        return Structure(_merge(extra, wrap), 16 + 16, False)
    raise ApproxDSEError(f"no cost model for family {family_name!r}")


# ---------------------------------------------------------------------------
# calibration on EvoApproxLib


@dataclass(frozen=True)
class Calibration:
    """Fitted weights and the fit's error on the calibration circuits."""

    power_weights: tuple[float, float, float]  # s_cell (mW per FA), s_glitch (mW), c0 (mW)
    area_weights: tuple[float, float, float]
    circuits: list[dict] = field(default_factory=list)  # per circuit: name, params, measured, model

    @property
    def power_mape_pct(self) -> float:
        return float(np.mean([abs(c["rel_model"] - c["rel_measured"]) / c["rel_measured"] for c in self.circuits]) * 100)

    @property
    def power_max_err_pct(self) -> float:
        return float(max(abs(c["rel_model"] - c["rel_measured"]) / c["rel_measured"] for c in self.circuits) * 100)

    @property
    def area_mape_pct(self) -> float:
        return float(np.mean([abs(c["area_model"] - c["area_um2"]) / c["area_um2"] for c in self.circuits]) * 100)


def parse_family_hint(hint: str) -> tuple[str, dict[str, int]] | None:
    """``BAM bams8_02_05`` -> (``bam``, {h: 2, v: 5}); ``TM trun8_tams03a`` -> (``trunc``, {t: 3})."""
    if m := re.search(r"bams8b?_(\d+)_(\d+)", hint or ""):
        return "bam", {"h": int(m[1]), "v": int(m[2])}
    if m := re.search(r"tams(\d+)", hint or ""):
        return "trunc", {"t": int(m[1])}
    return None


def calibration_circuits() -> list[dict]:
    """The EvoApproxLib 45 nm circuits with named BAM/TM parameters (master branch)."""
    import csv

    text = resources.files("approxdse.multipliers.data").joinpath("evoapproxlib_mul8_pdk45.csv").read_text()
    rows = []
    for r in csv.DictReader(text.splitlines()):
        parsed = parse_family_hint(r["family_hint"])
        if r["branch"] != "master" or parsed is None:
            continue
        fam, params = parsed
        rows.append({
            "name": r["name"], "family": fam, "params": params, "signed": r["signed"] in ("1", "True"),
            "power_mw": float(r["power_mW"]), "area_um2": float(r["area_um2"]),
            "mae_pct": float(r["mae_pct"]), "wce_pct": float(r["wce_pct"]), "mre_pct": float(r["mre_pct"]),
            "ep_pct": float(r["ep_pct"]), "wcre_pct": float(r["wcre_pct"]), "mse": float(r["mse"]),
            "family_hint": r["family_hint"],
        })
    return rows


#: Weight of the exact circuit in the fit: relative energies are ratios to the
#: model's exact multiplier, so the model must reproduce that one closely.
EXACT_FIT_WEIGHT = 10.0


def _fit(X: np.ndarray, y: np.ndarray, exact: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    # relative errors matter: weight each row by 1/y (more for the exact circuit)
    w = np.where(exact, EXACT_FIT_WEIGHT, 1.0) / y
    coef, _ = nnls(X * w[:, None], y * w)
    return coef


@lru_cache(maxsize=1)
def calibrate() -> Calibration:
    """Fit the power and area weights on :func:`calibration_circuits` (deterministic)."""
    rows = calibration_circuits()
    X = np.array([structure(r["family"], r["signed"], r["params"]).features() for r in rows])
    exact = np.array([r["mae_pct"] == 0 and r["ep_pct"] == 0 for r in rows])
    pw = _fit(X, np.array([r["power_mw"] for r in rows]), exact)
    aw = _fit(X, np.array([r["area_um2"] for r in rows]), exact)
    exact_p = {s: float(structure("exact", s).features() @ pw) for s in (False, True)}
    circuits = []
    for r, x in zip(rows, X):
        circuits.append({
            **r,
            "rel_measured": r["power_mw"] / EXACT_POWER_MW[r["signed"]],
            "rel_model": float(x @ pw) / exact_p[r["signed"]],
            "area_model": float(x @ aw),
        })
    return Calibration(tuple(map(float, pw)), tuple(map(float, aw)), circuits)


@dataclass(frozen=True)
class CostEstimate:
    """Cost-model output for one circuit."""

    relative_energy: float
    power_mw: float  # relative energy x EvoApproxLib's exact power at 45 nm
    area_um2: float
    calibrated: bool


def estimate(family_name: str, signed: bool, params: Mapping[str, int] | None = None) -> CostEstimate:
    """Relative energy (exact = 1.0), 45 nm power and area of a generated multiplier."""
    cal = calibrate()
    s = structure(family_name, signed, params)
    x, x0 = s.features(), structure("exact", signed).features()
    rel = float(x @ cal.power_weights) / float(x0 @ cal.power_weights)
    area_rel = float(x @ cal.area_weights) / float(x0 @ cal.area_weights)
    return CostEstimate(
        relative_energy=rel,
        power_mw=rel * EXACT_POWER_MW[signed],
        area_um2=area_rel * EXACT_AREA_UM2[signed],
        calibrated=s.calibrated,
    )
