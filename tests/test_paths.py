"""One home and one cache layout for every service that stores files."""
from pathlib import Path

import platformdirs
import pytest

from approxdse.core import paths
from approxdse.emulator import training
from approxdse.emulator.backends import native_kernel
from approxdse.multipliers import user_catalog
from approxdse.predictors import defaults


def test_home_follows_the_variable(approxdse_home):
    assert paths.home_dir() == approxdse_home
    assert paths.catalog_dir() == approxdse_home / "multipliers"
    assert paths.cache_dir("kernels") == approxdse_home / "cache" / "kernels"
    assert not approxdse_home.exists()  # nothing is created by asking


def test_home_defaults_to_the_platform_data_dir(monkeypatch):
    monkeypatch.delenv("APPROXDSE_HOME", raising=False)
    assert paths.home_dir() == Path(platformdirs.user_data_dir("approxdse", appauthor=False))


@pytest.mark.parametrize("kind", ["", "a/b", ".hidden", None])
def test_cache_kind_must_be_a_folder_name(kind):
    with pytest.raises(ValueError):
        paths.cache_dir(kind)


def test_every_service_uses_the_one_layout(approxdse_home):
    """The user catalog stays where it always was; every cache sits under cache/<kind>."""
    assert user_catalog.user_dir() == approxdse_home / "multipliers"
    assert user_catalog.home() == approxdse_home
    assert defaults.cache_dir() == approxdse_home / "cache" / "predictors"
    assert native_kernel._cache_dir() == approxdse_home / "cache" / "kernels"
    assert training.home_dir() == approxdse_home / "cache"
    pt, meta = training._cache_paths("lenet5", "digits", 0, 1, "f")
    assert pt.parent == approxdse_home / "cache" / "models" / "float" == meta.parent
    used = {p.relative_to(approxdse_home / "cache").parts[0]
            for p in (defaults.cache_dir(), native_kernel._cache_dir(), pt)}
    assert used <= set(paths.CACHE_KINDS)


def test_c_model_luts_are_cached_under_cache(approxdse_home, tmp_path):
    import shutil

    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        pytest.skip("no C compiler")
    from approxdse.multipliers.c_model import load_c_model

    src = tmp_path / "mul8u_test.c"
    src.write_text("#include <stdint.h>\nuint16_t mul8u_test(uint8_t a, uint8_t b) { return a * b; }\n")
    load_c_model(src)
    cached = list((approxdse_home / "cache" / "c_models").glob("*.npy"))
    assert len(cached) == 1
