"""C sources of the native LUT GEMM kernels, one per instruction set.

Every kernel exports the same function::

    void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int planes,
                  int32_t *out, int N, int K, int L, int Lp, int M, int Mtot, int m_off,
                  int64_t bias);

computing ``out[b, m_off + m, l] = sum_k lut[a[b, k, l], w[m, k]]`` (int32
wrap-around) for ``a`` uint8 [N, K, Lp] (Lp a multiple of 64, columns past L
zero), ``w`` uint8 [M, K] and ``out`` int32 [N, Mtot, L]. ``table`` is the LUT
in the layout the kernel reads (see ``TABLE`` in :mod:`.native_kernel`):

* ``bytes``: uint8 [256 weight codes, planes, 256 activation codes], the byte
  planes of ``lut + bias`` (VBMI, AVX2 byte-shuffle, NEON);
* ``words``: uint16 [256, planes, 256], its 16-bit planes (AVX-512 without VBMI, AVX2 gathers);
* ``int32``: int32 [256, 1, 256], the transposed LUT itself (portable C);
* ``biased``: uint32 [256, 1, 256], the transposed ``lut + bias`` (SWAR; ``planes`` is then the flush
  interval, see :func:`.native_kernel.table_parameter`).

All arithmetic is exact integer arithmetic: byte and word sums are widened
before they can overflow and recombined as
``sum_k lut = sum_p 2^(8p) * sum_k byte_p(lut + bias) - K * bias`` (mod 2^32).
"""
from __future__ import annotations

_PRELUDE = r"""
#include <stdint.h>
#include <string.h>
#define FLUSH 256  /* reduction steps between narrow -> wide accumulator flushes */
#define MINI(x, y) ((x) < (y) ? (x) : (y))
/* small layers run on one thread (no thread start-up) */
#define PARALLEL_WORK(N, M, L, K) ((double)(N) * (M) * (L) * (K) > 4.0e6)
"""

#: AVX-512 VBMI: ``vpermi2b`` looks up 64 activations at once in each 128-entry half of a byte plane.
VBMI = _PRELUDE + r"""
#include <immintrin.h>
#define LANES 64
#define VECS 2
#define TILE (LANES * VECS)

void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int P, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint8_t *planes = (const uint8_t *)table;
    const int tiles = (Lp + TILE - 1) / TILE;
    const long ntasks = (long)N * M * tiles;
    #pragma omp parallel for schedule(dynamic, 4) if (PARALLEL_WORK(N, M, L, K))
    for (long task = 0; task < ntasks; task++) {
        const int b = (int)(task / ((long)M * tiles));
        const long rest = task % ((long)M * tiles);
        const int m = (int)(rest % M);  /* output channels vary fastest: the activation tile stays in cache */
        const int l0 = (int)(rest / M) * TILE;
        const int nvec = MINI((Lp - l0) / LANES, VECS);
        int64_t acc32[3][TILE];
        memset(acc32, 0, sizeof(acc32));
        __m512i acc16[3][VECS][2];
        const __m512i zero = _mm512_setzero_si512();
        for (int p = 0; p < 3; p++) for (int v = 0; v < VECS; v++) { acc16[p][v][0] = zero; acc16[p][v][1] = zero; }
        const uint8_t *ab = a + (size_t)b * K * Lp + l0;
        const uint8_t *wm = w + (size_t)m * K;
        for (int k0 = 0; k0 < K; k0 += FLUSH) {
            const int k1 = MINI(k0 + FLUSH, K);
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
        const int lend = MINI(l0 + nvec * LANES, L);
        for (int l = l0; l < lend; l++) {
            int64_t s = 0;
            for (int p = 0; p < P; p++) s += acc32[p][l - l0] << (8 * p);
            o[l] = (int32_t)(uint32_t)(uint64_t)(s - (int64_t)K * bias);
        }
    }
}
"""

