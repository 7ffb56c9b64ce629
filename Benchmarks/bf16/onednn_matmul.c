// oneDNN (Debian's libdnnl 2.6) bf16 and f32 matmul at the shapes of KilnGEMMBenchmark, for the
// choice between oneDNN and Kiln's own bf16 kernel (issue 8). Build and run: Benchmarks/bf16/run.sh.
//
// C[m x n] = A[m x k] · W^T with W a torch Linear weight [n, k] in float32, reordered once (not
// timed) into the bf16 layout oneDNN picks (format_tag any). Lines per shape:
//   bf16+cvt  A reordered f32 -> bf16 (oneDNN reorder), then the bf16 matmul, f32 output: both timed
//             (what Kiln's kernel does: it rounds A inside the call)
//   bf16      the matmul alone on an A already in bf16
//   f32       the f32 matmul (weights reordered to format any too)
// GFLOP/s = 2 m n k / median time of 7 samples (each sample repeats the call until >= 2 GFLOP).
// Threads: OMP_NUM_THREADS (oneDNN is built with OpenMP here; it splits the work itself).
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { \
    fprintf(stderr, "%s:%d: %s failed (%d)\n", __FILE__, __LINE__, #x, (int)s_); exit(1); } } while (0)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static dnnl_memory_t memory(const dnnl_memory_desc_t *md, void *data) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, data ? data : DNNL_MEMORY_ALLOCATE));
    return m;
}

static void reorder(dnnl_memory_t from, dnnl_memory_t to, dnnl_primitive_t *cached) {
    if (!*cached) {
        const dnnl_memory_desc_t *f, *t;
        CHECK(dnnl_memory_get_memory_desc(from, &f));
        CHECK(dnnl_memory_get_memory_desc(to, &t));
        dnnl_primitive_desc_t pd;
        CHECK(dnnl_reorder_primitive_desc_create(&pd, f, engine, t, engine, NULL));
        CHECK(dnnl_primitive_create(cached, pd));
        dnnl_primitive_desc_destroy(pd);
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    CHECK(dnnl_primitive_execute(*cached, stream, 2, args));
}

// A matmul primitive for src type `st` (weights of the same type, format any), f32 output.
static dnnl_primitive_t matmul(int64_t m, int64_t n, int64_t k, dnnl_data_type_t st, dnnl_memory_desc_t *weightsMD,
                               const char **impl) {
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n};
    CHECK(dnnl_memory_desc_init_by_tag(&src, 2, sd, st, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&wei, 2, wd, st, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    *weightsMD = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl));
    dnnl_primitive_t p;
    CHECK(dnnl_primitive_create(&p, pd));
    dnnl_primitive_desc_destroy(pd);
    return p;
}

int main(int argc, char **argv) {
    // m, n, k, name: the shapes of Sources/KilnGEMMBenchmark/main.swift.
    struct { int64_t m, n, k; const char *name; } shapes[] = {
        {4096, 640, 640, "attn proj 640 (64x64 tokens)"},
        {4096, 5120, 640, "GEGLU proj 640"},
        {1024, 1280, 1280, "attn proj 1280 (32x32 tokens)"},
        {77, 1280, 2048, "cross-attn K/V (text, k=2048)"},
        {4096, 640, 5760, "conv3x3 640 @64x64 (im2col k=9C)"},
        {16384, 320, 320, "conv3x3 320 @128x128, one tap (k=C)"},
    };
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > 64) reps = 7;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const char *threads = getenv("OMP_NUM_THREADS");
    printf("oneDNN %d.%d.%d, OMP_NUM_THREADS=%s, median of %d samples\n", dnnl_version()->major, dnnl_version()->minor,
           dnnl_version()->patch, threads ? threads : "(unset)", reps);
    printf("%-38s %6s %6s %6s  %9s %9s %9s  %s\n", "shape", "m", "n", "k", "bf16+cvt", "bf16", "f32", "bf16 kernel");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
        float *a = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k);
        unsigned long long x = 88172645463325252ull + s;
        for (int64_t i = 0; i < m * k; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; a[i] = (float)((x >> 11) % 2000000) / 1e6f - 1; }
        for (int64_t i = 0; i < n * k; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; w[i] = (float)((x >> 11) % 2000000) / 1e6f - 1; }

        dnnl_memory_desc_t aF32, aBF16, wUser, cMD, wBF16MD, wF32MD;
        dnnl_dims_t ad = {m, k}, wd = {k, n}, cd = {m, n};
        CHECK(dnnl_memory_desc_init_by_tag(&aF32, 2, ad, dnnl_f32, dnnl_ab));
        CHECK(dnnl_memory_desc_init_by_tag(&aBF16, 2, ad, dnnl_bf16, dnnl_ab));
        CHECK(dnnl_memory_desc_init_by_tag(&wUser, 2, wd, dnnl_f32, dnnl_ba));   // [n, k] storage = (k x n)^T
        CHECK(dnnl_memory_desc_init_by_tag(&cMD, 2, cd, dnnl_f32, dnnl_ab));
        const char *implBF16, *implF32;
        dnnl_primitive_t mmBF16 = matmul(m, n, k, dnnl_bf16, &wBF16MD, &implBF16);
        dnnl_primitive_t mmF32 = matmul(m, n, k, dnnl_f32, &wF32MD, &implF32);

        dnnl_memory_t aMem = memory(&aF32, a), aB = memory(&aBF16, NULL), wMem = memory(&wUser, w);
        dnnl_memory_t wB = memory(&wBF16MD, NULL), wF = memory(&wF32MD, NULL), cMem = memory(&cMD, NULL);
        dnnl_primitive_t toB = NULL, toF = NULL, aToB = NULL;
        reorder(wMem, wB, &toB);   // weights: once, not timed
        reorder(wMem, wF, &toF);
        CHECK(dnnl_stream_wait(stream));

        double flop = 2.0 * m * n * k, gf[3];
        int inner = flop >= 2e9 ? 1 : (int)(2e9 / flop) + 1;
        for (int line = 0; line < 3; line++) {
            dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, line == 2 ? aMem : aB}, {DNNL_ARG_WEIGHTS, line == 2 ? wF : wB},
                                       {DNNL_ARG_DST, cMem}};
            double t[64];
            for (int r = -1; r < reps; r++) {   // r = -1: warm-up
                double t0 = now();
                for (int i = 0; i < inner; i++) {
                    if (line == 0) reorder(aMem, aB, &aToB);
                    CHECK(dnnl_primitive_execute(line == 2 ? mmF32 : mmBF16, stream, 3, args));
                }
                CHECK(dnnl_stream_wait(stream));
                if (r >= 0) t[r] = (now() - t0) / inner;
            }
            qsort(t, reps, sizeof(double), cmp);
            gf[line] = flop / t[reps / 2] / 1e9;
        }
        printf("%-38s %6lld %6lld %6lld  %9.1f %9.1f %9.1f  %s (f32: %s)\n", shapes[s].name, (long long)m, (long long)n,
               (long long)k, gf[0], gf[1], gf[2], implBF16, implF32);
        fflush(stdout);
        dnnl_primitive_destroy(mmBF16); dnnl_primitive_destroy(mmF32);
        dnnl_primitive_destroy(toB); dnnl_primitive_destroy(toF); dnnl_primitive_destroy(aToB);
        dnnl_memory_destroy(aMem); dnnl_memory_destroy(aB); dnnl_memory_destroy(wMem);
        dnnl_memory_destroy(wB); dnnl_memory_destroy(wF); dnnl_memory_destroy(cMem);
        free(a); free(w);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
