// Attention in float32 with no score matrix, as bf16_attention.c does in bf16: keys a chunk at a
// time with an online softmax (online_softmax.h), both products on a float32 micro-kernel of 6
// rows x 64 columns over panels packed once per head (kiln_f32_pack_panels). Q and the
// probabilities are read where they are, unpacked.
#include "ckiln_kernels.h"
#include "online_softmax.h"

#include <string.h>

#define PANEL 64
#define MR 6

static int64_t padded(int64_t d) { return (d + PANEL - 1) / PANEL * PANEL; }

size_t kiln_f32_panels_size(int64_t k, int64_t n) {
    return k <= 0 || n <= 0 ? 0 : (size_t)((n + PANEL - 1) / PANEL) * (size_t)k * PANEL;
}

void kiln_f32_pack_panels(const float *b, int64_t k, int64_t n, int64_t ldb, int transB, float *packed) {
    for (int64_t j0 = 0; j0 < n; j0 += PANEL) {
        float *panel = packed + (j0 / PANEL) * k * PANEL;
        const int64_t w = n - j0 < PANEL ? n - j0 : PANEL;
        for (int64_t r = 0; r < k; r++) {
            float *row = panel + r * PANEL;
            if (transB) for (int64_t c = 0; c < w; c++) row[c] = b[(j0 + c) * ldb + r];
            else memcpy(row, b + r * ldb + j0, (size_t)w * sizeof(float));
            for (int64_t c = w; c < PANEL; c++) row[c] = 0;
        }
    }
}

size_t kiln_f32_attention_workspace_size(int64_t d) {
    if (d < 1 || d > KILN_ATTENTION_MAX_D) return 0;
    // The chunk's scores, the output rows, max and sum.
    return (size_t)(QB * CHUNK * 4 + QB * padded(d) * 4 + 2 * QB * 4);
}

#if defined(__x86_64__)

// C[0..mr) x [0..64) (nvalid columns stored) = (first ? 0 : C) + A (rows at stride lda) x panel,
// over k: each element summed over k in order, one fused multiply-add at a time.
__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
micro(const int mr, int64_t k, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int nvalid, int first) {
    __m512 acc[MR][PANEL / 16];
    __mmask16 mask[PANEL / 16];
    for (int v = 0; v < PANEL / 16; v++) mask[v] = kiln_lanes(nvalid - 16 * v > 0 ? nvalid - 16 * v : 0);
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < PANEL / 16; v++)
            acc[i][v] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v);
    for (int64_t p = 0; p < k; p++) {
        __m512 bv[PANEL / 16];
        for (int v = 0; v < PANEL / 16; v++) bv[v] = _mm512_loadu_ps(b + p * PANEL + 16 * v);
        for (int i = 0; i < mr; i++) {
            const __m512 ai = _mm512_set1_ps(a[i * lda + p]);
            for (int v = 0; v < PANEL / 16; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < PANEL / 16; v++) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], acc[i][v]);
}

#define MICRO_N(R)                                                                                          \
    __attribute__((target("avx512f"))) static void micro_##R(int64_t k, const float *a, int64_t lda,     \
                                                             const float *b, float *c, int64_t ldc,     \
                                                             int nvalid, int first) {                   \
        micro(R, k, a, lda, b, c, ldc, nvalid, first);                                                  \
    }
MICRO_N(1)
MICRO_N(2)
MICRO_N(3)
MICRO_N(4)
MICRO_N(5)
MICRO_N(6)
typedef void (*micro_fn)(int64_t, const float *, int64_t, const float *, float *, int64_t, int, int);
static const micro_fn micros[MR + 1] = {0, micro_1, micro_2, micro_3, micro_4, micro_5, micro_6};

__attribute__((target("avx512f"))) static void attention_block(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                                                               const float *packedK, const float *packedV, float *out, int64_t ldo,
                                                               float scale, float *ws) {
    const int64_t dp = padded(d);
    float *scores = ws, *acc = scores + QB * CHUNK, *maximum = acc + QB * dp, *sum = maximum + QB;
    memset(acc, 0, (size_t)(rows * dp) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) { maximum[r] = -INFINITY; sum[r] = 0; }
    for (int64_t c0 = 0; c0 < keys; c0 += CHUNK) {
        const int64_t cc = keys - c0 < CHUNK ? keys - c0 : CHUNK;
        for (int64_t j0 = c0; j0 < c0 + cc; j0 += PANEL) {
            const float *bp = packedK + (j0 / PANEL) * d * PANEL;
            const int nvalid = (int)(c0 + cc - j0 < PANEL ? c0 + cc - j0 : PANEL);
            for (int64_t i = 0; i < rows; i += MR) {
                const int mr = (int)(rows - i < MR ? rows - i : MR);
                micros[mr](d, q + i * ldq, ldq, bp, scores + i * CHUNK + (j0 - c0), CHUNK, nvalid, 1);
            }
        }
        for (int64_t r = 0; r < rows; r++)
            kiln_softmax_chunk_row(scores + r * CHUNK, cc, scale, maximum + r, sum + r, acc + r * dp, dp);
        for (int64_t jv = 0; jv < d; jv += PANEL) {
            const float *bp = packedV + (jv / PANEL) * keys * PANEL + c0 * PANEL;
            const int nvalid = (int)(d - jv < PANEL ? d - jv : PANEL);
            for (int64_t i = 0; i < rows; i += MR) {
                const int mr = (int)(rows - i < MR ? rows - i : MR);
                micros[mr](cc, scores + i * CHUNK, CHUNK, bp, acc + i * dp + jv, dp, nvalid, 0);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) kiln_softmax_finish_row(acc + r * dp, sum[r], d, out + r * ldo);
}

int kiln_f32_attention(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                       const float *packedK, const float *packedV, float *out, int64_t ldo,
                       float scale, void *workspace) {
    if (!kiln_cpu_has_avx512f() || !kiln_attention_arguments_ok(d, keys, scale)) return 0;
    for (int64_t r0 = 0; r0 < rows; r0 += QB) {
        const int64_t n = rows - r0 < QB ? rows - r0 : QB;
        attention_block(n, keys, d, q + r0 * ldq, ldq, packedK, packedV, out + r0 * ldo, ldo, scale, (float *)workspace);
    }
    return 1;
}

#else

int kiln_f32_attention(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                       const float *packedK, const float *packedV, float *out, int64_t ldo,
                       float scale, void *workspace) {
    (void)rows; (void)keys; (void)d; (void)q; (void)ldq; (void)packedK; (void)packedV; (void)out; (void)ldo;
    (void)scale; (void)workspace;
    return 0;
}

#endif