#: AVX-512 F+BW without VBMI: 16-bit planes, ``vpermi2w`` over four 64-entry quarters, two blends.
AVX512 = _PRELUDE + r"""
#include <immintrin.h>
#define LANES 32
#define VECS 4
#define TILE (LANES * VECS)

static inline __attribute__((always_inline)) void task_body(
        const uint8_t *ab, const uint8_t *wm, const uint16_t *words, const int Q, int32_t *o, int K, int L,
        int Lp, int l0, int64_t bias) {
    const int nvec = MINI((Lp - l0) / LANES, VECS);
    int64_t acc64[2][2][TILE];  /* [plane][low byte, high byte][l] */
    memset(acc64, 0, sizeof(acc64));
    const __m512i zero = _mm512_setzero_si512();
    const __m512i lomask = _mm512_set1_epi16(0xFF);
    const __m512i bit6 = _mm512_set1_epi16(64), bit7 = _mm512_set1_epi16(128);
    __m512i acc[2][VECS][2];
    for (int q = 0; q < 2; q++) for (int v = 0; v < VECS; v++) { acc[q][v][0] = zero; acc[q][v][1] = zero; }
    for (int k0 = 0; k0 < K; k0 += FLUSH) {
        const int k1 = MINI(k0 + FLUSH, K);
        for (int k = k0; k < k1; k++) {
            const uint16_t *tab = words + (size_t)wm[k] * Q * 256;
            const uint8_t *arow = ab + (size_t)k * Lp;
            __m512i idx[VECS]; __mmask32 m6[VECS], m7[VECS];
            for (int v = 0; v < nvec; v++) {
                idx[v] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(arow + v * LANES)));
                m6[v] = _mm512_test_epi16_mask(idx[v], bit6);
                m7[v] = _mm512_test_epi16_mask(idx[v], bit7);
            }
            for (int q = 0; q < Q; q++) {
                __m512i t[8];
                for (int i = 0; i < 8; i++) t[i] = _mm512_loadu_si512((const void *)(tab + q * 256 + 32 * i));
                for (int v = 0; v < nvec; v++) {
                    const __m512i r01 = _mm512_permutex2var_epi16(t[0], idx[v], t[1]);
                    const __m512i r23 = _mm512_permutex2var_epi16(t[2], idx[v], t[3]);
                    const __m512i r45 = _mm512_permutex2var_epi16(t[4], idx[v], t[5]);
                    const __m512i r67 = _mm512_permutex2var_epi16(t[6], idx[v], t[7]);
                    const __m512i lo = _mm512_mask_blend_epi16(m6[v], r01, r23);
                    const __m512i hi = _mm512_mask_blend_epi16(m6[v], r45, r67);
                    const __m512i val = _mm512_mask_blend_epi16(m7[v], lo, hi);
                    acc[q][v][0] = _mm512_add_epi16(acc[q][v][0], _mm512_and_si512(val, lomask));
                    acc[q][v][1] = _mm512_add_epi16(acc[q][v][1], _mm512_srli_epi16(val, 8));
                }
            }
        }
        for (int q = 0; q < Q; q++) for (int v = 0; v < nvec; v++) for (int h = 0; h < 2; h++) {
            uint16_t s16[LANES];
            _mm512_storeu_si512((void *)s16, acc[q][v][h]);
            for (int j = 0; j < LANES; j++) acc64[q][h][v * LANES + j] += s16[j];
            acc[q][v][h] = zero;
        }
    }
    const int lend = MINI(l0 + nvec * LANES, L);
    for (int l = l0; l < lend; l++) {
        int64_t s = 0;
        for (int q = 0; q < Q; q++) s += (acc64[q][0][l - l0] << (16 * q)) + (acc64[q][1][l - l0] << (16 * q + 8));
        o[l] = (int32_t)(uint32_t)(uint64_t)(s - (int64_t)K * bias);
    }
}

void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int Q, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint16_t *words = (const uint16_t *)table;
    const int tiles = (Lp + TILE - 1) / TILE;
    const long ntasks = (long)N * M * tiles;
    #pragma omp parallel for schedule(dynamic, 4) if (PARALLEL_WORK(N, M, L, K))
    for (long task = 0; task < ntasks; task++) {
        const int b = (int)(task / ((long)M * tiles));
        const long rest = task % ((long)M * tiles);
        const int m = (int)(rest % M);  /* output channels vary fastest: the activation tile stays in cache */
        const int l0 = (int)(rest / M) * TILE;
        const uint8_t *ab = a + (size_t)b * K * Lp + l0;
        int32_t *o = out + ((size_t)b * Mtot + m_off + m) * L;
        if (Q == 1) task_body(ab, w + (size_t)m * K, words, 1, o, K, L, Lp, l0, bias);
        else task_body(ab, w + (size_t)m * K, words, 2, o, K, L, Lp, l0, bias);
    }
}
"""

