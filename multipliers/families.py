"""Generated multiplier families: each builds the 256x256 LUT from its published definition.

Every family is a function ``lut(signed, **params) -> int32 [256, 256]`` registered in
:data:`FAMILIES` together with its parameter names. Two signed schemes are used:

* **Array families** (``exact``, ``bam``, ``trunc``) are sums of partial-product bits
  ``a_i b_j 2^(i+j)``. Signed versions are Baugh-Wooley arrays: the same bit matrix
  with two's-complement weights (bit 7 weighs -2^7), so dropping a partial-product
  bit drops exactly its signed weight. This is what EvoApproxLib's signed
  broken-array (``bams8_hh_vv``) and truncated (``trun8_tams0t``) circuits compute
  (checked against their published metrics in ``tests/multipliers``).
* **Sign-magnitude families** (``drum``, ``mitchell``, ``etm``, ``kulkarni``,
  ``roba``) run the unsigned core on the magnitudes (0..128) and give the result
  the XOR of the operand signs.

Operand naming: ``a`` is the first operand (LUT row, activation), ``b`` the second
(LUT column, weight). In BAM, the ``h`` broken rows are the partial-product rows
of the lowest ``h`` bits of ``b``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.multiplier import BITS, SIZE, operand_values

_BIT_IDX = np.arange(BITS)


def _bits(signed: bool) -> np.ndarray:
    """256 x 8 matrix of the operand bits (two's complement pattern for signed)."""
    pattern = np.arange(SIZE, dtype=np.int64)
    if signed:
        pattern = (operand_values(True) & 0xFF).astype(np.int64)
    return ((pattern[:, None] >> _BIT_IDX[None, :]) & 1).astype(np.int64)


def pp_weights(signed: bool) -> np.ndarray:
    """8 x 8 signed weights of the partial-product bit ``a_i b_j`` (Baugh-Wooley for signed)."""
    w = np.ones(BITS, dtype=np.int64)
    if signed:
        w[BITS - 1] = -1
    return np.multiply.outer(w, w) * (1 << (_BIT_IDX[:, None] + _BIT_IDX[None, :]))


def array_lut(mask: np.ndarray, signed: bool) -> np.ndarray:
    """The LUT of an array multiplier keeping the partial-product bits where ``mask[i, j]``."""
    bits = _bits(signed)
    w = pp_weights(signed) * np.asarray(mask, dtype=np.int64)
    return (bits @ w @ bits.T).astype(np.int32)


# ---------------------------------------------------------------------------
# partial-product masks of the array families (also used by the cost model)


def bam_mask(h: int, v: int) -> np.ndarray:
    """Broken-array multiplier (Mahdiani et al. 2010): drop rows j < h and columns i + j < v."""
    i, j = np.meshgrid(_BIT_IDX, _BIT_IDX, indexing="ij")
    return (j >= h) & (i + j >= v)


def trunc_mask(t: int) -> np.ndarray:
    """Operand truncation: the t least significant bits of both operands are forced to zero."""
    i, j = np.meshgrid(_BIT_IDX, _BIT_IDX, indexing="ij")
    return (i >= t) & (j >= t)


# ---------------------------------------------------------------------------
# unsigned cores on int64 arrays (values 0..255, or magnitudes 0..128)


def _leading_one(x: np.ndarray) -> np.ndarray:
    """Position of the leading one of x > 0 (undefined, returns 0, for x == 0)."""
    x = np.maximum(x, 1)
    return np.floor(np.log2(x.astype(np.float64))).astype(np.int64)


def drum_core(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """DRUM(k) (Hashemi, Bahar, Reda, ICCAD 2015).

    Each operand keeps a k-bit window starting at its leading one, with the
    window's last bit forced to 1 (unbiasing); operands below 2^k pass unchanged.
    The k x k product is shifted back.
    """

    def window(x):
        p = _leading_one(x)
        shift = np.where(x >= (1 << k), p - k + 1, 0)
        t = x >> shift
        t = np.where(shift > 0, t | 1, t)
        return t, shift

    ta, sa = window(a)
    tb, sb = window(b)
    return (ta * tb) << (sa + sb)


def mitchell_core(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mitchell's logarithmic multiplier (1962), with full-precision fractions.

    a = 2^k1 (1 + x1), b = 2^k2 (1 + x2); the product is approximated as
    2^(k1+k2) (1 + x1 + x2) if x1 + x2 < 1, else 2^(k1+k2+1) (x1 + x2). With 8-bit
    integer operands both forms are integers: 2^k1 x1 = a - 2^k1.
    """
    k1, k2 = _leading_one(a), _leading_one(b)
    fa, fb = a - (1 << k1), b - (1 << k2)  # 2^k1 x1, 2^k2 x2
    frac = fa * (1 << k2) + fb * (1 << k1)  # 2^(k1+k2) (x1 + x2)
    base = 1 << (k1 + k2)
    out = np.where(frac < base, base + frac, 2 * frac)
    return np.where((a == 0) | (b == 0), 0, out)


def etm_core(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """Error-tolerant multiplier ETM(m) (Kyaw, Goh, Yeo, EDSSC 2010).

    The operands split into a multiplication part (high 8 - m bits) and a
    non-multiplication part (low m bits). If both high parts are zero the low parts
    are multiplied exactly. Otherwise the high parts are multiplied exactly
    (placed at bit 2m) and the low 2m result bits come from the non-multiplication
    part without any multiplication: scanning the low operand bits from the most
    significant, the result bit of the first position where either operand has a 1
    and every bit below it are set to 1 (the m positions map onto result bits
    2m-1 .. m, the m lowest result bits are all 1 once any low bit is set).
    Cross terms a_high x b_low are not computed: that is the design's error.
    """
    lo_mask = (1 << m) - 1
    ah, al = a >> m, a & lo_mask
    bh, bl = b >> m, b & lo_mask
    either = al | bl
    p = _leading_one(either)
    low = np.where(either > 0, (1 << (p + m + 1)) - 1, 0)
    approx = ((ah * bh) << (2 * m)) + low
    return np.where((ah == 0) & (bh == 0), al * bl, approx)


def kulkarni_core(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Underdesigned multiplier (Kulkarni, Gupta, Ercegovac, VLSI Design 2011).

    Built from 2x2 blocks that compute 3 x 3 = 7 (binary 111, one bit shorter)
    and every other 2-bit product exactly; the blocks' outputs are summed exactly.
    """
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape), dtype=np.int64)
    for p in range(BITS // 2):
        da = (a >> (2 * p)) & 3
        for q in range(BITS // 2):
            db = (b >> (2 * q)) & 3
            block = np.where((da == 3) & (db == 3), 7, da * db)
            out += block << (2 * (p + q))
    return out


def _round_pow2(x: np.ndarray) -> np.ndarray:
    """Nearest power of two (ties round up, as RoBA specifies); 0 stays 0."""
    lower = np.left_shift(1, _leading_one(x))
    r = np.where((lower > 1) & (x - lower >= lower // 2), 2 * lower, lower)
    return np.where(x == 0, 0, r)


def roba_core(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rounding-based approximate multiplier RoBA (Zendegani et al., TVLSI 2017).

    a x b ~ ar b + a br - ar br with ar, br the operands rounded to the nearest power
    of two, so every product is a shift; the dropped term is (a - ar)(b - br).
    """
    ar, br = _round_pow2(a), _round_pow2(b)
    return np.maximum(ar * b + a * br - ar * br, 0)


# ---------------------------------------------------------------------------


def _grid(signed: bool) -> tuple[np.ndarray, np.ndarray]:
    v = operand_values(signed)
    return v[:, None], v[None, :]


def sign_magnitude(core: Callable[..., np.ndarray], signed: bool, **params) -> np.ndarray:
    """Apply an unsigned core to all pairs; signed: on magnitudes, with the XOR of the signs."""
    a, b = _grid(signed)
    if not signed:
        return core(a, b, **params).astype(np.int32)
    mag = core(np.abs(a), np.abs(b), **params)
    return np.where((a < 0) ^ (b < 0), -mag, mag).astype(np.int32)


@dataclass(frozen=True)
class Family:
    """A generator family: its parameters (with allowed ranges) and LUT builder."""

    name: str
    title: str
    reference: str
    params: Mapping[str, tuple[int, int]]  # name -> (min, max) inclusive
    build: Callable[..., np.ndarray]
    scheme: str  # "baugh-wooley" or "sign-magnitude" for the signed variant

    def check(self, params: Mapping[str, int]) -> dict[str, int]:
        """Validated integer parameters, or a one-sentence error."""
        unknown = set(params) - set(self.params)
        missing = set(self.params) - set(params)
        if unknown or missing:
            raise ApproxDSEError(
                f"family {self.name!r} takes parameters {sorted(self.params)}, got {sorted(params)}"
            )
        out = {}
        for key, (lo, hi) in self.params.items():
            value = params[key]
            if isinstance(value, bool) or int(value) != value or not lo <= int(value) <= hi:
                raise ApproxDSEError(f"parameter {key} of family {self.name!r} must be an integer in [{lo}, {hi}], got {value!r}")
            out[key] = int(value)
        return out

    def lut(self, signed: bool, **params) -> np.ndarray:
        return self.build(bool(signed), **self.check(params))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("exact", "exact array multiplier", "", {}, lambda s: array_lut(np.ones((8, 8), bool), s), "baugh-wooley"),
        Family(
            "bam",
            "broken-array multiplier BAM(h, v)",
            "Mahdiani et al., IEEE TCAS-I 57(4), 2010",
            {"h": (0, 8), "v": (0, 15)},
            lambda s, h, v: array_lut(bam_mask(h, v), s),
            "baugh-wooley",
        ),
        Family(
            "trunc",
            "operand truncation (t LSBs of both operands forced to 0)",
            "truncated multipliers as in EvoApproxLib's trun8_tams",
            {"t": (0, 7)},
            lambda s, t: array_lut(trunc_mask(t), s),
            "baugh-wooley",
        ),
        Family("drum", "dynamic range unbiased multiplier DRUM(k)", "Hashemi, Bahar, Reda, ICCAD 2015",
               {"k": (2, 8)}, lambda s, k: sign_magnitude(drum_core, s, k=k), "sign-magnitude"),
        Family("mitchell", "Mitchell logarithmic multiplier", "Mitchell, IRE Trans. Electronic Computers, 1962",
               {}, lambda s: sign_magnitude(mitchell_core, s), "sign-magnitude"),
        Family("etm", "error-tolerant multiplier ETM(m)", "Kyaw, Goh, Yeo, EDSSC 2010",
               {"m": (1, 7)}, lambda s, m: sign_magnitude(etm_core, s, m=m), "sign-magnitude"),
        Family("kulkarni", "underdesigned multiplier from approximate 2x2 blocks",
               "Kulkarni, Gupta, Ercegovac, VLSI Design 2011", {},
               lambda s: sign_magnitude(kulkarni_core, s), "sign-magnitude"),
        Family("roba", "rounding-based approximate multiplier RoBA", "Zendegani et al., IEEE TVLSI 25(2), 2017",
               {}, lambda s: sign_magnitude(roba_core, s), "sign-magnitude"),
    ]
}


def family(name: str) -> Family:
    """The family called ``name`` (one-sentence error naming the known ones otherwise)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ApproxDSEError(f"unknown multiplier family {name!r}; known: {', '.join(FAMILIES)}") from None


def generate_lut(family_name: str, signed: bool, params: Mapping[str, int] | None = None) -> np.ndarray:
    """The int32 [256, 256] LUT of a generated family member."""
    return family(family_name).lut(signed, **dict(params or {}))
