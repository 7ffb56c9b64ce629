// Private to CKilnKernels: one chunk of keys of the online softmax (Milakov and Gimelshein, 2018)
// that the fused attention kernels share (bf16_attention.c, f32_attention.c). For one query row:
// the chunk's scores become their unnormalised probabilities, and the row's running maximum, sum
// and output accumulator are carried over to the new maximum.
#ifndef KILN_ONLINE_SOFTMAX_H
#define KILN_ONLINE_SOFTMAX_H

#include "ckiln_kernels.h"

#include <math.h>
#include <stdint.h>

// Queries per block (a multiple of the micro-kernels' 6 rows) and keys per chunk (even, at most
// the bf16 kernel's KC_MAX): one chunk's scores, 96 KB of float32, stay in L2 with K's and V's
// chunks. Both kernels block alike, so their workspaces and row order agree.
#define QB 48
#define CHUNK 512

// The arguments both attention kernels take, checked alike: a head width they support, at least
// one key and a positive scale (NaN refused).
static inline int kiln_attention_arguments_ok(int64_t d, int64_t keys, float scale) {
    return d >= 1 && d <= KILN_ATTENTION_MAX_D && keys >= 1 && scale > 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

// e^x for x <= 0 in float32: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial to r^6
// (relative error below 2e-7), times 2^n by vscalefps (0 below the smallest denormal).
__attribute__((target("avx512f"))) static inline __m512 kiln_exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 kiln_lanes(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

// s: the row's cc scores of this chunk (unscaled), replaced by exp(scale (s - m)) with m the new
// running maximum; *maximum and *sum carried to m; acc (dp floats, a multiple of 16) rescaled.
__attribute__((target("avx512f"))) static inline void
kiln_softmax_chunk_row(float *s, int64_t cc, float scale, float *maximum, float *sum, float *acc, int64_t dp) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < cc; j += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, kiln_lanes(cc - j), s + j));
    const float chunkMax = _mm512_reduce_max_ps(vmax);
    const float m = chunkMax > *maximum ? chunkMax : *maximum;
    const float alpha = *maximum == -INFINITY ? 0.0f : expf((*maximum - m) * scale);
    *maximum = m;
    const __m512 vm = _mm512_set1_ps(m), vscale = _mm512_set1_ps(scale);
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < cc; j += 16) {
        const __mmask16 k = kiln_lanes(cc - j);
        const __m512 e = _mm512_maskz_mov_ps(k, kiln_exp_nonpositive(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), vm), vscale)));
        _mm512_mask_storeu_ps(s + j, k, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    *sum = *sum * alpha + _mm512_reduce_add_ps(vsum);
    if (alpha != 1.0f) {
        const __m512 va = _mm512_set1_ps(alpha);
        for (int64_t c = 0; c < dp; c += 16) _mm512_storeu_ps(acc + c, _mm512_mul_ps(va, _mm512_loadu_ps(acc + c)));
    }
}

// out[0 ..< d) = acc / sum.
__attribute__((target("avx512f"))) static inline void kiln_softmax_finish_row(const float *acc, float sum, int64_t d, float *out) {
    const __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (int64_t c = 0; c < d; c += 16) {
        const __mmask16 k = kiln_lanes(d - c);
        _mm512_mask_storeu_ps(out + c, k, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(k, acc + c)));
    }
}

#endif  // __x86_64__

#endif
