// The machine's arithmetic peak, for KilnGEMMBenchmark's "% of peak" columns (issue 22): long
// chains of independent vdpbf16ps (bf16 pairs into float32) or vfmadd231ps (float32), enough
// accumulators to hide their latency, no memory traffic. What a GEMM kernel could reach at best.
#include "ckiln_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 16

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), noinline))
static float bf16_loop(int64_t iterations) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    // 1.0 and 0.0078125 as bf16 pairs: the sums stay finite however long the loop runs.
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3c00);
    for (int64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
        __asm__ volatile("" : : : "memory");
    }
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s;
}

__attribute__((target("avx512f"), noinline))
static float f32_loop(int64_t iterations) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    const __m512 x = _mm512_set1_ps(0.5f), y = _mm512_set1_ps(0.25f);
    for (int64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
        __asm__ volatile("" : : : "memory");
    }
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(acc[i]);
    return s;
}

double kiln_peak_loop(int bf16, int64_t iterations, float *sink) {
    if (iterations <= 0 || !kiln_cpu_has_avx512_bf16()) return 0;
    if (bf16) {
        *sink = bf16_loop(iterations);
        return (double)iterations * CHAINS * 16 * 4;  // 16 lanes, 2 products and 2 additions each
    }
    *sink = f32_loop(iterations);
    return (double)iterations * CHAINS * 16 * 2;
}

#else

double kiln_peak_loop(int bf16, int64_t iterations, float *sink) {
    (void)bf16; (void)iterations; *sink = 0;
    return 0;
}

#endif