#: AVX2 with gathers: ``vpgatherdd`` over a column that packs two output channels' 16-bit products.
AVX2_GATHER = _PRELUDE + r"""
#include <immintrin.h>
#define MB 2       /* output channels per task */
#define GROUP 32   /* output positions per register group (4 vectors of 8) */
#define GROUPS 32  /* register groups per task: each gathered column serves 1024 positions */
#define KC 8       /* reduction steps per chunk */

/* dst[a] = lo[a] | hi[a] << 16 for a = 0..255 */
static inline void interleave(uint32_t *dst, const uint16_t *lo, const uint16_t *hi) {
    for (int j = 0; j < 256; j += 16) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(lo + j));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(hi + j));
        const __m256i l = _mm256_unpacklo_epi16(x0, x1), h = _mm256_unpackhi_epi16(x0, x1);
        _mm256_storeu_si256((__m256i *)(dst + j), _mm256_permute2x128_si256(l, h, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + j + 8), _mm256_permute2x128_si256(l, h, 0x31));
    }
}

/* Q == 1 (products + bias fit in 16 bits): one 32-bit column holds the products of two output channels
   (m0 low, m1 high), so one gather does 16 lookups. With s = sum of whole words and t = sum of high
   halves, the low channel's sum is s - (t << 16) (mod 2^32). Q == 2: one full-width column per channel. */
static inline __attribute__((always_inline)) void task_body(
        const uint8_t *const *ag, int ng, const uint8_t *const *wr, const uint16_t *words, const int Q,
        int K, int Lp, uint32_t (*accm)[GROUPS][GROUP]) {
    uint32_t cols[KC][MB][256] __attribute__((aligned(32)));
    const int ncols = Q == 1 ? 1 : MB;
    for (int kc = 0; kc < K; kc += KC) {
        const int kend = MINI(kc + KC, K);
        for (int k = kc; k < kend; k++) {
            if (Q == 1) interleave(cols[k - kc][0], words + (size_t)wr[0][k] * 256, words + (size_t)wr[1][k] * 256);
            else for (int i = 0; i < MB; i++) {
                const uint16_t *t = words + (size_t)wr[i][k] * 512;
                interleave(cols[k - kc][i], t, t + 256);
            }
        }
        for (int g = 0; g < ng; g++) {
            __m256i acc[MB][4];
            for (int i = 0; i < MB; i++) for (int v = 0; v < 4; v++)
                acc[i][v] = _mm256_loadu_si256((const __m256i *)(accm[i][g] + 8 * v));
            for (int k = kc; k < kend; k++) {
                const uint8_t *arow = ag[g] + (size_t)k * Lp;
                __m256i idx[4];
                for (int v = 0; v < 4; v++) idx[v] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(arow + 8 * v)));
                if (Q == 1) {
                    const int *col = (const int *)cols[k - kc][0];
                    for (int v = 0; v < 4; v++) {
                        const __m256i x = _mm256_i32gather_epi32(col, idx[v], 4);
                        acc[0][v] = _mm256_add_epi32(acc[0][v], x);
                        acc[1][v] = _mm256_add_epi32(acc[1][v], _mm256_srli_epi32(x, 16));
                    }
                } else for (int i = 0; i < ncols; i++) {
                    const int *col = (const int *)cols[k - kc][i];
                    for (int v = 0; v < 4; v++)
                        acc[i][v] = _mm256_add_epi32(acc[i][v], _mm256_i32gather_epi32(col, idx[v], 4));
                }
            }
            for (int i = 0; i < MB; i++) for (int v = 0; v < 4; v++)
                _mm256_storeu_si256((__m256i *)(accm[i][g] + 8 * v), acc[i][v]);
        }
    }
    if (Q == 1) for (int g = 0; g < ng; g++) for (int l = 0; l < GROUP; l++) accm[0][g][l] -= accm[1][g][l] << 16;
}

/* Output positions are numbered across the batch (b, l) in groups of 32 (Lp is a multiple of 64), so
   layers with few positions per image still give long tiles. */
void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int Q, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint16_t *words = (const uint16_t *)table;
    const int per_b = (L + GROUP - 1) / GROUP;
    const long ngroups = (long)N * per_b;
    const long tiles = (ngroups + GROUPS - 1) / GROUPS;
    const int mblocks = (M + MB - 1) / MB;
    const long ntasks = (long)mblocks * tiles;
    const uint32_t fix = (uint32_t)(uint64_t)((int64_t)K * bias);
    #pragma omp parallel for schedule(dynamic, 1) if (PARALLEL_WORK(N, M, L, K))
    for (long task = 0; task < ntasks; task++) {
        const int m0 = (int)(task % mblocks) * MB;  /* output channels vary fastest: the activations stay in cache */
        const long g0 = (task / mblocks) * GROUPS;
        const int ng = (int)MINI((long)GROUPS, ngroups - g0);
        const uint8_t *wr[MB];
        for (int i = 0; i < MB; i++) wr[i] = w + (size_t)MINI(m0 + i, M - 1) * K;  /* a short last block repeats a row */
        const uint8_t *ag[GROUPS];
        for (int g = 0; g < ng; g++) {
            const long gg = g0 + g;
            ag[g] = a + ((size_t)(gg / per_b) * K) * Lp + (size_t)(gg % per_b) * GROUP;
        }
        uint32_t accm[MB][GROUPS][GROUP];
        memset(accm, 0, sizeof(accm));
        if (Q == 1) task_body(ag, ng, wr, words, 1, K, Lp, accm);
        else task_body(ag, ng, wr, words, 2, K, Lp, accm);
        for (int g = 0; g < ng; g++) {
            const long gg = g0 + g;
            const int b = (int)(gg / per_b), l0 = (int)(gg % per_b) * GROUP, lend = MINI(l0 + GROUP, L);
            for (int i = 0; i < MB && m0 + i < M; i++) {
                int32_t *o = out + ((size_t)b * Mtot + m_off + m0 + i) * L;
                for (int l = l0; l < lend; l++) o[l] = (int32_t)(accm[i][g][l - l0] - fix);
            }
        }
    }
}
"""

