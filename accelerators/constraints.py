"""Map-space constraints with Timeloop's semantics: factor limits, loop orders, spatial splits.

One level's constraints (written in the architecture YAML, or read from a
Timeloop constraints file by :mod:`accelerators.timeloop_constraints`):

* ``factors``: per problem dimension a limit on the loop bound at that level:
  ``D=v`` (the bound is ``v``), ``D<=v``, ``D>=v``. Timeloop's ``D=0`` means
  "the whole dimension at this level" (every other level has bound 1). A forced
  ``D=v`` with ``v`` larger than the dimension is clamped to the dimension (what
  Timeloop does: the 2022 Simba exercise forces ``C=4`` at the MAC fan-out and
  its AlexNet-conv1 mapping unrolls ``C=3``); one smaller than the dimension that
  does not divide it is, under exact factorisation, the largest divisor of the
  dimension below ``v`` (a choice of ours: Timeloop has no legal mapping then).
  A constraint on ``M`` applies to ``G`` (groups) as well when it is ``M=1``.
* ``permutation``: the loop order, innermost first, Timeloop's string form
  (``"NMPQS CR"``: the dimensions before the space are the innermost loops in
  that order, those after it the outermost loops in that order, the others are
  free in between; without a space every listed dimension is innermost) or a
  list (``[N, M, C]``, innermost first). Only loops of bound > 1 are ordered.
* ``split`` (spatial levels): with ``permutation``, the first ``split``
  dimensions of the permutation go along ``meshX`` and the rest along
  ``meshY`` (Timeloop's spatial split); without it any dimension may go along
  either axis.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from approxdse.core.errors import ApproxDSEError

DIMS: tuple[str, ...] = ("N", "G", "C", "M", "P", "Q", "R", "S")
OPS = ("=", "<=", ">=")


@dataclass(frozen=True)
class FactorLimit:
    """``dim op value`` on one level's loop bound (``value`` 0 with ``=``: the whole dimension)."""

    dim: str
    op: str
    value: int

    def __str__(self) -> str:
        return f"{self.dim}{self.op}{self.value}"


@dataclass(frozen=True)
class Permutation:
    """A (partial) loop order: ``inner`` dimensions innermost (in order), ``outer`` outermost."""

    inner: tuple[str, ...] = ()
    outer: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.inner and not self.outer

    def allows(self, order_inner_first: list[str]) -> bool:
        """Whether an order of the nontrivial loops (innermost first) obeys this permutation."""
        present = set(order_inner_first)
        inner = [d for d in self.inner if d in present]
        outer = [d for d in self.outer if d in present]
        k = len(inner)
        if order_inner_first[:k] != inner:
            return False
        if outer and order_inner_first[len(order_inner_first) - len(outer):] != outer:
            return False
        return True

    def as_text(self) -> str:
        return "".join(self.inner) + (" " + "".join(self.outer) if self.outer else "")


def effective_forced(value: int, bound: int) -> int:
    """The bound a forced factor ``D=value`` gives for a dimension of size ``bound`` (exact factorisation)."""
    if value == 0 or value >= bound:
        return bound
    if bound % value == 0:
        return value
    return max(d for d in range(1, value + 1) if bound % d == 0)


_FACTOR_RE = re.compile(r"^([A-Z])\s*(<=|>=|=)\s*(\d+)$")


def _dim_ok(dim: str, where: str) -> str:
    if dim not in DIMS:
        raise ApproxDSEError(f"{where}: unknown dimension {dim!r}; dimensions: {', '.join(DIMS)}")
    return dim


def parse_factors(raw: Any, where: str) -> tuple[FactorLimit, ...]:
    """Factor limits from a mapping ``{C: 1, M: "<=4"}``, a Timeloop string ``"N=1 C<=4"`` or a list of them."""
    items: list[tuple[str, str, int]] = []
    if raw is None:
        return ()
    if isinstance(raw, dict):
        for k, v in raw.items():
            dim = _dim_ok(str(k), f"{where}.{k}")
            if isinstance(v, bool):
                raise ApproxDSEError(f"{where}.{k}: must be a non-negative integer or '<=N'/'>=N', got {v!r}")
            if isinstance(v, int):
                op, val = "=", v
            else:
                m = re.fullmatch(r"\s*(<=|>=|=)?\s*(\d+)\s*", str(v))
                if not m:
                    raise ApproxDSEError(f"{where}.{k}: must be a non-negative integer or '<=N'/'>=N', got {v!r}")
                op, val = m.group(1) or "=", int(m.group(2))
            items.append((dim, op, val))
    else:
        tokens: list[str] = []
        for part in (raw if isinstance(raw, list) else [raw]):
            if not isinstance(part, str):
                raise ApproxDSEError(f"{where}: factor constraints must be strings like 'C=1', got {part!r}")
            tokens += re.sub(r"\s*(<=|>=|=)\s*", r"\1", part).split()
        for tok in tokens:
            m = _FACTOR_RE.match(tok)
            if not m:
                raise ApproxDSEError(f"{where}: cannot read factor constraint {tok!r} (expected e.g. C=1, M<=4, P>=2)")
            items.append((_dim_ok(m.group(1), where), m.group(2), int(m.group(3))))
    out: dict[tuple[str, str], FactorLimit] = {}
    for dim, op, val in items:
        if val < 0 or (op != "=" and val == 0):
            raise ApproxDSEError(f"{where}: factor constraint {dim}{op}{val} needs a positive value")
        if (dim, op) in out and out[(dim, op)].value != val:
            raise ApproxDSEError(f"{where}: two different {dim}{op} constraints ({out[(dim, op)].value} and {val})")
        out[(dim, op)] = FactorLimit(dim, op, val)
    if ("M", "=") in out and out[("M", "=")].value == 1 and ("G", "=") not in out:
        out[("G", "=")] = FactorLimit("G", "=", 1)
    return tuple(sorted(out.values(), key=lambda f: (DIMS.index(f.dim), OPS.index(f.op))))


def parse_permutation(raw: Any, where: str) -> Permutation:
    """A permutation from Timeloop's string (``"NMPQS CR"``) or a list (innermost first)."""
    if raw is None:
        return Permutation()
    if isinstance(raw, list):
        dims = [_dim_ok(str(d), where) for d in raw]
        if len(set(dims)) != len(dims):
            raise ApproxDSEError(f"{where}: permutation lists a dimension twice: {raw!r}")
        return Permutation(tuple(dims), ())
    if not isinstance(raw, str):
        raise ApproxDSEError(f"{where}: permutation must be a string like 'NMPQS CR' or a list, got {raw!r}")
    parts = raw.split()
    if len(parts) > 2:
        raise ApproxDSEError(f"{where}: permutation {raw!r} has more than one space")
    inner = tuple(_dim_ok(c, where) for c in parts[0]) if parts else ()
    outer = tuple(_dim_ok(c, where) for c in parts[1]) if len(parts) > 1 else ()
    if len(set(inner + outer)) != len(inner + outer):
        raise ApproxDSEError(f"{where}: permutation {raw!r} lists a dimension twice")
    return Permutation(inner, outer)


def split_x_dims(perm: Permutation, split: int | None) -> frozenset[str] | None:
    """The dimensions that go along meshX under Timeloop's ``split`` (None: no split given)."""
    if split is None:
        return None
    order = list(perm.inner) + [d for d in DIMS if d not in perm.inner and d not in perm.outer] + list(perm.outer)
    return frozenset(order[:split])


def limits_text(limits: tuple[FactorLimit, ...]) -> str:
    return " ".join(str(f) for f in limits)
