"""An AVX-512 VBMI LUT GEMM, compiled on first use with the system C compiler.

Gathers are no faster than scalar loads on current x86 cores, so this kernel
does not gather. For one weight index ``w`` the 256 products ``lut[:, w]`` are
split into byte planes (2 planes when the biased products fit in 16 bits, else
3). A plane is a 256-entry byte table held in four zmm registers, and
``vpermi2b`` looks up 64 activation indices at once in each 128-entry half;
the top index bit picks the half. Plane bytes are widened into uint16 lane
accumulators (flushed to int32 every 256 reduction steps, before they can
overflow), and the planes are recombined at the end:

    sum_k lut[a_k, w_k] = sum_p 2^(8p) * sum_k byte_p(lut[a_k, w_k] + bias) - K * bias

The whole table (256 weight codes x planes x 256 bytes) is at most 192 KiB and
each task touches only the 1 KiB of its current weight code, so it stays in
L1/L2. Exact integer arithmetic throughout: bit-exact with the reference.

The shared library is cached under ``<home>/cache/kernels``
(:func:`approxdse.core.paths.cache_dir`) keyed by a hash of the source and flags. Anything that goes
wrong (no compiler, no AVX-512 VBMI) makes :func:`load` return None, and the
CPU backend falls back to its numba kernel.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from approxdse.core import paths

C_SOURCE = r"""
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define LANES 64
#define VECS 2          /* 64-lane vectors per task */
#define TILE (LANES * VECS)
#define FLUSH 256       /* reduction steps between uint16 -> int32 flushes */

/* out[b, m_off + m, l] = sum_k table(w[m, k])[a[b, k, l]] (before the bias fix-up)
   a: uint8 [N, K, Lp] with Lp a multiple of 64; w: uint8 [M, K];
   planes: uint8 [256 (weight code), P, 256 (activation index)];
   out: int32 [N, Mtot, L], wrapping around like an int32 accumulator. */
void lut_gemm_vbmi(const uint8_t *a, const uint8_t *w, const uint8_t *planes, int P,
                   int32_t *out, int N, int K, int L, int Lp, int M, int Mtot, int m_off,
                   int64_t bias) {
    const int tiles = (Lp + TILE - 1) / TILE;
    const long ntasks = (long)N * M * tiles;
    const int parallel = (double)ntasks * TILE * K > 4.0e6;  /* small layers: no thread start-up */
    #pragma omp parallel for schedule(dynamic, 4) if (parallel)
    for (long task = 0; task < ntasks; task++) {
        const int b = (int)(task / ((long)M * tiles));
        const long rest = task % ((long)M * tiles);
        const int m = (int)(rest / tiles);
        const int l0 = (int)(rest % tiles) * TILE;
        const int nvec = (Lp - l0) / LANES < VECS ? (Lp - l0) / LANES : VECS;
        int64_t acc32[3][TILE];
        memset(acc32, 0, sizeof(acc32));
        __m512i acc16[3][VECS][2];
        const __m512i zero = _mm512_setzero_si512();
        for (int p = 0; p < 3; p++) for (int v = 0; v < VECS; v++) { acc16[p][v][0] = zero; acc16[p][v][1] = zero; }
        const uint8_t *ab = a + (size_t)b * K * Lp + l0;
        const uint8_t *wm = w + (size_t)m * K;
        for (int k0 = 0; k0 < K; k0 += FLUSH) {
            const int k1 = k0 + FLUSH < K ? k0 + FLUSH : K;
            for (int k = k0; k < k1; k++) {
                const uint8_t *tab = planes + (size_t)wm[k] * P * 256;
                const uint8_t *arow = ab + (size_t)k * Lp;
                __m512i idx[VECS]; __mmask64 top[VECS];
                for (int v = 0; v < nvec; v++) {
                    idx[v] = _mm512_loadu_si512((const void *)(arow + v * LANES));
                    top[v] = _mm512_movepi8_mask(idx[v]);
                }
                for (int p = 0; p < P; p++) {
                    const __m512i t0 = _mm512_loadu_si512((const void *)(tab + p * 256));
                    const __m512i t1 = _mm512_loadu_si512((const void *)(tab + p * 256 + 64));
                    const __m512i t2 = _mm512_loadu_si512((const void *)(tab + p * 256 + 128));
                    const __m512i t3 = _mm512_loadu_si512((const void *)(tab + p * 256 + 192));
                    for (int v = 0; v < nvec; v++) {
                        const __m512i lo = _mm512_permutex2var_epi8(t0, idx[v], t1);
                        const __m512i hi = _mm512_permutex2var_epi8(t2, idx[v], t3);
                        const __m512i val = _mm512_mask_blend_epi8(top[v], lo, hi);
                        acc16[p][v][0] = _mm512_add_epi16(acc16[p][v][0], _mm512_unpacklo_epi8(val, zero));
                        acc16[p][v][1] = _mm512_add_epi16(acc16[p][v][1], _mm512_unpackhi_epi8(val, zero));
                    }
                }
            }
            /* flush: unpacklo holds bytes 0-7 of each 128-bit lane, unpackhi bytes 8-15 */
            for (int p = 0; p < P; p++) for (int v = 0; v < nvec; v++) {
                uint16_t lo16[32], hi16[32];
                _mm512_storeu_si512((void *)lo16, acc16[p][v][0]);
                _mm512_storeu_si512((void *)hi16, acc16[p][v][1]);
                for (int q = 0; q < 4; q++) for (int j = 0; j < 8; j++) {
                    acc32[p][v * LANES + q * 16 + j] += lo16[q * 8 + j];
                    acc32[p][v * LANES + q * 16 + 8 + j] += hi16[q * 8 + j];
                }
                acc16[p][v][0] = zero; acc16[p][v][1] = zero;
            }
        }
        int32_t *o = out + ((size_t)b * Mtot + m_off + m) * L;
        const int lend = l0 + nvec * LANES < L ? l0 + nvec * LANES : L;
        for (int l = l0; l < lend; l++) {
            int64_t s = 0;
            for (int p = 0; p < P; p++) s += acc32[p][l - l0] << (8 * p);
            o[l] = (int32_t)(uint32_t)(uint64_t)(s - (int64_t)K * bias);
        }
    }
}
"""

FLAGS = ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vbmi", "-fopenmp", "-shared", "-fPIC"]
LANES = 64

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False


def cpu_supports_vbmi() -> bool:
    """Whether this CPU has AVX-512 F, BW and VBMI (read from /proc/cpuinfo; False elsewhere)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split()
    except (OSError, IndexError):
        return False
    return {"avx512f", "avx512bw", "avx512vbmi"} <= set(flags)


