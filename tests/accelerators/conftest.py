"""Fixtures shared by the accelerator tests."""
from __future__ import annotations

import pytest

from approxdse.accelerators import mapper


@pytest.fixture
def no_disk_cache(monkeypatch):
    """Map without the on-disk mapping cache, from an empty in-memory cache, so every search runs."""
    monkeypatch.setattr(mapper, "DISK_CACHE", False)
    mapper.clear_cache()
    yield
    mapper.clear_cache()
