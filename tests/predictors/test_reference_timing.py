"""time_reference times a cold reference: no mapping from the in-memory or the on-disk cache."""
from __future__ import annotations

from approxdse.accelerators import mapper
from approxdse.predictors import compare


def test_time_reference_bypasses_the_disk_cache(monkeypatch):
    seen = []
    monkeypatch.setattr(compare, "reference_energy",
                        lambda w, acc, mult, which, fact: seen.append((mapper.DISK_CACHE, which, fact)))
    assert mapper.DISK_CACHE
    compare.time_reference(["a", "b"], "eyeriss")
    assert seen == [(False, "auto", "exact"), (False, "auto", "exact")]
    assert mapper.DISK_CACHE  # restored
    seen.clear()
    compare.time_reference(["a"], "eyeriss", mapper="fast")  # a --mapper fast dataset's reference
    assert seen == [(False, "fast", "exact")]
    seen.clear()
    compare.time_reference(["a"], "eyeriss", factorization="imperfect")  # a --factorization imperfect dataset
    assert seen == [(False, "auto", "imperfect")]
