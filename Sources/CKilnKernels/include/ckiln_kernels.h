// CKilnKernels: hand-written CPU kernels in C, for what OpenBLAS cannot do (bfloat16 GEMM).
//
// The bf16 GEMM computes C = A·B + beta·C (row-major) with A in float32, B packed once into
// bfloat16, products of bf16 pairs and float32 accumulation, as AVX512-BF16's vdpbf16ps does.
// Every function is single-threaded; callers parallelise over fixed tiles of C.
#ifndef CKILN_KERNELS_H
#define CKILN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- bfloat16 conversions (torch's rules) ----------------------------------------------------

/// float32 -> bfloat16 bits, round to nearest even on the bit pattern, as torch's
/// c10::BFloat16 does: subnormals are rounded (not flushed), finite values past the largest
/// bf16 become infinity, every NaN becomes 0x7FC0.
uint16_t kiln_bf16_from_f32(float x);
/// IEEE binary16 bits -> bfloat16 bits (through the exact float32 value, then as above).
uint16_t kiln_bf16_from_f16(uint16_t h);
/// bfloat16 bits -> float32 (exact).
float kiln_f32_from_bf16(uint16_t h);
/// IEEE binary16 bits -> float32 (exact).
float kiln_f32_from_f16(uint16_t h);

// ---- Packed B ---------------------------------------------------------------------------------

/// Columns per panel of a packed B (the micro-kernel's width: 4 zmm registers of 16 floats).
#define KILN_BF16_PANEL 64

/// Size of a packed k x n matrix, in uint16_t elements (not bytes).
///
/// The panels are independent: packing columns [64j, 64j + w) of op(B) on their own (b offset to
/// them) and storing them at packed + j * ceil(k/2) * 128 gives the same bytes, so a caller can
/// pack in parallel over column blocks.
///
/// Layout: ceil(n / 64) panels of 64 columns, one after the other. Panel j holds, for each
/// pair p = 0 ..< ceil(k / 2), 64 column entries of two bf16 each (128 uint16_t):
///   packed[((j * ceil(k/2) + p) * 64 + c) * 2 + 0] = bf16(op(B)[2p    ][64j + c])
///   packed[((j * ceil(k/2) + p) * 64 + c) * 2 + 1] = bf16(op(B)[2p + 1][64j + c])
/// i.e. each 32-bit word is one column's pair of consecutive k (the lower k in the low half),
/// as vdpbf16ps wants. Columns past n and the row past an odd k are zero.
size_t kiln_bf16_packed_size(int64_t k, int64_t n);

/// Packs op(B) (k x n) from float32, rounding to bf16 as kiln_bf16_from_f32.
/// transB = 0: b is k x n, element (r, c) at b[r * ldb + c].
/// transB = 1: b is n x k (torch Linear weight [out, in]), op(B)(r, c) at b[c * ldb + r].
void kiln_bf16_pack_b(const float *b, int64_t k, int64_t n, int64_t ldb, int transB, uint16_t *packed);
/// The same from IEEE binary16 (half) weights, rounded once to bf16 (kiln_bf16_from_f16).
void kiln_bf16_pack_b_f16(const uint16_t *b, int64_t k, int64_t n, int64_t ldb, int transB, uint16_t *packed);
/// The same from bfloat16 weights (copied bit for bit).
void kiln_bf16_pack_b_bf16(const uint16_t *b, int64_t k, int64_t n, int64_t ldb, int transB, uint16_t *packed);

// ---- GEMM ---------------------------------------------------------------------------------------

/// C[m x n] = A[m x k] · B[k x n] + beta · C, row-major. A is float32 and is rounded to bf16
/// inside the kernel, as vcvtne2ps2bf16 does: kiln_bf16_from_f32 of the value with float32
/// denormals taken as zero (they would be zeros to vdpbf16ps anyway, but for 0x007F8000 and up,
/// which torch rounds to the smallest normal bf16), NaN staying NaN. packedB comes from a kiln_bf16_pack_b* call with the
/// same k and an n at least this call's n (a column block of a larger packed B starts at
/// packedB + (column / 64) * ceil(k/2) * 128 when column is a multiple of 64). beta == 0 does
/// not read C (NaNs there are overwritten).
///
/// Result, per element: acc = (beta == 0 ? 0 : beta * C[i][j]); then for p = 0, 1, ...,
/// ceil(k/2) - 1 in that order, acc = fma(a[2p+1] * b[2p+1] + acc) rounded to float32, then
/// acc = fma(a[2p] * b[2p] + acc) rounded to float32 (a bf16 x bf16 product is exact in float32;
/// vdpbf16ps's order, high half first), with denormal inputs taken as zero and denormal results
/// flushed to zero. The order over k is fixed: the bits of C[i][j] depend only on row i of A,
/// column j of B, k and beta, never on m, n, how the caller tiles C, the thread count or the
/// kernel's own blocking. The AVX-512 kernel and the portable one give the same bits (tested).
///
/// Blocking (not part of the result): C in blocks of 60 rows x up to 1024 columns kept in L2 over
/// all of k, k in blocks of up to 640, A's block (60 x 640 bf16, the workspace) rounded per block,
/// 6 x 64 register tiles (24 zmm accumulators), B's panels streamed.
///
/// Uses KILN_BF16_WORKSPACE_BYTES (75 KB) of stack; kiln_bf16_gemm_ws takes the buffer instead.
/// Dispatches to the AVX512-BF16 kernel when kiln_cpu_has_avx512_bf16(), else the portable one.
void kiln_bf16_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                    const uint16_t *packedB, float *c, int64_t ldc, float beta);

