"""The mapper's factorisation lists and skip table against their definitions, on random ranges."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from approxdse.accelerators import mapspace
from approxdse.accelerators.mapper import _skip_table


def _brute_factorisations(size, lo, hi):
    divisors = [f for f in range(1, size + 1) if size % f == 0]
    rows = [f for f in itertools.product(divisors, repeat=len(lo))
            if np.prod(f) == size and all(max(1, lo[i]) <= f[i] <= max(1, hi[i]) for i in range(len(lo)))]
    return np.array(sorted(rows), dtype=np.int64).reshape(-1, len(lo))


@pytest.mark.parametrize("seed", range(6))
def test_factorisations_are_every_product_in_range_in_lexicographic_order(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        L = int(rng.integers(1, 5))
        size = int(rng.choice([1, 2, 6, 12, 16, 18, 29, 30, 36]))
        lo = rng.integers(0, 3, L)
        hi = rng.integers(0, size + 2, L)
        got = mapspace._factorisations(size, lo, hi)
        want = _brute_factorisations(size, lo, hi)
        assert got.shape == want.shape and (got == want).all(), (size, lo, hi)


def test_skip_table_points_past_every_row_sharing_the_prefix():
    rng = np.random.default_rng(3)
    blocks = [mapspace._factorisations(n, np.zeros(4, dtype=int), np.full(4, n)) for n in (1, 12, 30, 64)]
    facts = np.concatenate(blocks)
    offsets = np.cumsum([0] + [len(b) for b in blocks])
    skip = _skip_table(facts, offsets)
    for d in range(len(blocks)):
        a, z = offsets[d], offsets[d + 1]
        for r in rng.choice(np.arange(a, z), size=min(20, z - a), replace=False):
            for i in range(facts.shape[1]):
                want = next((q for q in range(r + 1, z) if not np.array_equal(facts[q, :i + 1], facts[r, :i + 1])), z)
                assert skip[r, i] == want, (d, r, i)
