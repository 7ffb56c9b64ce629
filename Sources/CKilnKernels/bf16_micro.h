// Private to CKilnKernels: the register blocking of the bf16 GEMM, A's rounding into the
// workspace and the AVX512-BF16 micro-kernel, shared by the GEMM (bf16_gemm.c) and the fused
// attention (bf16_attention.c), so both multiply with the same instructions in the same order.
#ifndef KILN_BF16_MICRO_H
#define KILN_BF16_MICRO_H

#include "ckiln_kernels.h"

#define PANEL KILN_BF16_PANEL
// Register block: MR rows x PANEL columns (PANEL / 16 zmm each) of float32 accumulators.
#define KILN_MR 6
#define NV (PANEL / 16)
// A block: up to KC_MAX values of k (an even number) for MC_MAX rows, rounded to bf16, in the
// workspace, row stride KC_MAX. C in blocks of MC_MAX rows by up to NC columns (a multiple of PANEL,
// 240 KB of float32) stays in L2 while all of k runs over it. Measured on a Zen 5 core (1 MB L2,
// 48 KB L1): KC_MAX 512-1024 and NC 1024 within 2% of each other, KC_MAX 256 or NC 512 3-6% slower.
// (MC_MAX and NC are bf16_gemm.c's.)
#define KC_MAX 640

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Rows [0, rows) x k values [0, kc) of A (row stride lda) to bf16 into dst (row stride KC_MAX),
// with vcvtne2ps2bf16: round to nearest even, values below the smallest normal float to zero (as
// vdpbf16ps would take them anyway), NaN stays NaN. An odd kc gets a zero after its last value.
AVX512BF16 static void pack_a(int64_t rows, int64_t kc, const float *a, int64_t lda, uint16_t *dst) {
    for (int64_t i = 0; i < rows; i++) {
        const float *src = a + i * lda;
        uint16_t *out = dst + i * KC_MAX;
        int64_t r = 0;
        for (; r + 32 <= kc; r += 32) {
            __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + r + 16), _mm512_loadu_ps(src + r));
            _mm512_storeu_si512((void *)(out + r), (__m512i)h);
        }
        if (r < kc) {
            int64_t left = kc - r;
            __mmask16 lo = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __mmask16 hi = left <= 16 ? (__mmask16)0 : (__mmask16)((1u << (left - 16)) - 1);
            __m512bh h = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, src + r + 16), _mm512_maskz_loadu_ps(lo, src + r));
            // Whole pairs: the zero after an odd kc comes from the masked load.
            __mmask32 pairs = (__mmask32)(((uint64_t)1 << ((left + 1) & ~(int64_t)1)) - 1);
            _mm512_mask_storeu_epi16(out + r, pairs, (__m512i)h);
        }
    }
}

// C[0..MR) x [0..PANEL) (nvalid columns stored) += A-pairs (rows at stride KC_MAX/2 words) x
// B panel, over `pairs` pairs of k. `first`: start from beta * C (0 when beta == 0), else from C.
AVX512BF16 static inline __attribute__((always_inline)) void
micro_kernel(const int mr, int64_t pairs, const uint32_t *a, const uint32_t *b, float *c, int64_t ldc,
             int nvalid, int first, float beta) {
    __m512 acc[KILN_MR][NV];
    __mmask16 mask[NV];
    for (int v = 0; v < NV; v++) {
        int left = nvalid - 16 * v;
        mask[v] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
    }
    const __m512 vbeta = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < NV; v++) {
            if (first && beta == 0.0f) acc[i][v] = _mm512_setzero_ps();
            else {
                __m512 x = _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v);
                acc[i][v] = first ? _mm512_mul_ps(x, vbeta) : x;
            }
        }
    // The next block of rows of C, loaded by the next call.
    for (int i = 0; i < KILN_MR; i++)
        for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(c + (KILN_MR + i) * ldc + 16 * v), _MM_HINT_T0);
#if defined(__clang__)
#pragma clang loop unroll_count(2)
#endif
    for (int64_t p = 0; p < pairs; p++) {
        __m512bh bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = (__m512bh)_mm512_loadu_si512((const void *)(b + p * PANEL + 16 * v));
        for (int i = 0; i < mr; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i * (KC_MAX / 2) + p]);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], bv[v], ai);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], acc[i][v]);
}

#define MICRO_KERNEL_N(R)                                                                          \
    AVX512BF16 static void micro_kernel_##R(int64_t pairs, const uint32_t *a, const uint32_t *b,  \
                                            float *c, int64_t ldc, int nvalid, int first, float beta) { \
        micro_kernel(R, pairs, a, b, c, ldc, nvalid, first, beta);                                 \
    }
MICRO_KERNEL_N(1)
MICRO_KERNEL_N(2)
MICRO_KERNEL_N(3)
MICRO_KERNEL_N(4)
MICRO_KERNEL_N(5)
MICRO_KERNEL_N(6)
#if KILN_MR > 6
MICRO_KERNEL_N(7)
#endif
#if KILN_MR > 7
MICRO_KERNEL_N(8)
#endif

typedef void (*micro_kernel_fn)(int64_t, const uint32_t *, const uint32_t *, float *, int64_t, int, int, float);
static const micro_kernel_fn micro_kernels[KILN_MR + 1] = {
    0, micro_kernel_1, micro_kernel_2, micro_kernel_3, micro_kernel_4, micro_kernel_5, micro_kernel_6,
#if KILN_MR > 6
    micro_kernel_7,
#endif
#if KILN_MR > 7
    micro_kernel_8,
#endif
};

#endif  // __x86_64__

#endif