#: AVX2 with byte shuffles: ``vpshufb`` over the 16 16-entry chunks of each byte plane.
AVX2_SHUFFLE = _PRELUDE + r"""
#include <immintrin.h>
#define LANES 32
#define VECS 2
#define TILE (LANES * VECS)

static inline __attribute__((always_inline)) void task_body(
        const uint8_t *ab, const uint8_t *wm, const uint8_t *planes, const int P, int32_t *o, int K, int L,
        int Lp, int l0, int64_t bias) {
    int64_t acc32[3][TILE];
    memset(acc32, 0, sizeof(acc32));
    const __m256i zero = _mm256_setzero_si256();
    const __m256i c70 = _mm256_set1_epi8(0x70), c16 = _mm256_set1_epi8(16);
    __m256i acc16[3][VECS][2];
    for (int p = 0; p < 3; p++) for (int v = 0; v < VECS; v++) { acc16[p][v][0] = zero; acc16[p][v][1] = zero; }
    for (int k0 = 0; k0 < K; k0 += FLUSH) {
        const int k1 = MINI(k0 + FLUSH, K);
        for (int k = k0; k < k1; k++) {
            const uint8_t *tab = planes + (size_t)wm[k] * P * 256;
            const uint8_t *arow = ab + (size_t)k * Lp;
            __m256i u[VECS], val[3][VECS];
            for (int v = 0; v < VECS; v++) {
                u[v] = _mm256_loadu_si256((const __m256i *)(arow + v * LANES));
                for (int p = 0; p < P; p++) val[p][v] = zero;
            }
            for (int h = 0; h < 16; h++) {
                /* u = index - 16h: lanes of chunk h are 0..15 and stay so after +0x70; all others
                   get bit 7 set (saturating), which makes vpshufb write 0 */
                __m256i sel[VECS];
                for (int v = 0; v < VECS; v++) sel[v] = _mm256_adds_epu8(u[v], c70);
                for (int p = 0; p < P; p++) {
                    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tab + p * 256 + 16 * h)));
                    for (int v = 0; v < VECS; v++) val[p][v] = _mm256_or_si256(val[p][v], _mm256_shuffle_epi8(t, sel[v]));
                }
                for (int v = 0; v < VECS; v++) u[v] = _mm256_sub_epi8(u[v], c16);
            }
            for (int p = 0; p < P; p++) for (int v = 0; v < VECS; v++) {
                acc16[p][v][0] = _mm256_add_epi16(acc16[p][v][0], _mm256_unpacklo_epi8(val[p][v], zero));
                acc16[p][v][1] = _mm256_add_epi16(acc16[p][v][1], _mm256_unpackhi_epi8(val[p][v], zero));
            }
        }
        /* unpacklo holds bytes 0-7 of each 128-bit lane, unpackhi bytes 8-15 */
        for (int p = 0; p < P; p++) for (int v = 0; v < VECS; v++) {
            uint16_t lo16[16], hi16[16];
            _mm256_storeu_si256((__m256i *)lo16, acc16[p][v][0]);
            _mm256_storeu_si256((__m256i *)hi16, acc16[p][v][1]);
            for (int q = 0; q < 2; q++) for (int j = 0; j < 8; j++) {
                acc32[p][v * LANES + q * 16 + j] += lo16[q * 8 + j];
                acc32[p][v * LANES + q * 16 + 8 + j] += hi16[q * 8 + j];
            }
            acc16[p][v][0] = zero; acc16[p][v][1] = zero;
        }
    }
    const int lend = MINI(l0 + TILE, L);
    for (int l = l0; l < lend; l++) {
        int64_t s = 0;
        for (int p = 0; p < P; p++) s += acc32[p][l - l0] << (8 * p);
        o[l] = (int32_t)(uint32_t)(uint64_t)(s - (int64_t)K * bias);
    }
}

void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int P, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint8_t *planes = (const uint8_t *)table;
    const int tiles = (L + TILE - 1) / TILE;
    const long ntasks = (long)N * M * tiles;
    #pragma omp parallel for schedule(dynamic, 4) if (PARALLEL_WORK(N, M, L, K))
    for (long task = 0; task < ntasks; task++) {
        const int b = (int)(task / ((long)M * tiles));
        const long rest = task % ((long)M * tiles);
        const int m = (int)(rest % M);  /* output channels vary fastest: the activation tile stays in cache */
        const int l0 = (int)(rest / M) * TILE;
        const uint8_t *ab = a + (size_t)b * K * Lp + l0;
        const uint8_t *wm = w + (size_t)m * K;
        int32_t *o = out + ((size_t)b * Mtot + m_off + m) * L;
        if (P == 1) task_body(ab, wm, planes, 1, o, K, L, Lp, l0, bias);
        else if (P == 2) task_body(ab, wm, planes, 2, o, K, L, Lp, l0, bias);
        else task_body(ab, wm, planes, 3, o, K, L, Lp, l0, bias);
    }
}
"""

