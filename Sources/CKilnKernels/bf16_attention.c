// Attention with bf16 products and no score matrix: for a block of queries, the keys are taken a
// chunk at a time (scores of one chunk, then its probabilities, then their product with V), with a
// running maximum and sum per query (the online softmax of Milakov and Gimelshein, 2018, as
// FlashAttention uses it). The products are the bf16 GEMM's micro-kernel (bf16_micro.h).
#include "ckiln_kernels.h"
#include "bf16_micro.h"
#include "online_softmax.h"

#include <math.h>
#include <string.h>

// Queries per block and keys per chunk: QB and CHUNK (online_softmax.h).

static int64_t padded_d(int64_t d) { return (d + PANEL - 1) / PANEL * PANEL; }

size_t kiln_bf16_attention_workspace_size(int64_t d) {
    if (d < 1 || d > KILN_ATTENTION_MAX_D) return 0;
    // Q and P rounded to bf16 (row stride KC_MAX), the chunk's scores, the output rows, max and sum.
    return (size_t)(2 * QB * KC_MAX * 2 + QB * CHUNK * 4 + QB * padded_d(d) * 4 + 2 * QB * 4);
}

#if defined(__x86_64__)

// One block of `rows` <= QB queries over all keys.
AVX512BF16 static void attention_block(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                                       const uint16_t *packedK, const uint16_t *packedV, float *out, int64_t ldo,
                                       float scale, uint8_t *ws) {
    uint16_t *qws = (uint16_t *)ws, *pws = qws + QB * KC_MAX;
    float *scores = (float *)(pws + QB * KC_MAX);
    const int64_t dp = padded_d(d);
    float *acc = scores + QB * CHUNK, *maximum = acc + QB * dp, *sum = maximum + QB;
    const int64_t pairsD = (d + 1) / 2, pairsK = (keys + 1) / 2;

    pack_a(rows, d, q, ldq, qws);
    memset(acc, 0, (size_t)(rows * dp) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) { maximum[r] = -INFINITY; sum[r] = 0; }

    for (int64_t c0 = 0; c0 < keys; c0 += CHUNK) {
        const int64_t cc = keys - c0 < CHUNK ? keys - c0 : CHUNK;
        // Scores: Q (bf16) times the chunk's panels of Kᵀ.
        for (int64_t j0 = c0; j0 < c0 + cc; j0 += PANEL) {
            const uint32_t *bp = (const uint32_t *)(packedK + (j0 / PANEL) * pairsD * 2 * PANEL);
            const int nvalid = (int)(c0 + cc - j0 < PANEL ? c0 + cc - j0 : PANEL);
            for (int64_t i = 0; i < rows; i += KILN_MR) {
                const int mr = (int)(rows - i < KILN_MR ? rows - i : KILN_MR);
                micro_kernels[mr](pairsD, (const uint32_t *)(qws + i * KC_MAX), bp, scores + i * CHUNK + (j0 - c0),
                                  CHUNK, nvalid, 1, 0.0f);
            }
        }
        // Each row: the new maximum, the old sum and output rescaled to it, the chunk's
        // probabilities (unnormalised) in place of its scores.
        for (int64_t r = 0; r < rows; r++)
            kiln_softmax_chunk_row(scores + r * CHUNK, cc, scale, maximum + r, sum + r, acc + r * dp, dp);
        // The probabilities rounded to bf16 as the GEMM rounds A, times the chunk's rows of V.
        pack_a(rows, cc, scores, CHUNK, pws);
        for (int64_t jv = 0; jv < d; jv += PANEL) {
            const uint32_t *bp = (const uint32_t *)(packedV + (jv / PANEL) * pairsK * 2 * PANEL) + (c0 / 2) * PANEL;
            const int nvalid = (int)(d - jv < PANEL ? d - jv : PANEL);
            for (int64_t i = 0; i < rows; i += KILN_MR) {
                const int mr = (int)(rows - i < KILN_MR ? rows - i : KILN_MR);
                micro_kernels[mr]((cc + 1) / 2, (const uint32_t *)(pws + i * KC_MAX), bp, acc + i * dp + jv, dp, nvalid, 0, 1.0f);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) kiln_softmax_finish_row(acc + r * dp, sum[r], d, out + r * ldo);
}

int kiln_bf16_attention(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                        const uint16_t *packedK, const uint16_t *packedV, float *out, int64_t ldo,
                        float scale, void *workspace) {
    if (!kiln_cpu_has_avx512_bf16() || !kiln_attention_arguments_ok(d, keys, scale)) return 0;
    for (int64_t r0 = 0; r0 < rows; r0 += QB) {
        const int64_t n = rows - r0 < QB ? rows - r0 : QB;
        attention_block(n, keys, d, q + r0 * ldq, ldq, packedK, packedV, out + r0 * ldo, ldo, scale, (uint8_t *)workspace);
    }
    return 1;
}

#else

int kiln_bf16_attention(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                        const uint16_t *packedK, const uint16_t *packedV, float *out, int64_t ldo,
                        float scale, void *workspace) {
    (void)rows; (void)keys; (void)d; (void)q; (void)ldq; (void)packedK; (void)packedV; (void)out; (void)ldo;
    (void)scale; (void)workspace;
    return 0;
}

#endif
