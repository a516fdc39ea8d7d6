"""Native LUT GEMM kernels, compiled on first use with the system C compiler, chosen by CPU features.

One kernel per instruction set (C sources in :mod:`.native_sources`), all
bit-exact with the reference backend (exact integer arithmetic):

* ``avx512-vbmi`` (AVX-512 F, BW, VBMI): ``vpermi2b`` looks up 64 activations
  per instruction in each 128-entry half of a byte plane of the LUT column;
* ``avx512`` (AVX-512 F, BW): ``vpermi2w`` over the four 64-entry quarters of
  16-bit planes, two blends;
* ``avx2`` (AVX2): the ``swar`` kernel built with ``-mavx2`` (vectorised table
  build and flushes);
* ``avx2-gather`` (AVX2): ``vpgatherdd`` reads 16 products at once from a column
  that packs two output channels' 16-bit products; measured slower than
  ``avx2``, so it runs only when forced;
* ``avx2-shuffle`` (AVX2): ``vpshufb`` over the 16 16-byte chunks of byte
  planes; slower still, forced only;
* ``neon`` (aarch64): ``tbl``/``tbx`` over the four 64-byte quarters of byte
  planes, 16 lookups each;
* ``swar`` (any 64-bit CPU, plain C): one 64-bit table word holds three output
  channels' products in 21-bit fields, so one scalar load and add do three
  lookups (tables built per reduction step, reused for up to 4096 positions);
* ``portable`` (any C compiler): scalar, 2 output channels x 4 reduction steps
  per pass, LUT columns reused from L1.

:func:`best` returns the first of :data:`PREFERENCE` that this CPU supports and
that builds. A kernel is built once per source and flags and cached under
``approxdse.core.paths.cache_dir("kernels")``. Anything that goes wrong (no
compiler, no such instruction set, a compiler too old for the flags) makes
:func:`load` return None and the CPU backend falls back to the next kernel and
finally to numba; a missing compiler is reported once, as a warning.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from approxdse.core.paths import cache_dir
from approxdse.emulator.backends import native_sources

#: Every kernel's activation tiles are padded to a multiple of this many columns.
LANES = 64
#: Environment variable that forces one kernel (a name of :data:`KERNELS`, ``native`` or ``numba``).
KERNEL_VARIABLE = "APPROXDSE_CPU_KERNEL"
_X86 = ("x86_64", "amd64", "i686", "i386")
_ARM64 = ("aarch64", "arm64")


@dataclass(frozen=True)
class KernelSpec:
    """One native kernel: its C source, compiler flags, table layout and what the CPU must have."""

    name: str
    source: str
    flags: tuple[str, ...]
    #: ``bytes`` (byte planes), ``words`` (16-bit planes) or ``int32`` (the transposed LUT).
    table: str
    #: Architectures (``platform.machine()``, lower case) it runs on; empty: any.
    machines: tuple[str, ...] = ()
    #: CPU feature flags (as /proc/cpuinfo names them) it needs.
    cpu_flags: frozenset[str] = frozenset()
    description: str = ""


_COMMON = ("-O3", "-fopenmp", "-shared", "-fPIC")
KERNELS: dict[str, KernelSpec] = {spec.name: spec for spec in (
    KernelSpec("avx512-vbmi", native_sources.VBMI, ("-mavx512f", "-mavx512bw", "-mavx512vbmi"), "bytes", _X86,
               frozenset({"avx512f", "avx512bw", "avx512vbmi"}), "AVX-512 VBMI byte-plane permutes"),
    KernelSpec("avx512", native_sources.AVX512, ("-mavx512f", "-mavx512bw"), "words", _X86,
               frozenset({"avx512f", "avx512bw"}), "AVX-512 16-bit-plane permutes (no VBMI)"),
    # SWAR lookups (scalar 64-bit loads, three products each); AVX2 vectorises the table build and flushes
    KernelSpec("avx2", native_sources.SWAR, ("-mavx2",), "biased", _X86, frozenset({"avx2"}),
               "AVX2 (SWAR lookups, vectorised table build)"),
    # measured slower than the SWAR lookups (benchmarks/RESULTS.md), so never chosen by ``auto``; forcible
    KernelSpec("avx2-gather", native_sources.AVX2_GATHER, ("-mavx2",), "words", _X86, frozenset({"avx2"}),
               "AVX2 gathers"),
    KernelSpec("avx2-shuffle", native_sources.AVX2_SHUFFLE, ("-mavx2",), "bytes", _X86, frozenset({"avx2"}),
               "AVX2 byte shuffles"),
    KernelSpec("neon", native_sources.NEON, (), "bytes", _ARM64, frozenset(), "NEON tbl/tbx byte-plane lookups"),
    # vectorising its indexed loads (element by element) makes it slower
    KernelSpec("swar", native_sources.SWAR, (), "biased", (), frozenset(), "SWAR 64-bit table words (plain C)"),
    KernelSpec("portable", native_sources.PORTABLE, ("-fno-tree-vectorize",), "int32", (), frozenset(), "portable C"),
)}
#: The order in which ``auto`` tries the kernels (the first supported one that builds wins).
#: ``avx2-gather`` and ``avx2-shuffle`` are left out: they run only when forced.
PREFERENCE = ("avx512-vbmi", "avx512", "avx2", "neon", "swar", "portable")

_lock = threading.Lock()
_loaded: dict[str, ctypes._CFuncPtr | None] = {}
_failures: dict[str, str] = {}
_warned_no_compiler = False


def machine() -> str:
    """This machine's architecture, lower case (``x86_64``, ``aarch64``, ...)."""
    return platform.machine().lower()


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the OS reports (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def supported(name: str) -> bool:
    """Whether this CPU can run kernel ``name`` (its architecture and instruction sets)."""
    spec = KERNELS[name]
    if spec.machines and machine() not in spec.machines:
        return False
    return spec.cpu_flags <= cpu_flags()


def cpu_supports_vbmi() -> bool:
    """Whether this CPU has AVX-512 F, BW and VBMI."""
    return supported("avx512-vbmi")


def compiler() -> str:
    """The C compiler used (``$CC``, default ``cc``)."""
    return os.environ.get("CC", "cc")


def kernel_dir() -> Path:
    """Where built kernels are cached: ``approxdse.core.paths.cache_dir("kernels")``."""
    return cache_dir("kernels")


def build(spec: KernelSpec, cc: str | None = None, extra_flags: tuple[str, ...] = (),
          directory: Path | None = None, suffix: str = ".so") -> Path:
    """Compile ``spec`` (cached: an existing build of the same source, compiler and flags is reused).

    Raises OSError when the compiler is missing and ``subprocess.CalledProcessError``
    when it rejects the source or flags. The result is moved into place atomically.
    """
    cc = cc or compiler()
    flags = (*spec.flags, *_COMMON) if not extra_flags else (*spec.flags, *extra_flags)
    digest = hashlib.sha256("\0".join((spec.source, cc, *flags)).encode()).hexdigest()[:16]
    directory = directory or kernel_dir()
    target = directory / f"lut_gemm_{spec.name}_{digest}{suffix}"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        src = Path(tmp) / f"lut_gemm_{spec.name}.c"
        src.write_text(spec.source)
        built = Path(tmp) / target.name
        subprocess.run([cc, *flags, str(src), "-o", str(built)], check=True, capture_output=True, timeout=180)
        os.replace(built, target)  # atomic: never a half-written library
    return target


def _compile(name: str) -> ctypes._CFuncPtr | None:
    global _warned_no_compiler
    spec = KERNELS[name]
    if not supported(name):
        _failures[name] = f"this CPU ({machine()}) lacks {spec.description or name}"
        return None
    try:
        path = build(spec)
    except OSError as exc:
        if exc.filename is not None and str(exc.filename) != compiler() and shutil.which(compiler()):
            # the compiler is there; the kernel cache folder is not writable (e.g. a read-only home)
            _failures[name] = f"cannot build into {kernel_dir()} ({exc.strerror or exc}: {exc.filename})"
            if not _warned_no_compiler:
                _warned_no_compiler = True
                warnings.warn(f"approxdse: cannot write the native kernel cache {kernel_dir()} "
                              f"({exc.strerror or exc}), so the native LUT GEMM kernels cannot be built; the CPU "
                              f"emulator falls back to its slower numba kernel (make it writable or set "
                              f"APPROXDSE_HOME)", RuntimeWarning, stacklevel=4)
            return None
        _failures[name] = f"no C compiler ({compiler()!r}: {exc.strerror or exc})"
        if not _warned_no_compiler:
            _warned_no_compiler = True
            warnings.warn(f"approxdse: the C compiler {compiler()!r} was not found, so the native LUT GEMM kernels "
                          f"cannot be built; the CPU emulator falls back to its slower numba kernel "
                          f"(install a C compiler or set CC)", RuntimeWarning, stacklevel=4)
        return None
    except subprocess.SubprocessError as exc:
        detail = getattr(exc, "stderr", b"") or b""
        first = detail.decode(errors="replace").strip().splitlines()[:1]
        _failures[name] = f"{compiler()!r} could not build it ({first[0] if first else exc})"
        return None
    try:
        fn = ctypes.CDLL(str(path)).lut_gemm
    except (OSError, AttributeError) as exc:
        _failures[name] = f"the built library does not load ({exc})"
        return None
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                   ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                   ctypes.c_int, ctypes.c_int64]
    return fn


