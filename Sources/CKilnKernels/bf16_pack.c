// bfloat16 conversions and the packing of B (see ckiln_kernels.h for the layout).
#include "ckiln_kernels.h"

#include <string.h>

uint16_t kiln_bf16_from_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;   // NaN, as torch
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float kiln_f32_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

float kiln_f32_from_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);              // inf, NaN (payload kept)
    } else if (exp != 0) {
        u = sign | ((exp + 112u) << 23) | (man << 13);     // normal: rebias 15 -> 127
    } else if (man == 0) {
        u = sign;                                          // +-0
    } else {                                               // subnormal half: normal in f32
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400u));
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t kiln_bf16_from_f16(uint16_t h) { return kiln_bf16_from_f32(kiln_f32_from_f16(h)); }

size_t kiln_bf16_packed_size(int64_t k, int64_t n) {
    if (k <= 0 || n <= 0) return 0;
    int64_t panels = (n + KILN_BF16_PANEL - 1) / KILN_BF16_PANEL, pairs = (k + 1) / 2;
    return (size_t)(panels * pairs * KILN_BF16_PANEL * 2);
}

// One packing loop for the three source types; LOAD(i) gives the bf16 bits of source element i.
// The destination is written one 32-bit pair at a time: along n when !transB (two source rows read
// side by side), and for transB (rows of a torch weight, k contiguous) in blocks of 32 pairs, so
// that a block of the panel (8 KB) stays in L1 while the 64 source rows are read along k.
#define PACK_BODY(LOAD)                                                                          \
    const int64_t P = KILN_BF16_PANEL, pairs = (k + 1) / 2;                                      \
    if (k <= 0 || n <= 0) return;                                                                \
    for (int64_t j0 = 0; j0 < n; j0 += P) {                                                      \
        uint16_t *panel = packed + j0 * pairs * 2;                                               \
        int64_t cols = n - j0 < P ? n - j0 : P;                                                  \
        if (cols < P) memset(panel, 0, (size_t)(pairs * P * 2) * sizeof(uint16_t));              \
        if (transB) {                                                                            \
            for (int64_t p0 = 0; p0 < pairs; p0 += 32) {                                         \
                int64_t p1 = pairs - p0 < 32 ? pairs : p0 + 32;                                  \
                for (int64_t c = 0; c < cols; c++) {                                             \
                    int64_t row = (j0 + c) * ldb;                                                \
                    for (int64_t p = p0; p < p1; p++) {                                          \
                        uint32_t lo = LOAD(row + 2 * p);                                         \
                        uint32_t hi = 2 * p + 1 < k ? (uint32_t)LOAD(row + 2 * p + 1) : 0u;      \
                        uint32_t w = lo | (hi << 16);                                            \
                        memcpy(panel + (p * P + c) * 2, &w, 4);                                  \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
        } else {                                                                                 \
            for (int64_t p = 0; p < pairs; p++) {                                                \
                for (int64_t c = 0; c < cols; c++) {                                             \
                    uint32_t lo = LOAD(2 * p * ldb + j0 + c);                                    \
                    uint32_t hi = 2 * p + 1 < k ? (uint32_t)LOAD((2 * p + 1) * ldb + j0 + c) : 0u; \
                    uint32_t w = lo | (hi << 16);                                                \
                    memcpy(panel + (p * P + c) * 2, &w, 4);                                      \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }

void kiln_bf16_pack_b(const float *b, int64_t k, int64_t n, int64_t ldb, int transB, uint16_t *packed) {
#define LOAD_F32(i) kiln_bf16_from_f32(b[i])
    PACK_BODY(LOAD_F32)
#undef LOAD_F32
}

void kiln_bf16_pack_b_f16(const uint16_t *b, int64_t k, int64_t n, int64_t ldb, int transB, uint16_t *packed) {
#define LOAD_F16(i) kiln_bf16_from_f16(b[i])
    PACK_BODY(LOAD_F16)
#undef LOAD_F16
}

void kiln_bf16_pack_b_bf16(const uint16_t *b, int64_t k, int64_t n, int64_t ldb, int transB, uint16_t *packed) {
#define LOAD_BF16(i) (b[i])
    PACK_BODY(LOAD_BF16)
#undef LOAD_BF16
}