#: aarch64 NEON: ``tbl``/``tbx`` over four 64-byte quarters of each byte plane, 16 lanes at once.
NEON = _PRELUDE + r"""
#include <arm_neon.h>
#define LANES 16
#define VECS 4
#define TILE (LANES * VECS)

static inline __attribute__((always_inline)) void task_body(
        const uint8_t *ab, const uint8_t *wm, const uint8_t *planes, const int P, int32_t *o, int K, int L,
        int Lp, int l0, int64_t bias) {
    int64_t acc32[3][TILE];
    memset(acc32, 0, sizeof(acc32));
    uint16x8_t acc16[3][VECS][2];
    for (int p = 0; p < 3; p++) for (int v = 0; v < VECS; v++) { acc16[p][v][0] = vdupq_n_u16(0); acc16[p][v][1] = vdupq_n_u16(0); }
    const uint8x16_t c64 = vdupq_n_u8(64), c128 = vdupq_n_u8(128), c192 = vdupq_n_u8(192);
    for (int k0 = 0; k0 < K; k0 += FLUSH) {
        const int k1 = MINI(k0 + FLUSH, K);
        for (int k = k0; k < k1; k++) {
            const uint8_t *tab = planes + (size_t)wm[k] * P * 256;
            const uint8_t *arow = ab + (size_t)k * Lp;
            uint8x16_t i0[VECS], i1[VECS], i2[VECS], i3[VECS];
            for (int v = 0; v < VECS; v++) {
                i0[v] = vld1q_u8(arow + v * LANES);
                /* index - 64j: in 0..63 only for the lanes of quarter j; tbx leaves the others */
                i1[v] = vsubq_u8(i0[v], c64); i2[v] = vsubq_u8(i0[v], c128); i3[v] = vsubq_u8(i0[v], c192);
            }
            for (int p = 0; p < P; p++) {
                const uint8x16x4_t t0 = vld1q_u8_x4(tab + p * 256), t1 = vld1q_u8_x4(tab + p * 256 + 64);
                const uint8x16x4_t t2 = vld1q_u8_x4(tab + p * 256 + 128), t3 = vld1q_u8_x4(tab + p * 256 + 192);
                for (int v = 0; v < VECS; v++) {
                    uint8x16_t r = vqtbl4q_u8(t0, i0[v]);
                    r = vqtbx4q_u8(r, t1, i1[v]);
                    r = vqtbx4q_u8(r, t2, i2[v]);
                    r = vqtbx4q_u8(r, t3, i3[v]);
                    acc16[p][v][0] = vaddw_u8(acc16[p][v][0], vget_low_u8(r));
                    acc16[p][v][1] = vaddw_high_u8(acc16[p][v][1], r);
                }
            }
        }
        for (int p = 0; p < P; p++) for (int v = 0; v < VECS; v++) {
            uint16_t lo16[8], hi16[8];
            vst1q_u16(lo16, acc16[p][v][0]);
            vst1q_u16(hi16, acc16[p][v][1]);
            for (int j = 0; j < 8; j++) {
                acc32[p][v * LANES + j] += lo16[j];
                acc32[p][v * LANES + 8 + j] += hi16[j];
            }
            acc16[p][v][0] = vdupq_n_u16(0); acc16[p][v][1] = vdupq_n_u16(0);
        }
    }
    const int lend = MINI(l0 + TILE, L);
    for (int l = l0; l < lend; l++) {
        int64_t s = 0;
        for (int p = 0; p < P; p++) s += acc32[p][l - l0] << (8 * p);
        o[l] = (int32_t)(uint32_t)(uint64_t)(s - (int64_t)K * bias);
    }
}

void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int P, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint8_t *planes = (const uint8_t *)table;
    const int tiles = (L + TILE - 1) / TILE;
    const long ntasks = (long)N * M * tiles;
    #pragma omp parallel for schedule(dynamic, 4) if (PARALLEL_WORK(N, M, L, K))
    for (long task = 0; task < ntasks; task++) {
        const int b = (int)(task / ((long)M * tiles));
        const long rest = task % ((long)M * tiles);
        const int m = (int)(rest % M);  /* output channels vary fastest: the activation tile stays in cache */
        const int l0 = (int)(rest / M) * TILE;
        const uint8_t *ab = a + (size_t)b * K * Lp + l0;
        const uint8_t *wm = w + (size_t)m * K;
        int32_t *o = out + ((size_t)b * Mtot + m_off + m) * L;
        if (P == 1) task_body(ab, wm, planes, 1, o, K, L, Lp, l0, bias);
        else if (P == 2) task_body(ab, wm, planes, 2, o, K, L, Lp, l0, bias);
        else task_body(ab, wm, planes, 3, o, K, L, Lp, l0, bias);
    }
}
"""

