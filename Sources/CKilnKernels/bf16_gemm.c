// The bfloat16 GEMM: an AVX512-BF16 kernel (vdpbf16ps) and a portable one with the same bits.
#include "ckiln_kernels.h"
#include "bf16_micro.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MC_MAX (KILN_BF16_WORKSPACE_BYTES / (KC_MAX * 2))
#define NC 1024

size_t kiln_bf16_gemm_workspace_size(void) { return KILN_BF16_WORKSPACE_BYTES; }

// ---- The portable kernel: vdpbf16ps emulated in scalar C -----------------------------------

static inline float flush_denormal(float x) { return fabsf(x) < 1.17549435e-38f ? copysignf(0.0f, x) : x; }

// One vdpbf16ps lane: acc + a.hi*b.hi, then + a.lo*b.lo, each step rounded to float32 (the
// products are exact), denormal inputs as zero and denormal results flushed.
static inline float dot_pair(float acc, uint32_t a, uint32_t b) {
    acc = flush_denormal(acc);
    acc = flush_denormal(fmaf(flush_denormal(kiln_f32_from_bf16((uint16_t)(a >> 16))),
                              flush_denormal(kiln_f32_from_bf16((uint16_t)(b >> 16))), acc));
    acc = flush_denormal(fmaf(flush_denormal(kiln_f32_from_bf16((uint16_t)a)),
                              flush_denormal(kiln_f32_from_bf16((uint16_t)b)), acc));
    return acc;
}

// A's rounding, as vcvtne2ps2bf16: round to nearest even, but values below the smallest normal
// float become zero (their bf16 would be taken as zero by vdpbf16ps, except the one just below,
// which rounds up to the smallest normal bf16). NaN stays NaN (its payload may differ).
static inline uint16_t a_to_bf16(float x) { return kiln_bf16_from_f32(flush_denormal(x)); }

static void scale_c(int64_t m, int64_t n, float *c, int64_t ldc, float beta) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

static void portable_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                          const uint16_t *packedB, float *c, int64_t ldc, float beta, uint32_t *row) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_c(m, n, c, ldc, beta); return; }
    const int64_t pairs = (k + 1) / 2, rowCapacity = KILN_BF16_WORKSPACE_BYTES / 4;
    const uint32_t *pb = (const uint32_t *)packedB;
    for (int64_t i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        // Row i of A as bf16 pairs (low half: the even k), in blocks of the workspace.
        for (int64_t p0 = 0; p0 < pairs; p0 += rowCapacity) {
            int64_t np = pairs - p0 < rowCapacity ? pairs - p0 : rowCapacity;
            for (int64_t p = 0; p < np; p++) {
                int64_t r = 2 * (p0 + p);
                uint32_t lo = a_to_bf16(ai[r]), hi = r + 1 < k ? a_to_bf16(ai[r + 1]) : 0;
                row[p] = lo | (hi << 16);
            }
            for (int64_t j = 0; j < n; j++) {
                const uint32_t *bj = pb + (j / PANEL) * pairs * PANEL + (j % PANEL);
                float acc = p0 > 0 ? c[i * ldc + j] : (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
                for (int64_t p = 0; p < np; p++) acc = dot_pair(acc, row[p], bj[(p0 + p) * PANEL]);
                c[i * ldc + j] = acc;
            }
        }
    }
}

void kiln_bf16_gemm_portable(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                             const uint16_t *packedB, float *c, int64_t ldc, float beta) {
    _Alignas(64) uint32_t row[KILN_BF16_WORKSPACE_BYTES / 4];
    portable_gemm(m, n, k, a, lda, packedB, c, ldc, beta, row);
}

// ---- The AVX512-BF16 kernel ---------------------------------------------------------------

#if defined(__x86_64__)

AVX512BF16 static void avx512_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                   const uint16_t *packedB, float *c, int64_t ldc, float beta, uint16_t *ws) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_c(m, n, c, ldc, beta); return; }
    const int64_t pairs = (k + 1) / 2;
    // k in equal even blocks of at most KC_MAX (the block size never changes the bits).
    const int64_t kBlocks = (k + KC_MAX - 1) / KC_MAX;
    const int64_t kc = ((k + kBlocks - 1) / kBlocks + 1) & ~(int64_t)1;
    const int64_t mc = MC_MAX / KILN_MR * KILN_MR;
    const uint32_t *pb = (const uint32_t *)packedB;
    // C in blocks of mc rows x NC columns that stay in L2 while all of k runs over them (A's block
    // is rounded again for each column block).
    const int64_t nPanels = (n + PANEL - 1) / PANEL, nBlocks = (nPanels * PANEL + NC - 1) / NC;
    const int64_t nc = (nPanels + nBlocks - 1) / nBlocks * PANEL;
    for (int64_t jc = 0; jc < n; jc += nc) {
        const int64_t ncur = n - jc < nc ? n - jc : nc;
        for (int64_t i0 = 0; i0 < m; i0 += mc) {
            const int64_t mcur = m - i0 < mc ? m - i0 : mc;
            for (int64_t k0 = 0; k0 < k; k0 += kc) {
                const int64_t kcur = k - k0 < kc ? k - k0 : kc, kpairs = (kcur + 1) / 2;
                pack_a(mcur, kcur, a + i0 * lda + k0, lda, ws);
                for (int64_t j0 = jc; j0 < jc + ncur; j0 += PANEL) {
                    const uint32_t *bp = pb + (j0 / PANEL * pairs + k0 / 2) * PANEL;
                    const int nvalid = (int)(n - j0 < PANEL ? n - j0 : PANEL);
                    for (int64_t i = 0; i < mcur; i += KILN_MR) {
                        const int mr = (int)(mcur - i < KILN_MR ? mcur - i : KILN_MR);
                        micro_kernels[mr](kpairs, (const uint32_t *)(ws + i * KC_MAX), bp, c + (i0 + i) * ldc + j0, ldc,
                                          nvalid, k0 == 0, beta);
                    }
                }
            }
        }
    }
}

void kiln_bf16_gemm_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const uint16_t *packedB, float *c, int64_t ldc, float beta, void *workspace) {
    avx512_gemm(m, n, k, a, lda, packedB, c, ldc, beta, (uint16_t *)workspace);
}

#else  // not x86-64: the portable kernel only

void kiln_bf16_gemm_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const uint16_t *packedB, float *c, int64_t ldc, float beta, void *workspace) {
    portable_gemm(m, n, k, a, lda, packedB, c, ldc, beta, (uint32_t *)workspace);
}
#endif

void kiln_bf16_gemm_ws(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const uint16_t *packedB, float *c, int64_t ldc, float beta, void *workspace) {
    if (kiln_cpu_has_avx512_bf16()) kiln_bf16_gemm_avx512(m, n, k, a, lda, packedB, c, ldc, beta, workspace);
    else portable_gemm(m, n, k, a, lda, packedB, c, ldc, beta, (uint32_t *)workspace);
}

void kiln_bf16_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                    const uint16_t *packedB, float *c, int64_t ldc, float beta) {
    _Alignas(64) uint16_t ws[KILN_BF16_WORKSPACE_BYTES / 2];
    kiln_bf16_gemm_ws(m, n, k, a, lda, packedB, c, ldc, beta, ws);
}
