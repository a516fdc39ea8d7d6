"""LUT files, callables, import/export round trips and the user catalog."""
import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers import user_catalog
from approxdse.multipliers.importing import import_multiplier, load
from approxdse.multipliers.lut_io import from_callable, lut_from_callable, read_lut, write_lut
from approxdse.multipliers.multiplier import InvalidLUTError, exact_lut


@pytest.mark.parametrize("name", ["u8_mitchell", "s8_bam_h3_v6", "s8_drum_3", "u8_etm_4"])
@pytest.mark.parametrize("suffix", [".npy", ".bin", ".txt"])
def test_export_import_round_trip(tmp_path, name, suffix):
    m = multipliers.get(name)
    path = write_lut(m, tmp_path / f"lut{suffix}")
    lut, signed = read_lut(path, signed=m.signed if suffix == ".bin" else None)
    assert signed == m.signed
    assert np.array_equal(lut, m.lut)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_tfapprox_layout(tmp_path):
    m = multipliers.get("u8_exact")
    raw = np.fromfile(write_lut(m, tmp_path / "x.bin"), dtype="<u2")
    assert raw.size == 65536 and raw[200 * 256 + 3] == 600
    s = multipliers.get("s8_exact")
    raw = np.fromfile(write_lut(s, tmp_path / "s.bin"), dtype="<i2")
    assert raw[(128 - 3) * 256 + 128 + 5] == -15


def test_signedness_of_lut_files(tmp_path):
    np.save(tmp_path / "neg.npy", exact_lut(True))
    assert read_lut(tmp_path / "neg.npy")[1] is True
    np.save(tmp_path / "pos.npy", exact_lut(False))
    assert read_lut(tmp_path / "pos.npy")[1] is False
    write_lut(multipliers.get("s8_exact"), tmp_path / "mul8s_X.bin")
    assert read_lut(tmp_path / "mul8s_X.bin")[1] is True  # EvoApproxLib's signed prefix
    with pytest.raises(InvalidLUTError, match="given as unsigned"):
        read_lut(tmp_path / "neg.npy", signed=False)


def test_bad_lut_files(tmp_path):
    np.save(tmp_path / "shape.npy", np.zeros((16, 16), dtype=np.int32))
    with pytest.raises(InvalidLUTError, match=r"shape \(16, 16\)"):
        read_lut(tmp_path / "shape.npy")
    (tmp_path / "short.bin").write_bytes(b"\0" * 100)
    with pytest.raises(InvalidLUTError, match="100 bytes"):
        read_lut(tmp_path / "short.bin")
    (tmp_path / "words.txt").write_text("a b c\n")
    with pytest.raises(InvalidLUTError, match="not a table of numbers"):
        read_lut(tmp_path / "words.txt")
    np.save(tmp_path / "big.npy", np.full((256, 256), 1 << 20, dtype=np.int64))
    with pytest.raises(InvalidLUTError, match="outside the range"):
        read_lut(tmp_path / "big.npy")
    with pytest.raises(ApproxDSEError, match="no such file"):
        read_lut(tmp_path / "missing.npy")
    with pytest.raises(ApproxDSEError, match="unsupported file type '.xyz'"):
        load(tmp_path / "x.xyz")
    with pytest.raises(ApproxDSEError, match="cannot export to '.csv'"):
        write_lut(multipliers.get("u8_exact"), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_bin_export_refuses_products_over_16_bits(tmp_path):
    lut = exact_lut(False).copy()
    lut[255, 255] = 70000
    m = multipliers.Multiplier("wide", signed=False, lut=lut)
    with pytest.raises(ApproxDSEError, match="does not fit TFApprox"):
        write_lut(m, tmp_path / "wide.bin")
    assert list(tmp_path.iterdir()) == []


def test_callables_vectorised_and_scalar():
    m = from_callable(lambda a, b: a * b - (a & b & 1), "vec", signed=False, relative_energy=0.9)
    assert m.lut[5, 7] == 34 and m.lut[5, 6] == 30 and m.relative_energy == 0.9
    calls = []

    def scalar(a, b):
        calls.append(1)
        if isinstance(a, np.ndarray):
            raise TypeError("scalars only")
        return max(a * b, -100)

    lut = lut_from_callable(scalar, signed=True)
    assert lut[0, 255] == -100 and lut[128 + 3, 128 + 4] == 12
    with pytest.raises(ApproxDSEError, match="boom raised ZeroDivisionError"):
        lut_from_callable(lambda a, b: 1 // 0, signed=False, name="boom")


def test_user_catalog_import_get_and_force(approxdse_home, tmp_path):
    lut = exact_lut(False).copy()
    lut[1:, 1:] -= 1
    np.save(tmp_path / "m.npy", lut)
    m = import_multiplier(tmp_path / "m.npy", "my_mult", power_mw=0.2)
    assert m.relative_energy == pytest.approx(0.2 / 0.391)
    got = multipliers.get("my_mult")
    assert np.array_equal(got.lut, lut) and got.family == "lut-file"
    assert "my_mult" in multipliers.names() and "my_mult" in set(multipliers.catalog()["name"])
    assert (approxdse_home / "multipliers" / "my_mult.npy").is_file()
    # no silent overwrite
    np.save(tmp_path / "other.npy", exact_lut(False))
    with pytest.raises(ApproxDSEError, match="already exists; pass --force"):
        import_multiplier(tmp_path / "other.npy", "my_mult")
    assert np.array_equal(multipliers.get("my_mult").lut, lut)
    import_multiplier(tmp_path / "other.npy", "my_mult", force=True)
    assert multipliers.get("my_mult").is_exact
    with pytest.raises(ApproxDSEError, match="built-in multiplier name"):
        import_multiplier(tmp_path / "other.npy", "u8_drum_4", force=True)
    with pytest.raises(ApproxDSEError, match="invalid multiplier name"):
        import_multiplier(tmp_path / "other.npy", "../evil")
    user_catalog.remove("my_mult")
    assert "my_mult" not in multipliers.names()


def test_failed_import_writes_nothing(approxdse_home, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((3, 3)))
    with pytest.raises(InvalidLUTError):
        import_multiplier(tmp_path / "bad.npy", "bad")
    d = approxdse_home / "multipliers"
    assert not d.exists() or list(d.iterdir()) == []


def test_home_defaults_to_platform_dir(monkeypatch):
    monkeypatch.delenv("APPROXDSE_HOME", raising=False)
    import platformdirs

    assert user_catalog.home() == __import__("pathlib").Path(platformdirs.user_data_dir("approxdse", appauthor=False))
