// OpenBLAS sgemm (float32) against Kiln's bf16 kernel (CKilnKernels) at SDXL's GEMM shapes, on 1
// thread and on 2 (C cut into two fixed halves of rows, one call each). oneDNN's figures at the same
// shapes come from Benchmarks/bf16/run.sh. Run on an idle machine, release build:
//   swift build -c release --product KilnGEMMBenchmark && .build/release/KilnGEMMBenchmark [samples]
//
// C[m x n] = A[m x k] · Wᵀ with W a torch Linear weight [n, k] (float32), as Linear runs it. The bf16
// kernel packs W once (not timed, reported) and rounds A to bf16 inside each call (timed).
// GFLOP/s = 2 m n k / median time of the samples (each sample repeats the call until >= 2 GFLOP).
import CKilnKernels
import CBLAS
import Dispatch
import Foundation
import Numerics

struct Shape {
    let m: Int, n: Int, k: Int
    let name: String
}

// SDXL's UNet at 1024 px (latents 128x128: 4096 tokens at 640 channels, 1024 at 1280; text 77 x 2048)
// and its 3x3 convolutions as GEMMs (m = pixels, k = 9·C as im2col or C per tap as Conv2D's shifted
// GEMMs, n = C). The same list is in Benchmarks/bf16/onednn_matmul.c.
let shapes = [
    Shape(m: 4096, n: 640, k: 640, name: "attn proj 640 (64x64 tokens)"),
    Shape(m: 4096, n: 5120, k: 640, name: "GEGLU proj 640"),
    Shape(m: 1024, n: 1280, k: 1280, name: "attn proj 1280 (32x32 tokens)"),
    Shape(m: 77, n: 1280, k: 2048, name: "cross-attn K/V (text, k=2048)"),
    Shape(m: 4096, n: 640, k: 5760, name: "conv3x3 640 @64x64 (im2col k=9C)"),
    Shape(m: 16384, n: 320, k: 320, name: "conv3x3 320 @128x128, one tap (k=C)"),
]

let samples = CommandLine.arguments.dropFirst().first.flatMap { Int($0) }.map { max(1, min($0, 100)) } ?? 7

func values(_ count: Int, seed: UInt64) -> [Float] {
    var x = seed | 1
    return (0..<count).map { _ in
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        return Float((x >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

/// Median seconds per call of `body` over `samples` samples, after one warm-up sample.
func median(flop: Double, _ body: () -> Void) -> Double {
    let inner = flop >= 2e9 ? 1 : Int(2e9 / flop) + 1
    var times: [Double] = []
    for s in -1..<samples {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<inner { body() }
        let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(inner)
        if s >= 0 { times.append(t) }
    }
    times.sort()
    return times[times.count / 2]
}

/// Rows of C in `threads` fixed blocks (multiples of 16 rows but the last), one call each.
func split(_ m: Int, threads: Int, _ body: (_ row: Int, _ rows: Int) -> Void) {
    let block = ((m + threads - 1) / threads + 15) / 16 * 16
    let parts = (m + block - 1) / block
    if parts <= 1 { body(0, m); return }
    DispatchQueue.concurrentPerform(iterations: parts) { p in body(p * block, min(block, m - p * block)) }
}

let blas = BLASLibrary.shared
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
print("OpenBLAS core \(blas.coreName); AVX512-BF16 \(kiln_cpu_has_avx512_bf16() != 0 ? "yes" : "no (portable kernel)"); "
      + "load average \(load); median of \(samples) samples; GFLOP/s")
print(String(format: "%-38@ %6@ %6@ %6@  %8@ %8@  %8@ %8@  %7@  %9@", "shape" as NSString, "m" as NSString, "n" as NSString,
             "k" as NSString, "f32 1T" as NSString, "f32 2T" as NSString, "bf16 1T" as NSString, "bf16 2T" as NSString,
             "pack ms" as NSString, "bf16 err" as NSString))
for (s, shape) in shapes.enumerated() {
    let (m, n, k) = (shape.m, shape.n, shape.k)
    let a = values(m * k, seed: UInt64(2 * s + 1)), w = values(n * k, seed: UInt64(2 * s + 2))
    var c32 = [Float](repeating: 0, count: m * n), c16 = c32
    var packed = [UInt16](repeating: 0, count: kiln_bf16_packed_size(Int64(k), Int64(n)))
    let packStart = DispatchTime.now().uptimeNanoseconds
    kiln_bf16_pack_b(w, Int64(k), Int64(n), Int64(k), 1, &packed)
    let packMS = Double(DispatchTime.now().uptimeNanoseconds - packStart) / 1e6
    let flop = 2 * Double(m) * Double(n) * Double(k)
    var gflops: [Double] = []
    a.withUnsafeBufferPointer { a in
        w.withUnsafeBufferPointer { w in
            packed.withUnsafeBufferPointer { packed in
                c32.withUnsafeMutableBufferPointer { c32 in
                    c16.withUnsafeMutableBufferPointer { c16 in
                        let (ap, wp, pp, c32p, c16p) = (a.baseAddress!, w.baseAddress!, packed.baseAddress!,
                                                        c32.baseAddress!, c16.baseAddress!)
                        for threads in [1, 2] {
                            gflops.append(flop / median(flop: flop) {
                                split(m, threads: threads) { row, rows in
                                    blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(k), 1,
                                               ap + row * k, Int32(k), wp, Int32(k), 0, c32p + row * n, Int32(n))
                                }
                            } / 1e9)
                        }
                        for threads in [1, 2] {
                            gflops.append(flop / median(flop: flop) {
                                split(m, threads: threads) { row, rows in
                                    kiln_bf16_gemm(Int64(rows), Int64(n), Int64(k), ap + row * k, Int64(k), pp,
                                                   c16p + row * n, Int64(n), 0)
                                }
                            } / 1e9)
                        }
                    }
                }
            }
        }
    }
    // The bf16 result against float32's: max |difference| / max |C| (bf16 rounding of A and W).
    var worst: Float = 0, scale: Float = 0
    for i in 0..<(m * n) { worst = max(worst, abs(c16[i] - c32[i])); scale = max(scale, abs(c32[i])) }
    print(String(format: "%-38@ %6d %6d %6d  %8.1f %8.1f  %8.1f %8.1f  %7.1f  %9.2e", shape.name as NSString, m, n, k,
                 gflops[0], gflops[1], gflops[2], gflops[3], packMS, Double(worst / scale)))
}