/// Bytes of the A-panel buffer kiln_bf16_gemm_ws needs (64-byte aligned is best).
#define KILN_BF16_WORKSPACE_BYTES (60 * 640 * 2)
size_t kiln_bf16_gemm_workspace_size(void);
/// kiln_bf16_gemm with a caller-provided buffer of kiln_bf16_gemm_workspace_size() bytes.
void kiln_bf16_gemm_ws(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const uint16_t *packedB, float *c, int64_t ldc, float beta, void *workspace);

/// The portable kernel (scalar C, any CPU): the same result bits as the AVX-512 one.
void kiln_bf16_gemm_portable(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                             const uint16_t *packedB, float *c, int64_t ldc, float beta);
/// The AVX512-BF16 kernel; only call it when kiln_cpu_has_avx512_bf16() (it traps otherwise,
/// and falls back to the portable kernel on non-x86 builds).
void kiln_bf16_gemm_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const uint16_t *packedB, float *c, int64_t ldc, float beta, void *workspace);

// ---- Attention ------------------------------------------------------------------------------

/// The largest head width kiln_bf16_attention takes.
#define KILN_ATTENTION_MAX_D 256

/// Bytes of workspace kiln_bf16_attention needs for head width d (0 when d is out of range).
size_t kiln_bf16_attention_workspace_size(int64_t d);

/// softmax(scale · Q Kᵀ) V for one head: out[i][0 ..< d] for the `rows` queries of q (float32,
/// row stride ldq), with the same bf16 products and float32 accumulation as kiln_bf16_gemm,
/// without the rows x keys score matrix: keys a chunk at a time with a running maximum and sum
/// per query (online softmax), the probabilities rounded to bf16 unnormalised and each output row
/// divided by its sum at the end. packedK is Kᵀ (k = d, n = keys) and packedV is V (k = keys,
/// n = d), both as kiln_bf16_pack_b packs them; out is float32, row stride ldo; scale > 0.
/// Single-threaded; the same inputs give the same bits whatever the caller's tiling of queries.
/// Returns 1, or 0 with nothing written when the CPU lacks AVX512-BF16 or d, keys or scale is
/// out of range (the caller then takes another path).
int kiln_bf16_attention(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                        const uint16_t *packedK, const uint16_t *packedV, float *out, int64_t ldo,
                        float scale, void *workspace);

/// The same in float32 (fused multiply-adds, nothing rounded), on AVX-512F CPUs: packedK is Kᵀ
/// (k = d, n = keys) and packedV is V (k = keys, n = d), both packed by kiln_f32_pack_panels;
/// workspace: kiln_f32_attention_workspace_size(d) bytes. Returns 0 with nothing written when
/// the CPU lacks AVX-512F or d, keys or scale is out of range.
int kiln_f32_attention(int64_t rows, int64_t keys, int64_t d, const float *q, int64_t ldq,
                       const float *packedK, const float *packedV, float *out, int64_t ldo,
                       float scale, void *workspace);
/// Bytes of workspace kiln_f32_attention needs for head width d (0 when d is out of range).
size_t kiln_f32_attention_workspace_size(int64_t d);
/// Floats of a k x n matrix in panels of 64 columns (kiln_f32_pack_panels).
size_t kiln_f32_panels_size(int64_t k, int64_t n);
/// op(B) (k x n) in panels of 64 columns, one after the other, each k rows of 64 floats:
/// packed[(j * k + r) * 64 + c] = op(B)[r][64j + c], zero past n. transB as kiln_bf16_pack_b.
void kiln_f32_pack_panels(const float *b, int64_t k, int64_t n, int64_t ldb, int transB, float *packed);
/// 1 when the CPU and OS support AVX-512F (cpuid + xgetbv, probed once with the next), else 0.
int kiln_cpu_has_avx512f(void);

/// 1 when the CPU and OS support AVX-512 F/BW/VL and AVX512_BF16 (cpuid + xgetbv), else 0.
int kiln_cpu_has_avx512_bf16(void);

/// The arithmetic peak on one thread (for benchmarks): `iterations` rounds of 16 independent
/// vdpbf16ps (bf16 != 0) or vfmadd231ps (bf16 == 0) on registers, the result into *sink. Returns
/// the floating-point operations done (64 per vdpbf16ps, 32 per vfmadd), or 0 when the CPU lacks
/// AVX512-BF16 (nothing run); the caller times the call.
double kiln_peak_loop(int bf16, int64_t iterations, float *sink);

#ifdef __cplusplus
}
#endif

#endif
