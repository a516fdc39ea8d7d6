"""Every native LUT GEMM kernel is bit-exact; dispatch, forcing and the no-compiler fallback."""
import shutil
import subprocess
import warnings

import numpy as np
import pytest
import torch

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import get_backend
from approxdse.emulator.backends import ConvGeometry, native_kernel
from approxdse.emulator.backends.cpu import CPUBackend
from approxdse.emulator.oracles import structured_test_multipliers
from approxdse.multipliers.multiplier import exact_lut

RUNNABLE = [name for name in native_kernel.KERNELS if native_kernel.supported(name)]


def _wide_lut(seed: int) -> np.ndarray:
    """Signed products spanning 18 bits: 3 byte planes, 2 word planes."""
    rng = np.random.default_rng(seed)
    lut = rng.integers(-70_000, 131_072, (256, 256)).astype(np.int32)
    lut[0, 0], lut[255, 255] = -70_000, 131_071
    return lut


LUTS = {
    "random-unsigned": structured_test_multipliers(False)["random"].lut,  # 2 byte planes
    "random-signed": structured_test_multipliers(True, seed=3)["random"].lut,
    "small": (exact_lut(False) >> 8).astype(np.int32),  # 1 byte plane
    "wide": _wide_lut(0),
}


def _oracle_linear(a, w, lut):
    return lut.astype(np.int64)[a[:, None, :], w[None, :, :]].sum(-1)