def _cache_dir() -> Path:
    return paths.cache_dir("kernels")


def _compile() -> ctypes.CDLL | None:
    if os.environ.get("APPROXDSE_NO_NATIVE") or not cpu_supports_vbmi():
        return None
    digest = hashlib.sha256((C_SOURCE + " ".join(FLAGS)).encode()).hexdigest()[:16]
    target = _cache_dir() / f"lut_gemm_vbmi_{digest}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            src = Path(tmp) / "lut_gemm_vbmi.c"
            src.write_text(C_SOURCE)
            built = Path(tmp) / target.name
            cc = os.environ.get("CC", "cc")
            try:
                subprocess.run([cc, *FLAGS, str(src), "-o", str(built)], check=True, capture_output=True, timeout=120)
            except (OSError, subprocess.SubprocessError):
                return None
            os.replace(built, target)  # atomic: never a half-written library
    try:
        lib = ctypes.CDLL(str(target))
    except OSError:
        return None
    fn = lib.lut_gemm_vbmi
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                   ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                   ctypes.c_int, ctypes.c_int64]
    return lib


def load() -> ctypes.CDLL | None:
    """The compiled kernel library, or None when it cannot be built or run here."""
    global _lib, _tried
    with _lock:
        if not _tried:
            _tried = True
            _lib = _compile()
    return _lib


def byte_planes(lut: np.ndarray) -> tuple[np.ndarray, int]:
    """uint8 [256 (weight code), P, 256 (activation index)] byte planes of ``lut + bias``, and the bias."""
    lut64 = np.asarray(lut, dtype=np.int64)
    bias = int(-lut64.min()) if lut64.min() < 0 else 0
    biased = lut64 + bias
    n_planes = max(1, (int(biased.max()).bit_length() + 7) // 8)
    if n_planes > 3:  # pragma: no cover - validate_lut bounds products to 18 bits
        raise ValueError("LUT values need more than 24 bits")
    planes = np.stack([(biased.T >> (8 * p)) & 0xFF for p in range(n_planes)], axis=1).astype(np.uint8)
    return np.ascontiguousarray(planes), bias


def lut_gemm(lib: ctypes.CDLL, a: np.ndarray, l_valid: int, wt: np.ndarray, planes: np.ndarray, bias: int,
             out: np.ndarray, m_offset: int) -> None:
    """``out[n, m_offset + m, l] = sum_k lut[a[n, k, l], wt[m, k]]`` for ``l < l_valid``.

    a: uint8 [N, K, Lp] (Lp a multiple of 64, C-contiguous); wt: uint8 [M, K];
    out: int32 [N, M_total, l_valid] (int32 wrap-around on overflow).
    """
    n, k, lp = a.shape
    m = wt.shape[0]
    assert lp % LANES == 0 and a.flags.c_contiguous and wt.flags.c_contiguous and out.flags.c_contiguous
    assert out.dtype == np.int32 and a.dtype == np.uint8 and wt.dtype == np.uint8 and planes.dtype == np.uint8
    lib.lut_gemm_vbmi(a.ctypes.data, wt.ctypes.data, planes.ctypes.data, planes.shape[1], out.ctypes.data,
                      n, k, l_valid, lp, m, out.shape[1], m_offset, bias)
