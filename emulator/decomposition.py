"""Exact decompositions of a LUT into a few integer rank-1 terms.

A LUT has an exact decomposition when

    LUT[i, j] = sum_t f_t[i] * g_t[j]

with few terms and integer vectors ``f_t`` (a function of the activation index)
and ``g_t`` (of the weight index). Then the sum of LUT products over a receptive
field is ``sum_t sum_k f_t(a_k) g_t(w_k)``: a few ordinary convolutions on
transformed operands, exact in floating point while the partial sums stay below
2^24 (float32) or 2^53 (float64).

Structures searched, detected from the LUT alone (the smallest one wins):

* rows (or columns) of the LUT, or of its error matrix ``LUT - exact``, that are
  integer multiples of a few directions (e.g. operand truncation: ``(a & ma) * (w & mw)``
  is rank 1);
* bit-plane structure: ``LUT = B_a C B_w^T`` where ``B`` holds the 8 operand bits
  (two's complement for signed LUTs) and a constant 1, and ``C`` is a 9x9
  integer matrix: partial-product arrays with cells removed, as in broken-array
  (BAM) and truncated multipliers; ``C`` (or ``C`` minus the exact product's) is
  then split into rank-1 groups.

>>> import numpy as np, multipliers
>>> from approxdse.emulator import decompose
>>> v = np.arange(256)
>>> lut = np.multiply.outer(v & ~3, v & ~7)             # both operands truncated
>>> m = multipliers.Multiplier("trunc", signed=False, lut=lut)
>>> len(decompose(m).terms)
1
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from math import gcd
from typing import Callable

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.multiplier import Multiplier, exact_lut, operand_values

#: Most terms an exact decomposition may have before it is not worth it.
MAX_TERMS = 9


@dataclass(frozen=True)
class Term:
    """One rank-1 term ``f[a_index] * g[w_index]`` (int64 vectors of length 256)."""

    f: np.ndarray
    g: np.ndarray


@dataclass(frozen=True)
class Decomposition:
    """An exact sum of rank-1 integer terms equal to a multiplier's LUT."""

    terms: tuple[Term, ...]
    structure: str  # how it was found, e.g. "bit-plane rows", "exact + error rows"
    #: The terms' integer sum is ``denominator`` times the LUT (1 except for
    #: skeleton decompositions of a low-rank error).
    denominator: int = 1

    def lut(self) -> np.ndarray:
        """The LUT the terms add up to (int64 [256, 256])."""
        out = np.zeros((256, 256), dtype=object)
        for t in self.terms:
            out += np.multiply.outer(t.f.astype(object), t.g.astype(object))
        return (out // self.denominator).astype(np.int64) if self.denominator != 1 else out.astype(np.int64)

    def reproduces(self, lut: np.ndarray) -> bool:
        """Whether the terms add up to ``lut`` exactly (checked in Python integers)."""
        out = np.zeros((256, 256), dtype=object)
        for t in self.terms:
            out += np.multiply.outer(t.f.astype(object), t.g.astype(object))
        return bool(np.all(out == np.asarray(lut, dtype=np.int64).astype(object) * self.denominator))

    @property
    def rank(self) -> int:
        return len(self.terms)

    def describe(self) -> str:
        return f"{self.rank} term{'s' if self.rank != 1 else ''} ({self.structure})"


def _primitive(v: np.ndarray) -> tuple[np.ndarray, int]:
    """``v = scale * direction`` with an integer direction of gcd 1 and positive first entry."""
    nz = np.flatnonzero(v)
    d = reduce(gcd, (abs(int(x)) for x in v[nz]))
    direction = v // d
    if direction[nz[0]] < 0:
        direction, d = -direction, -d
    return direction, d


def _row_groups(mat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split an integer matrix into rank-1 terms, one per distinct row direction: [(coeff over rows, direction)]."""
    groups: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    for r in np.flatnonzero(np.any(mat != 0, axis=1)):
        direction, scale = _primitive(mat[r])
        key = direction.tobytes()
        if key not in groups:
            groups[key] = (np.zeros(mat.shape[0], dtype=np.int64), direction)
        groups[key][0][r] = scale
    return list(groups.values())


def _bit_features(signed: bool) -> np.ndarray:
    """[256, 9]: the 8 bits of each operand's two's-complement byte, then a constant 1."""
    idx = np.arange(256)
    byte = idx ^ 0x80 if signed else idx
    bits = (byte[:, None] >> np.arange(8)[None, :]) & 1
    return np.concatenate([bits, np.ones((256, 1), dtype=np.int64)], axis=1).astype(np.int64)


def _bit_plane_matrix(lut: np.ndarray, feats: np.ndarray) -> np.ndarray | None:
    """Integer ``C`` [9, 9] with ``lut == feats @ C @ feats.T``, or None."""
    pinv = np.linalg.pinv(feats.astype(np.float64))
    c = np.rint(pinv @ lut.astype(np.float64) @ pinv.T).astype(np.int64)
    return c if np.array_equal(feats @ c @ feats.T, lut) else None


#: Largest |f| * |g| of a skeleton term (keeps float64 sums exact for K up to 2^16).
_SKELETON_LIMIT = 1 << 36


def _skeleton(err: np.ndarray, max_rank: int) -> tuple[list[Term], int] | None:
    """Integer terms and denominator ``D`` with ``D * err = sum_t f_t g_t^T`` for a low-rank ``err``.

    Skeleton (CUR) form ``err = err[:, J] err[I, J]^-1 err[I, :]`` with the inverse
    written as adjugate / determinant, in exact Python integers.
    """
    from fractions import Fraction

    from scipy.linalg import qr

    r = int(np.linalg.matrix_rank(err.astype(np.float64)))
    if r == 0 or r > max_rank:
        return None
    cols = qr(err.astype(np.float64), pivoting=True, mode="r")[1][:r]
    rows = qr(err.T.astype(np.float64), pivoting=True, mode="r")[1][:r]
    core = [[Fraction(int(err[i, j])) for j in cols] for i in rows]
    # Gauss-Jordan inverse in exact rationals
    aug = [row + [Fraction(int(i == k)) for k in range(r)] for i, row in enumerate(core)]
    for c in range(r):
        piv = next((i for i in range(c, r) if aug[i][c] != 0), None)
        if piv is None:
            return None
        aug[c], aug[piv] = aug[piv], aug[c]
        pv = aug[c][c]
        aug[c] = [x / pv for x in aug[c]]
        for i in range(r):
            if i != c and aug[i][c] != 0:
                fac = aug[i][c]
                aug[i] = [x - fac * y for x, y in zip(aug[i], aug[c])]
    inv = [row[r:] for row in aug]
    den = 1
    for row in inv:
        for x in row:
            den = den * x.denominator // gcd(den, x.denominator)
    inv_int = np.array([[int(x * den) for x in row] for row in inv], dtype=object)
    g_all = inv_int.dot(err[rows, :].astype(object))  # [r, 256]
    terms = []
    for t in range(r):
        f = err[:, cols[t]].astype(np.int64)
        g = g_all[t]
        if max(abs(int(x)) for x in f) * max(abs(int(x)) for x in g) > _SKELETON_LIMIT:
            return None
        terms.append(Term(f, np.array([int(x) for x in g], dtype=np.int64)))
    return terms, int(den)


def _candidates(lut: np.ndarray, signed: bool) -> list[Decomposition]:
    vals = operand_values(signed).astype(np.int64)
    exact_term = Term(vals, vals)
    err = lut - exact_lut(signed).astype(np.int64)
    out: list[Decomposition] = []

    def add(terms: list[Term], structure: str) -> None:
        if len(terms) <= MAX_TERMS:
            out.append(Decomposition(tuple(terms), structure))

    def grouped(mat: np.ndarray, lift: Callable[[np.ndarray, np.ndarray], Term]) -> tuple[list[Term], list[Term]]:
        rows = [lift(c, d) for c, d in _row_groups(mat)]
        cols = [lift(d, c) for c, d in _row_groups(mat.T)]
        return rows, cols

    direct = lambda f, g: Term(f.astype(np.int64), g.astype(np.int64))  # noqa: E731
    if not np.any(err):
        add([exact_term], "exact product")
        return out
    for mat, prefix, base in ((lut, "", []), (err, "exact + error ", [exact_term])):
        rows, cols = grouped(mat, direct)
        add(base + rows, prefix + "rows")
        add(base + cols, prefix + "columns")
    skeleton = _skeleton(err, MAX_TERMS - 1)
    if skeleton is not None:
        terms, den = skeleton
        vals_d = vals * den
        out.append(Decomposition(tuple([Term(vals_d, vals)] + terms), "exact + low-rank error skeleton", den))
    feats = _bit_features(signed)
    lift = lambda f, g: Term(feats @ f, feats @ g)  # noqa: E731
    c_lut = _bit_plane_matrix(lut, feats)
    if c_lut is not None:
        c_exact = _bit_plane_matrix(exact_lut(signed).astype(np.int64), feats)
        for mat, prefix, base in ((c_lut, "bit-plane ", []), (c_lut - c_exact, "exact + bit-plane error ", [exact_term])):
            rows, cols = grouped(mat, lift)
            add(base + rows, prefix + "rows")
            add(base + cols, prefix + "columns")
    return out


def _magnitude(d: Decomposition) -> float:
    return float(sum(float(np.abs(t.f).max()) * float(np.abs(t.g).max()) for t in d.terms))


def decompose(multiplier: Multiplier | np.ndarray, signed: bool | None = None) -> Decomposition:
    """The exact decomposition of ``multiplier``'s LUT with the fewest terms.

    Raises :class:`ApproxDSEError` when the LUT has no structure of at most
    :data:`MAX_TERMS` terms (use ``mode="lut"`` or ``"low-rank"`` then).
    """
    if isinstance(multiplier, Multiplier):
        lut, signed, name = multiplier.lut, multiplier.signed, multiplier.name
    else:
        if signed is None:
            raise ApproxDSEError("decompose() needs signed=True/False when given a bare LUT")
        lut, name = np.asarray(multiplier), "LUT"
    lut = np.asarray(lut, dtype=np.int64)
    found = [d for d in _candidates(lut, bool(signed)) if d.reproduces(lut)]
    if not found:
        raise ApproxDSEError(
            f"multiplier {name!r} has no exact decomposition (no low-rank or bit-plane structure with at most "
            f"{MAX_TERMS} terms); use mode='lut' (exact) or mode='low-rank' (approximate)"
        )
    best = min(found, key=lambda d: (d.rank, d.denominator != 1, _magnitude(d)))
    if not best.reproduces(lut):  # pragma: no cover - guarded by construction
        raise ApproxDSEError(f"internal error: the decomposition of {name!r} does not reproduce its LUT")
    return best
