import os

import pytest

# Keep the test processes from oversubscribing the cores (xdist runs several).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def approxdse_home(tmp_path, monkeypatch):
    """A private user catalog / cache directory for one test."""
    home = tmp_path / "approxdse_home"
    monkeypatch.setenv("APPROXDSE_HOME", str(home))
    return home