@pytest.mark.parametrize("name", list(native_kernel.KERNELS))
def test_every_kernel_this_cpu_runs_is_bit_exact(name):
    if not native_kernel.supported(name):
        pytest.skip(f"this CPU cannot run {name}")
    backend = CPUBackend(name)
    assert backend.kernel == name
    ref = get_backend("reference")
    rng = np.random.default_rng(11)
    # shapes around the kernels' tile edges: 1, 31-33, 63-65, 255-257 positions, K = 1, odd, > 256 (flushes)
    for rows, k, m in [(1, 1, 1), (33, 3, 3), (65, 257, 5), (257, 70, 2), (31, 600, 7), (200, 513, 1)]:
        a = rng.integers(0, 256, (rows, k), dtype=np.uint8)
        w = rng.integers(0, 256, (m, k), dtype=np.uint8)
        for lut_name, lut in LUTS.items():
            got = backend.lut_linear(torch.from_numpy(a), torch.from_numpy(w), lut)
            np.testing.assert_array_equal(got.numpy(), _oracle_linear(a, w, lut), err_msg=f"{name} {lut_name}")
    # convolutions: batch x positions cross the kernels' groups of positions; grouped, strided, padded
    for shape in [(3, 4, 5, 5, 6, 3, 3, 1, 1, 1), (2, 6, 9, 11, 4, 3, 3, 2, 1, 2), (5, 8, 3, 3, 9, 1, 1, 1, 0, 1)]:
        n, c, h, wd, mo, r, s, st, pad, g = shape
        a = torch.from_numpy(rng.integers(0, 256, (n, c, h, wd), dtype=np.uint8))
        w = torch.from_numpy(rng.integers(0, 256, (mo, c // g, r, s), dtype=np.uint8))
        geom = ConvGeometry((st, st), (pad, pad), (1, 1), g)
        for lut_name, lut in LUTS.items():
            expected = ref.lut_conv2d(a, w, lut, geom, 7)
            assert torch.equal(backend.lut_conv2d(a, w, lut, geom, 7), expected), f"{name} {lut_name} {shape}"


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_kernel_wraps_like_an_int32_accumulator(name):
    lut = np.full((256, 256), (1 << 17) - 1, dtype=np.int32)
    lut[5, 9] = -(1 << 17)
    total = 25_000 * ((1 << 17) - 1) - 600 * (1 << 17)
    wrapped = (total + (1 << 31)) % (1 << 32) - (1 << 31)
    for rows in (1, 100):  # few rows and many (the swar kernels' direct and table paths)
        a = torch.from_numpy(np.tile(np.r_[np.zeros(25_000), np.full(600, 5)].astype(np.uint8), (rows, 1)))
        w = torch.from_numpy(np.r_[np.zeros(25_000), np.full(600, 9)].astype(np.uint8)[None, :])
        assert (CPUBackend(name).lut_linear(a, w, lut) == wrapped).all()


def test_auto_picks_the_first_runnable_kernel_and_the_override_forces_one(monkeypatch):
    expected = next(n for n in native_kernel.PREFERENCE if native_kernel.load(n) is not None)
    assert native_kernel.best() == expected
    monkeypatch.delenv(native_kernel.KERNEL_VARIABLE, raising=False)
    assert CPUBackend().kernel == expected
    monkeypatch.setenv(native_kernel.KERNEL_VARIABLE, "portable")
    assert CPUBackend().kernel == "portable"
    monkeypatch.setenv(native_kernel.KERNEL_VARIABLE, "numba")
    assert CPUBackend().kernel == "numba"
    monkeypatch.setenv(native_kernel.KERNEL_VARIABLE, "sse9")
    with pytest.raises(ApproxDSEError, match="unknown CPU kernel 'sse9'"):
        CPUBackend()
    assert "avx2-shuffle" not in native_kernel.PREFERENCE  # measured slower: only when forced
    assert "avx2-gather" not in native_kernel.PREFERENCE


def test_forcing_a_kernel_this_cpu_lacks_is_one_clear_error():
    foreign = "neon" if native_kernel.machine() in ("x86_64", "amd64") else "avx2"
    assert not native_kernel.supported(foreign)
    with pytest.raises(ApproxDSEError, match=f"the {foreign} CPU kernel cannot run here: this CPU"):
        CPUBackend(foreign)


def test_cpu_flags_decide_support(monkeypatch):
    monkeypatch.setattr(native_kernel, "machine", lambda: "x86_64")
    monkeypatch.setattr(native_kernel, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512bw"}))
    assert [n for n in native_kernel.PREFERENCE if native_kernel.supported(n)] == ["avx512", "avx2", "swar", "portable"]
    monkeypatch.setattr(native_kernel, "cpu_flags", lambda: frozenset({"sse4_2"}))
    assert [n for n in native_kernel.PREFERENCE if native_kernel.supported(n)] == ["swar", "portable"]
    monkeypatch.setattr(native_kernel, "machine", lambda: "aarch64")
    monkeypatch.setattr(native_kernel, "cpu_flags", lambda: frozenset({"asimd"}))
    assert [n for n in native_kernel.PREFERENCE if native_kernel.supported(n)] == ["neon", "swar", "portable"]


@pytest.fixture
def fresh_kernels(monkeypatch, approxdse_home):
    """An empty kernel cache and no kernel loaded yet (restored afterwards)."""
    monkeypatch.setattr(native_kernel, "_loaded", {})
    monkeypatch.setattr(native_kernel, "_failures", {})
    monkeypatch.setattr(native_kernel, "_warned_no_compiler", False)
    monkeypatch.delenv(native_kernel.KERNEL_VARIABLE, raising=False)
    return approxdse_home


def test_a_missing_compiler_warns_once_and_falls_back_to_numba(monkeypatch, fresh_kernels):
    monkeypatch.setenv("CC", str(fresh_kernels / "no-such-cc"))
    with pytest.warns(RuntimeWarning, match="C compiler .*no-such-cc.* was not found") as caught:
        backend = CPUBackend()
    assert backend.kernel == "numba"
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CPUBackend().kernel == "numba"  # said once
    with pytest.raises(ApproxDSEError, match="no native CPU kernel runs here .*no C compiler"):
        CPUBackend("native")
    lut = LUTS["random-unsigned"]
    a = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    w = np.random.default_rng(1).integers(0, 256, (3, 30), dtype=np.uint8)
    got = backend.lut_linear(torch.from_numpy(a), torch.from_numpy(w), lut)
    np.testing.assert_array_equal(got.numpy(), _oracle_linear(a, w, lut))
    assert not list((fresh_kernels / "cache" / "kernels").glob("*.so"))  # nothing half-written


def test_a_compiler_that_rejects_the_flags_falls_back_to_the_next_kernel(monkeypatch, fresh_kernels, tmp_path):
    """A compiler that fails on AVX-512 flags (too old) leaves AVX2 or portable C in use, no warning."""
    real = shutil.which("cc") or shutil.which("gcc")
    if real is None:
        pytest.skip("no C compiler here")
    fake = tmp_path / "old-cc"
    fake.write_text(f"#!/bin/sh\ncase \"$*\" in *avx512*) echo 'unknown flag' >&2; exit 1;; esac\nexec {real} \"$@\"\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend = CPUBackend()
    assert backend.kernel not in ("avx512-vbmi", "avx512")
    assert backend.kernel == next(n for n in native_kernel.PREFERENCE
                                  if native_kernel.supported(n) and not n.startswith("avx512"))
    if native_kernel.supported("avx512-vbmi"):
        assert "could not build it" in native_kernel.why_not("avx512-vbmi")


def test_no_native_variable_means_numba(monkeypatch, fresh_kernels):
    monkeypatch.setenv("APPROXDSE_NO_NATIVE", "1")
    assert CPUBackend().kernel == "numba"
    with pytest.raises(ApproxDSEError, match="APPROXDSE_NO_NATIVE"):
        CPUBackend("portable")


def test_word_and_int32_tables_rebuild_the_lut():
    lut = _wide_lut(1)
    words, bias = native_kernel.word_planes(lut)
    assert words.shape == (256, 2, 256) and bias == 70_000
    rebuilt = (words[:, 0, :].astype(np.int64) + (words[:, 1, :].astype(np.int64) << 16)).T - bias
    np.testing.assert_array_equal(rebuilt, lut)
    t, bias = native_kernel.transposed_int32(lut)
    assert bias == 0 and t.shape == (256, 1, 256)
    np.testing.assert_array_equal(t[:, 0, :].T, lut)


SWAR_KERNELS = [n for n in native_kernel.KERNELS if native_kernel.KERNELS[n].table == "biased"]


@pytest.mark.parametrize("name", SWAR_KERNELS)
def test_swar_kernels_are_bit_exact_across_tiles_blocks_and_flushes(name):
    """The SWAR kernels' edges: tiles of 4096 positions (crossing images), blocks of 12 output channels
    (short last blocks of 1-3 table words, the last one part-filled), passes of 4 reduction steps,
    flushes every 32 (8 for wide LUTs); at most 48 positions take the direct path (one load per product)."""
    if not native_kernel.supported(name):
        pytest.skip(f"this CPU cannot run {name}")
    backend = CPUBackend(name)
    rng = np.random.default_rng(5)
    cases = [(4097, 5, 1), (4095, 9, 19), (8200, 33, 2), (49, 31, 37), (60, 65, 18), (50, 4, 36), (70, 2, 53),
             (64, 3, 13), (100, 6, 24), (48, 7, 5), (1, 300, 3), (47, 1, 20)]
    for rows, k, m in cases:
        a = rng.integers(0, 256, (rows, k), dtype=np.uint8)
        w = rng.integers(0, 256, (m, k), dtype=np.uint8)
        for lut_name, lut in LUTS.items():
            got = backend.lut_linear(torch.from_numpy(a), torch.from_numpy(w), lut)
            np.testing.assert_array_equal(got.numpy(), _oracle_linear(a, w, lut), err_msg=f"{name} {lut_name} {rows, k, m}")
    # a batch whose positions per image (L = 57 * 73 = 4161) put tile edges inside images, in both
    ref = get_backend("reference")
    a = torch.from_numpy(rng.integers(0, 256, (3, 2, 57, 73), dtype=np.uint8))
    w = torch.from_numpy(rng.integers(0, 256, (20, 2, 1, 1), dtype=np.uint8))
    geom = ConvGeometry((1, 1), (0, 0), (1, 1), 1)
    for lut_name, lut in LUTS.items():
        assert torch.equal(backend.lut_conv2d(a, w, lut, geom, 0), ref.lut_conv2d(a, w, lut, geom, 0)), lut_name


def test_swar_direct_path_is_bit_exact_for_any_number_of_positions(tmp_path):
    """The direct path (few positions; also the fallback when buffers cannot be allocated), forced for all."""
    import ctypes

    spec = native_kernel.KERNELS["swar"]
    source = spec.source.replace("#define DIRECT_BELOW 48", "#define DIRECT_BELOW (1L << 40)")
    assert source != spec.source
    fn = ctypes.CDLL(str(native_kernel.build(native_kernel.KernelSpec("swar-direct", source, spec.flags, "biased"),
                                             directory=tmp_path))).lut_gemm
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int, ctypes.c_void_p] + [ctypes.c_int] * 7 + [ctypes.c_int64]
    rng = np.random.default_rng(8)
    for lut_name, lut in LUTS.items():
        table, bias = native_kernel.biased_uint32(lut)
        for n, k, l_valid, m in [(1, 1, 1, 1), (2, 37, 130, 3), (3, 5, 64, 2)]:
            lp = -(-l_valid // 64) * 64
            a = np.zeros((n, k, lp), dtype=np.uint8)
            a[:, :, :l_valid] = rng.integers(0, 256, (n, k, l_valid), dtype=np.uint8)
            w = rng.integers(0, 256, (m, k), dtype=np.uint8)
            out = np.empty((n, m, l_valid), dtype=np.int32)
            native_kernel.lut_gemm(fn, a, l_valid, w, table, bias, out, 0, native_kernel.swar_flush_interval(table))
            expected = lut.astype(np.int64)[a[:, None, :, :l_valid], w[None, :, :, None]].sum(2)
            expected = (expected + (1 << 31)) % (1 << 32) - (1 << 31)
            np.testing.assert_array_equal(out, expected, err_msg=f"{lut_name} {(n, k, l_valid, m)}")


def test_swar_flush_interval_keeps_every_field_below_21_bits():
    for lut_name, lut in LUTS.items():
        table, bias = native_kernel.biased_uint32(lut)
        assert table.shape == (256, 1, 256) and table.dtype == np.uint32
        np.testing.assert_array_equal(table[:, 0, :].T.astype(np.int64) - bias, lut)
        interval = native_kernel.swar_flush_interval(table)
        top = int(table.max())
        assert interval * top < 1 << 21 <= (interval + 1) * top, lut_name
    assert native_kernel.swar_flush_interval(native_kernel.biased_uint32(LUTS["random-unsigned"])[0]) == 32
    assert native_kernel.swar_flush_interval(native_kernel.biased_uint32(LUTS["wide"])[0]) == 10
    worst = np.full((256, 256), (1 << 17) - 1, dtype=np.int32)
    worst[0, 0] = -(1 << 16)  # the widest LUT validate_lut accepts: lut + bias up to 3 * 2^16 - 1
    assert native_kernel.swar_flush_interval(native_kernel.biased_uint32(worst)[0]) == 10
    worst[0, 0] = -(1 << 17)  # wider than validate_lut allows (the int32 wrap-around test uses it)
    assert native_kernel.swar_flush_interval(native_kernel.biased_uint32(worst)[0]) == 8


# ---- NEON, cross-compiled for aarch64 and run under qemu-user (skipped where those tools are absent)

_NEON_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    int d[6]; long long bias;
    if (!f || fread(d, sizeof(int), 6, f) != 6 || fread(&bias, 8, 1, f) != 1) return 2;
    int N = d[0], K = d[1], L = d[2], Lp = d[3], M = d[4], P = d[5];
    uint8_t *a = malloc((size_t)N * K * Lp), *w = malloc((size_t)M * K), *t = malloc((size_t)256 * P * 256);
    int32_t *out = malloc(sizeof(int32_t) * (size_t)N * M * L);
    if (fread(a, 1, (size_t)N * K * Lp, f) != (size_t)N * K * Lp || fread(w, 1, (size_t)M * K, f) != (size_t)M * K
        || fread(t, 1, (size_t)256 * P * 256, f) != (size_t)256 * P * 256) return 3;
    fclose(f);
    lut_gemm(a, w, t, P, out, N, K, L, Lp, M, M, 0, bias);
    f = fopen(argv[2], "wb");
    fwrite(out, sizeof(int32_t), (size_t)N * M * L, f);
    fclose(f);
    return 0;
}
"""


def test_neon_kernel_is_bit_exact_under_qemu(tmp_path):
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if native_kernel.machine() in ("aarch64", "arm64"):
        pytest.skip("runs natively here (test_every_kernel_this_cpu_runs_is_bit_exact)")
    if not (cc and qemu):
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64(-static)")
    spec = native_kernel.KERNELS["neon"]
    driver = native_kernel.KernelSpec("neon-test", spec.source + _NEON_DRIVER, spec.flags, spec.table)
    exe = native_kernel.build(driver, cc=cc, extra_flags=("-O2", "-static"), directory=tmp_path, suffix="")
    rng = np.random.default_rng(4)
    for lut_name, lut in LUTS.items():
        for n, k, l_valid, m in [(1, 1, 1, 1), (2, 300, 70, 3), (3, 9, 17, 2)]:
            lp = -(-l_valid // 64) * 64
            a = np.zeros((n, k, lp), dtype=np.uint8)
            a[:, :, :l_valid] = rng.integers(0, 256, (n, k, l_valid), dtype=np.uint8)
            w = rng.integers(0, 256, (m, k), dtype=np.uint8)
            table, bias = native_kernel.byte_planes(lut)
            inp = tmp_path / "in.bin"
            inp.write_bytes(np.array([n, k, l_valid, lp, m, table.shape[1]], dtype=np.int32).tobytes()
                            + np.int64(bias).tobytes() + a.tobytes() + w.tobytes() + table.tobytes())
            subprocess.run([qemu, str(exe), str(inp), str(tmp_path / "out.bin")], check=True, timeout=120)
            got = np.fromfile(tmp_path / "out.bin", dtype=np.int32).reshape(n, m, l_valid)
            expected = lut.astype(np.int64)[a[:, None, :, :l_valid], w[None, :, :, None]].sum(2)
            expected = (expected + (1 << 31)) % (1 << 32) - (1 << 31)
            np.testing.assert_array_equal(got, expected, err_msg=f"{lut_name} {(n, k, l_valid, m)}")