#: Portable C (any CPU, any C99 compiler): weight-stationary, 2 output channels x 4 reduction steps per pass.
PORTABLE = _PRELUDE + r"""
#define MB 2       /* output channels per task */
#define KU 4       /* reduction steps per pass: 8 LUT columns, each reused for 256 positions from L1 */
#define GROUP 64   /* output positions per group */
#define GROUPS 4   /* groups per task */

/* Output positions are numbered across the batch (b, l) in groups of 64 (Lp is a multiple of 64), so
   layers with few positions per image still give long tiles. */
void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int P, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint32_t *lut_t = (const uint32_t *)table;  /* unsigned: wraps around like an int32 accumulator */
    const int per_b = (L + GROUP - 1) / GROUP;
    const long ngroups = (long)N * per_b;
    const long tiles = (ngroups + GROUPS - 1) / GROUPS;
    const int mblocks = (M + MB - 1) / MB;
    const long ntasks = (long)mblocks * tiles;
    (void)P; (void)bias;
    #pragma omp parallel for schedule(dynamic, 2) if (PARALLEL_WORK(N, M, L, K))
    for (long task = 0; task < ntasks; task++) {
        const int m0 = (int)(task % mblocks) * MB;  /* output channels vary fastest: the activations stay in cache */
        const long g0 = (task / mblocks) * GROUPS;
        const int ng = (int)MINI((long)GROUPS, ngroups - g0);
        const uint8_t *w0 = w + (size_t)MINI(m0 + 0, M - 1) * K, *w1 = w + (size_t)MINI(m0 + 1, M - 1) * K;
        const uint8_t *ag[GROUPS];
        for (int g = 0; g < ng; g++) {
            const long gg = g0 + g;
            ag[g] = a + ((size_t)(gg / per_b) * K) * Lp + (size_t)(gg % per_b) * GROUP;
        }
        uint32_t acc[MB][GROUPS][GROUP];
        memset(acc, 0, sizeof(acc));
        int k = 0;
        for (; k + KU <= K; k += KU) {
            const uint32_t *c00 = lut_t + (size_t)w0[k] * 256, *c01 = lut_t + (size_t)w0[k + 1] * 256;
            const uint32_t *c02 = lut_t + (size_t)w0[k+2] * 256, *c03 = lut_t + (size_t)w0[k + 3] * 256;
            const uint32_t *c10 = lut_t + (size_t)w1[k] * 256, *c11 = lut_t + (size_t)w1[k + 1] * 256;
            const uint32_t *c12 = lut_t + (size_t)w1[k+2] * 256, *c13 = lut_t + (size_t)w1[k + 3] * 256;
            for (int g = 0; g < ng; g++) {
                const uint8_t *x0 = ag[g] + (size_t)k * Lp;
                uint32_t *a0 = acc[0][g], *a1 = acc[1][g];
                for (int l = 0; l < GROUP; l++) {
                    const unsigned i0 = x0[l], i1 = x0[Lp + l], i2 = x0[2*(size_t)Lp + l], i3 = x0[3*(size_t)Lp + l];
                    a0[l] += (c00[i0] + c01[i1]) + (c02[i2] + c03[i3]);
                    a1[l] += (c10[i0] + c11[i1]) + (c12[i2] + c13[i3]);
                }
            }
        }
        for (; k < K; k++) {
            const uint32_t *c0 = lut_t + (size_t)w0[k] * 256, *c1 = lut_t + (size_t)w1[k] * 256;
            for (int g = 0; g < ng; g++) {
                const uint8_t *x0 = ag[g] + (size_t)k * Lp;
                for (int l = 0; l < GROUP; l++) { const unsigned i0 = x0[l]; acc[0][g][l] += c0[i0]; acc[1][g][l] += c1[i0]; }
            }
        }
        for (int g = 0; g < ng; g++) {
            const long gg = g0 + g;
            const int b = (int)(gg / per_b), l0 = (int)(gg % per_b) * GROUP, lend = MINI(l0 + GROUP, L);
            for (int i = 0; i < MB && m0 + i < M; i++) {
                int32_t *o = out + ((size_t)b * Mtot + m_off + m0 + i) * L;
                for (int l = l0; l < lend; l++) o[l] = (int32_t)acc[i][g][l - l0];
            }
        }
    }
}
"""

