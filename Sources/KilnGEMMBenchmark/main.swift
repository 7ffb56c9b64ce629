// OpenBLAS sgemm (float32) against Kiln's bf16 kernel (CKilnKernels) at SDXL's GEMM shapes, on 1
// thread and on 2 (C cut into two fixed halves, of rows or, for few rows, of columns; one call each). oneDNN's figures at the same
// shapes come from Benchmarks/bf16/run.sh. Run on an idle machine, release build:
//   swift build -c release --product KilnGEMMBenchmark && .build/release/KilnGEMMBenchmark [samples]
//
// C[m x n] = A[m x k] · Wᵀ with W a torch Linear weight [n, k] (float32), as Linear runs it. The bf16
// kernel packs W once (not timed, reported) and rounds A to bf16 inside each call (timed).
// GFLOP/s = 2 m n k / median time of the samples (each sample repeats the call until >= 2 GFLOP).
// "% peak" is the 2-thread figure against the machine's own peak, measured first: chains of
// vdpbf16ps (bf16) or vfmadd (float32) on registers (kiln_peak_loop). A second table times whole
// layers of SDXL's UNet at 1024 px as Numerics runs them on the runtime's workers (attention at
// 4096 and 1024 tokens, Winograd 3x3 convolutions), in GFLOP/s of the work PyTorch counts for
// them (direct convolution), so a figure above the peak means fewer multiplications than that.
import CKilnKernels
import CBLAS
import Dispatch
import Foundation
import Numerics

// KILN_BLAS_CORE (and KILN_THREADS) apply here as in kiln.
RuntimeSettings.install(RuntimeSettings(environment: ProcessInfo.processInfo.environment))

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

/// C cut into `threads` fixed blocks, one call each: blocks of rows (multiples of 16 but the last),
/// or of columns (multiples of 64) when there are fewer than 256 rows a thread.
func split(_ m: Int, _ n: Int, threads: Int, _ body: (_ row: Int, _ rows: Int, _ column: Int, _ columns: Int) -> Void) {
    if threads <= 1 { body(0, m, 0, n); return }
    if m >= 256 * threads {
        let block = ((m + threads - 1) / threads + 15) / 16 * 16
        DispatchQueue.concurrentPerform(iterations: (m + block - 1) / block) { p in body(p * block, min(block, m - p * block), 0, n) }
    } else {
        let block = ((n + threads - 1) / threads + 63) / 64 * 64
        DispatchQueue.concurrentPerform(iterations: (n + block - 1) / block) { p in body(0, m, p * block, min(block, n - p * block)) }
    }
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
func padLeft(_ s: String, _ width: Int) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }

/// The 1- and 2-thread peak GFLOP/s of kiln_peak_loop (the best of 5: a peak is what the machine
/// can do, and a slower sample only met something else running), or nil without AVX512-BF16.
func peak(bf16: Bool) -> [Double]? {
    var result: [Double] = []
    for threads in [1, 2] {
        var rates: [Double] = []
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            var done = [Double](repeating: 0, count: threads)
            done.withUnsafeMutableBufferPointer { done in
                let base = done.baseAddress!
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    var sink: Float = 0
                    base[t] = kiln_peak_loop(bf16 ? 1 : 0, 4_000_000, &sink)
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let total = done.reduce(0, +)
            guard total > 0 else { return nil }
            rates.append(total / seconds / 1e9)
        }
        result.append(rates.max() ?? 0)
    }
    return result
}

let blas = BLASLibrary.shared
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
print("OpenBLAS core \(blas.coreName); AVX512-BF16 \(kiln_cpu_has_avx512_bf16() != 0 ? "yes" : "no (portable kernel)"); "
      + "load average \(load); median of \(samples) samples; GFLOP/s")
let bf16Peak = peak(bf16: true), f32Peak = peak(bf16: false)
if let bf16Peak, let f32Peak {
    print(String(format: "peak (registers only): bf16 vdpbf16ps %.1f 1T, %.1f 2T; f32 vfmadd %.1f 1T, %.1f 2T",
                 bf16Peak[0], bf16Peak[1], f32Peak[0], f32Peak[1]))
} else {
    print("peak: not measured (no AVX512-BF16)")
}
/// `rate` as a percentage of the 2-thread peak, or "-" without one.
func share(_ rate: Double, of peak: [Double]?) -> String {
    guard let peak, peak[1] > 0 else { return "-" }
    return String(format: "%.0f%%", 100 * rate / peak[1])
}
print(pad("shape", 38) + ["m", "n", "k"].map { padLeft($0, 7) }.joined() + "  "
      + ["f32 1T", "f32 2T", "f32 %pk", "bf16 1T", "bf16 2T", "bf16 %pk", "pack ms", "bf16 err"].map { padLeft($0, 9) }.joined())
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
                                split(m, n, threads: threads) { row, rows, column, columns in
                                    blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(k), 1,
                                               ap + row * k, Int32(k), wp + column * k, Int32(k), 0, c32p + row * n + column, Int32(n))
                                }
                            } / 1e9)
                        }
                        for threads in [1, 2] {
                            gflops.append(flop / median(flop: flop) {
                                split(m, n, threads: threads) { row, rows, column, columns in
                                    // Panel j of the packed weight starts at j * ceil(k/2) * 128.
                                    kiln_bf16_gemm(Int64(rows), Int64(columns), Int64(k), ap + row * k, Int64(k),
                                                   pp + column / 64 * ((k + 1) / 2) * 128, c16p + row * n + column, Int64(n), 0)
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
    print(pad(shape.name, 38) + [m, n, k].map { padLeft(String($0), 7) }.joined() + "  "
          + [gflops[0], gflops[1]].map { padLeft(String(format: "%.1f", $0), 9) }.joined()
          + padLeft(share(gflops[1], of: f32Peak), 9)
          + [gflops[2], gflops[3]].map { padLeft(String(format: "%.1f", $0), 9) }.joined()
          + padLeft(share(gflops[3], of: bf16Peak), 9)
          + padLeft(String(format: "%.1f", packMS), 9)
          + padLeft(String(format: "%.2e", Double(worst / scale)), 9))
}

LayerTable.run(samples: samples, f32Peak: f32Peak, bf16Peak: bf16Peak)