def load(name: str) -> ctypes._CFuncPtr | None:
    """The compiled ``lut_gemm`` of kernel ``name``, or None when it cannot be built or run here."""
    with _lock:
        if os.environ.get("APPROXDSE_NO_NATIVE"):
            _failures[name] = "APPROXDSE_NO_NATIVE is set"
            return None
        if name not in _loaded:
            _loaded[name] = _compile(name)
    return _loaded[name]


def why_not(name: str) -> str:
    """Why kernel ``name`` did not load (empty when it did or was not tried)."""
    return _failures.get(name, "")


def best() -> str | None:
    """The name of the fastest kernel that runs here, or None (numba then)."""
    for name in PREFERENCE:
        if supported(name) and load(name) is not None:
            return name
    return None


def _planes(lut: np.ndarray, bits: int, dtype, max_planes: int) -> tuple[np.ndarray, int]:
    """[256 (weight code), P, 256 (activation index)] ``bits``-wide planes of ``lut + bias``, and the bias."""
    biased, bias = _biased(lut)
    n_planes = max(1, (int(biased.max()).bit_length() + bits - 1) // bits)
    if n_planes > max_planes:  # pragma: no cover - validate_lut bounds products to 18 bits
        raise ValueError(f"LUT values need more than {bits * max_planes} bits")
    mask = (1 << bits) - 1
    planes = np.stack([(biased.T >> (bits * p)) & mask for p in range(n_planes)], axis=1).astype(dtype)
    return np.ascontiguousarray(planes), bias


def byte_planes(lut: np.ndarray) -> tuple[np.ndarray, int]:
    """uint8 [256 (weight code), P, 256 (activation index)] byte planes of ``lut + bias``, and the bias."""
    return _planes(lut, 8, np.uint8, 3)


def word_planes(lut: np.ndarray) -> tuple[np.ndarray, int]:
    """uint16 [256 (weight code), Q, 256 (activation index)] 16-bit planes of ``lut + bias``, and the bias."""
    return _planes(lut, 16, np.uint16, 2)


def transposed_int32(lut: np.ndarray) -> tuple[np.ndarray, int]:
    """int32 [256 (weight code), 256 (activation index)]: the transposed LUT (bias 0)."""
    return np.ascontiguousarray(np.asarray(lut, dtype=np.int32).T)[:, None, :], 0


def biased_uint32(lut: np.ndarray) -> tuple[np.ndarray, int]:
    """uint32 [256 (weight code), 1, 256 (activation index)]: the transposed ``lut + bias``, and the bias."""
    biased, bias = _biased(lut)
    return np.ascontiguousarray(biased.T.astype(np.uint32))[:, None, :], bias


#: Bits of one field of the ``swar`` kernel's 64-bit table words (three per word).
SWAR_FIELD_BITS = 21


def swar_flush_interval(table: np.ndarray) -> int:
    """How many ``swar`` additions a 21-bit field takes before it could overflow (from a ``biased`` table)."""
    top = int(table.max())
    interval = min(((1 << SWAR_FIELD_BITS) - 1) // max(top, 1), 1 << 20)
    if interval < 4:  # pragma: no cover - validate_lut bounds lut + bias below 2^18 (interval >= 8)
        raise ValueError(f"LUT values up to {top} are too wide for the swar kernel")
    return interval


def _biased(lut: np.ndarray) -> tuple[np.ndarray, int]:
    lut64 = np.asarray(lut, dtype=np.int64)
    bias = int(-lut64.min()) if lut64.min() < 0 else 0
    return lut64 + bias, bias


#: How each table layout is built from a LUT.
TABLE = {"bytes": byte_planes, "words": word_planes, "int32": transposed_int32, "biased": biased_uint32}


def table_parameter(layout: str, table: np.ndarray) -> int:
    """The integer a kernel with table ``layout`` takes beside its table: the number of planes, or, for
    ``biased`` (the ``swar`` kernel), the flush interval."""
    return swar_flush_interval(table) if layout == "biased" else table.shape[1]


def lut_gemm(fn: ctypes._CFuncPtr, a: np.ndarray, l_valid: int, wt: np.ndarray, table: np.ndarray, bias: int,
             out: np.ndarray, m_offset: int, parameter: int | None = None) -> None:
    """``out[n, m_offset + m, l] = sum_k lut[a[n, k, l], wt[m, k]]`` for ``l < l_valid``.

    a: uint8 [N, K, Lp] (Lp a multiple of 64, C-contiguous); wt: uint8 [M, K];
    table: the kernel's layout of the LUT ([256, planes, 256], from :data:`TABLE`);
    out: int32 [N, M_total, l_valid] (int32 wrap-around on overflow); parameter: what
    :func:`table_parameter` gives for the table (default: its number of planes).
    """
    n, k, lp = a.shape
    m = wt.shape[0]
    assert lp % LANES == 0 and a.flags.c_contiguous and wt.flags.c_contiguous and out.flags.c_contiguous
    assert out.dtype == np.int32 and a.dtype == np.uint8 and wt.dtype == np.uint8 and table.flags.c_contiguous
    fn(a.ctypes.data, wt.ctypes.data, table.ctypes.data, table.shape[1] if parameter is None else parameter,
       out.ctypes.data,
       n, k, l_valid, lp, m, out.shape[1], m_offset, bias)