#: Plain C, any 64-bit CPU: SWAR. One 64-bit table word holds three output channels' products in 21-bit
#: fields, so one scalar load and one add do three lookups; 12 output channels x 4 reduction steps per
#: pass, tables built per reduction step and reused for a tile of up to 4096 output positions.
SWAR = _PRELUDE + r"""
#include <stdlib.h>
#define KC 4        /* reduction steps per pass (their tables, KC x NW x 2 KiB = 32 KiB, stay in L1) */
#define NWMAX 4     /* table words (3 output channels each) per task: 12 output channels (measured: 4 beats 3 and 6) */
#define PT 4096     /* output positions per task */
#define PS (PT + 24) /* accumulator row stride: rows 4 KiB apart would alias */
#define DIRECT 64         /* positions per image of the direct path */
#define DIRECT_BELOW 48   /* the direct path runs for at most this many positions in all (measured crossover) */
#define FBITS 21
#define FMASK ((1ull << FBITS) - 1)

static const uint32_t zero_row[256];
/* an empty asm keeps the compiler from vectorising the lookups (indexed loads, element by element, are
   slower than the scalar loop); the table build and the flushes stay vectorised */
#if defined(__GNUC__)
#define SCALAR_LOOP(v) __asm__("" : "+r"(v))
#else
#define SCALAR_LOOP(v) (void)0
#endif

/* acc64[j * PS + q] (+)= sum_kk T[kk][j][x[kk][q]] for q < n */
static inline __attribute__((always_inline)) void lookups(
        const uint8_t *const *x, const uint64_t *T, const int NW, const int first, int n, uint64_t *acc64) {
    for (int q = 0; q < n; q++) {
        size_t i[KC];
        for (int kk = 0; kk < KC; kk++) i[kk] = x[kk][q];
        SCALAR_LOOP(i[0]);
        for (int j = 0; j < NW; j++) {
            const uint64_t *t = T + (size_t)j * 256;
            uint64_t s = 0;
            for (int kk = 0; kk < KC; kk++) s += t[(size_t)kk * NW * 256 + i[kk]];
            acc64[(size_t)j * PS + q] = first ? s : acc64[(size_t)j * PS + q] + s;
        }
    }
}

/* Fields of 21 bits take FL = floor((2^21 - 1) / max(lut + bias)) additions before one could carry into
   the next (FL >= 10: validate_lut bounds lut + bias below 3 * 2^16; the caller's FL is rounded down to a
   multiple of KC, so it must be >= KC); every FL reduction steps the fields are added to 32-bit
   accumulators (wrap-around mod 2^32, like int32). */
static inline __attribute__((always_inline)) void block_body(
        const uint8_t *a, const uint8_t *w, const uint32_t *tab, const int NW, const int FL, int K, int L, int Lp,
        int M, long p0, long p1, int m0, uint64_t *T, uint64_t *acc64, uint32_t *acc32) {
    const int np = (int)(p1 - p0);
    const int nch = MINI(3 * NW, M - m0);
    memset(acc32, 0, sizeof(uint32_t) * 3 * NW * PS);
    for (int kf = 0; kf < K; kf += FL) {
        const int kfe = MINI(kf + FL, K);
        for (int kc = kf; kc < kfe; kc += KC) {
            /* tables: T[kk][j][x] = sum_i (lut + bias)[x, w[m0 + 3j + i, kc + kk]] << 21i; steps past the
               interval get a zero table (and read a valid row) */
            int krow[KC];
            for (int kk = 0; kk < KC; kk++) {
                const int k = kc + kk, valid = k < kfe;
                krow[kk] = valid ? k : kc;
                for (int j = 0; j < NW; j++) {
                    const uint32_t *r[3];
                    for (int i = 0; i < 3; i++) {
                        const int c = 3 * j + i;
                        r[i] = valid && c < nch ? tab + (size_t)w[(size_t)(m0 + c) * K + k] * 256 : zero_row;
                    }
                    uint64_t *t = T + ((size_t)kk * NW + j) * 256;
                    /* r0 | r1 << 21 | r2 << 42, built as two 32-bit halves (vectorises to fewer instructions) */
                    const uint32_t *r0 = r[0], *r1 = r[1], *r2 = r[2];
                    for (int x = 0; x < 256; x++)
                        t[x] = (uint64_t)(r0[x] | (r1[x] << FBITS)) | ((uint64_t)((r1[x] >> (32 - FBITS)) | (r2[x] << (2 * FBITS - 32))) << 32);
                }
            }
            const int first = kc == kf;
            long p = p0;
            int q = 0;
            while (p < p1) {  /* one image's run of positions at a time */
                const int b = (int)(p / L), l0 = (int)(p % L), l1 = (int)MINI((long)L, l0 + (p1 - p));
                const uint8_t *ab = a + (size_t)b * K * Lp;
                const uint8_t *x[KC];
                for (int kk = 0; kk < KC; kk++) x[kk] = ab + (size_t)krow[kk] * Lp + l0;
                if (first) lookups(x, T, NW, 1, l1 - l0, acc64 + q);
                else lookups(x, T, NW, 0, l1 - l0, acc64 + q);
                q += l1 - l0;
                p += l1 - l0;
            }
        }
        for (int j = 0; j < NW; j++) {
            const uint64_t *s = acc64 + (size_t)j * PS;
            uint32_t *d0 = acc32 + (size_t)(3 * j) * PS, *d1 = d0 + PS, *d2 = d1 + PS;
            for (int q = 0; q < np; q++) {
                const uint64_t v = s[q];
                d0[q] += (uint32_t)(v & FMASK);
                d1[q] += (uint32_t)((v >> FBITS) & FMASK);
                d2[q] += (uint32_t)(v >> (2 * FBITS));
            }
        }
    }
}

/* Few output positions (a linear layer's batch): building tables would cost more than it saves, so one
   load per product, straight from the LUT column of each weight (also the fallback when the table path
   cannot allocate its buffers). */
static void direct(const uint8_t *a, const uint8_t *w, const uint32_t *tab, int32_t *out, int N, int K, int L,
                   int Lp, int M, int Mtot, int m_off, uint32_t fix) {
    #pragma omp parallel for schedule(dynamic, 8) if (PARALLEL_WORK(N, M, L, K))
    for (int m = 0; m < M; m++) {
        const uint8_t *wm = w + (size_t)m * K;
        for (int b = 0; b < N; b++) for (int l0 = 0; l0 < L; l0 += DIRECT) {
            const int nl = MINI(DIRECT, L - l0);
            uint32_t acc[DIRECT] = {0};
            const uint8_t *ab = a + (size_t)b * K * Lp + l0;
            for (int k = 0; k < K; k++) {
                const uint32_t *col = tab + (size_t)wm[k] * 256;
                const uint8_t *x = ab + (size_t)k * Lp;
                for (int l = 0; l < nl; l++) {
                    size_t i = x[l];
                    SCALAR_LOOP(i);
                    acc[l] += col[i];
                }
            }
            int32_t *o = out + ((size_t)b * Mtot + m_off + m) * L + l0;
            for (int l = 0; l < nl; l++) o[l] = (int32_t)(acc[l] - fix);
        }
    }
}

/* Output positions are numbered across the batch (b, l), l < L, in tiles of PT; output channels in blocks
   of 3 * NWMAX (the last block takes fewer table words). */
void lut_gemm(const uint8_t *a, const uint8_t *w, const void *table, int FL, int32_t *out, int N, int K,
              int L, int Lp, int M, int Mtot, int m_off, int64_t bias) {
    const uint32_t *tab = (const uint32_t *)table;  /* (lut + bias), [256 weight codes][256 activation codes] */
    const long npos = (long)N * L;
    const long tiles = (npos + PT - 1) / PT;
    const int mblocks = (M + 3 * NWMAX - 1) / (3 * NWMAX);
    const long ntasks = (long)mblocks * tiles;
    const uint32_t fix = (uint32_t)(uint64_t)((int64_t)K * bias);
    if (npos <= DIRECT_BELOW) {
        direct(a, w, tab, out, N, K, L, Lp, M, Mtot, m_off, fix);
        return;
    }
    FL = FL / KC * KC;
    int failed = 0;
    #pragma omp parallel if (PARALLEL_WORK(N, M, L, K))
    {
        uint64_t *T = (uint64_t *)malloc(sizeof(uint64_t) * KC * NWMAX * 256);
        uint64_t *acc64 = (uint64_t *)malloc(sizeof(uint64_t) * NWMAX * PS);
        uint32_t *acc32 = (uint32_t *)malloc(sizeof(uint32_t) * 3 * NWMAX * PS);
        const int ok = T && acc64 && acc32;
        if (!ok) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntasks; task++) {
            if (!ok) continue;  /* redone below */
            const int m0 = (int)(task % mblocks) * 3 * NWMAX;  /* output channels vary fastest: the activations stay in cache */
            const long p0 = (task / mblocks) * PT, p1 = MINI(p0 + PT, npos);
            const int nw = MINI(NWMAX, (M - m0 + 2) / 3);
            switch (nw) {
                case 1: block_body(a, w, tab, 1, FL, K, L, Lp, M, p0, p1, m0, T, acc64, acc32); break;
                case 2: block_body(a, w, tab, 2, FL, K, L, Lp, M, p0, p1, m0, T, acc64, acc32); break;
                case 3: block_body(a, w, tab, 3, FL, K, L, Lp, M, p0, p1, m0, T, acc64, acc32); break;
                default: block_body(a, w, tab, NWMAX, FL, K, L, Lp, M, p0, p1, m0, T, acc64, acc32); break;  /* NWMAX = 4 */
            }
            const int nch = MINI(3 * nw, M - m0);
            for (int c = 0; c < nch; c++) {
                const uint32_t *s = acc32 + (size_t)c * PS;
                long p = p0;
                int q = 0;
                while (p < p1) {
                    const int b = (int)(p / L), l0 = (int)(p % L), l1 = (int)MINI((long)L, l0 + (p1 - p));
                    int32_t *o = out + ((size_t)b * Mtot + m_off + m0 + c) * L;
                    for (int l = l0; l < l1; l++, q++) o[l] = (int32_t)(s[q] - fix);
                    p += l1 - l0;
                }
            }
        }
        free(T); free(acc64); free(acc32);
    }
    if (failed) direct(a, w, tab, out, N, K, L, Lp, M, Mtot, m_off, fix);
}
"""
