// What the CPU and the OS let the kernels use: one cpuid + xgetbv probe, made once, for every
// AVX-512 kernel (the float32 attention, the bf16 GEMM and attention, the peak loop).
#include "ckiln_kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

// Bit 0: AVX-512F; bit 1: also BW, VL and AVX512_BF16. -1 until probed (any thread may probe;
// they all store the same value).
static int probed = -1;

static int probe(void) {
    int known = __atomic_load_n(&probed, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    unsigned a, b, c, d;
    int result = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)) /* OSXSAVE */) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        // XMM, YMM, opmask, ZMM0-15 upper halves and ZMM16-31 state enabled by the OS.
        if ((lo & 0xe6u) == 0xe6u && __get_cpuid_max(0, 0) >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            const int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
            __cpuid_count(7, 1, a, b, c, d);
            const int bf16 = (a >> 5) & 1;
            result = f | ((f && bw && vl && bf16) << 1);
        }
    }
    __atomic_store_n(&probed, result, __ATOMIC_RELAXED);
    return result;
}

int kiln_cpu_has_avx512f(void) { return probe() & 1; }
int kiln_cpu_has_avx512_bf16(void) { return (probe() >> 1) & 1; }

#else

int kiln_cpu_has_avx512f(void) { return 0; }
int kiln_cpu_has_avx512_bf16(void) { return 0; }

#endif
