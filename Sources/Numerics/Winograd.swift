/// 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2015), the transform NNPACK and oneDNN use.
///
/// Each 4x4 block of output pixels is computed from a 6x6 block of input as 36 element-wise
/// products of transformed input and transformed weights, summed over input channels: 36
/// multiplies per output block and channel pair where the direct convolution needs 144. The
/// products over channels are 36 GEMMs, `M[p] = V[p] · U[p]` for the 36 positions p, with
/// `V = Bᵀ d B` (input), `U = G g Gᵀ` (weights) and `Y = Aᵀ M A` (output).
///
/// Layout: channels-last in and out, as `Conv2D`. Weights are transformed per call into a
/// buffer for a block of output channels (`U` costs 4x the weights, too much to keep for SDXL's
/// UNet), tiles are processed in bands of fixed size, and each GEMM is cut into fixed tiles:
/// every number is computed in the same order whatever the thread count.
///
/// bf16 weights use F(2x2, 3x3) instead (`Winograd+F23.swift`): F(4x4, 3x3)'s transforms (input
/// coefficients up to 5, output up to 8) magnify bf16's rounding of the transformed operands
/// (5.5% of the output's scale on random data, against 0.5% for the direct convolution), while
/// F(2x2, 3x3)'s coefficients are 0, ±1 and ±1/2.
enum Winograd {
    typealias V16 = SIMD16<Float>

    /// The tile sizes: F(4x4, 3x3) (6x6 input tiles, 36 products) or F(2x2, 3x3) (4x4, 16).
    enum Variant: Sendable {
        case f4x4, f2x2

        var outputTile: Int { self == .f4x4 ? 4 : 2 }
        var inputTile: Int { outputTile + 2 }
        var positions: Int { inputTile * inputTile }

        /// F(4x4, 3x3) for float32 weights, F(2x2, 3x3) for bf16 ones.
        init(for weights: Weights) {
            if case .bf16 = weights { self = .f2x2 } else { self = .f4x4 }
        }
    }

    /// Packed convolution weights `[9, ci, co]`. With bf16 weights the transformed weights are
    /// rounded to bfloat16 too and the 36 products run as bf16 GEMMs (float32 accumulation).
    enum Weights {
        case fp32(UnsafePointer<Float>)
        case bf16(UnsafePointer<UInt16>)
    }

    /// Whether F(4x4, 3x3) serves a convolution: 3x3, stride 1, channel counts in whole vectors,
    /// and a few tiles (at 1280 channels F(4x4, 3x3) beats the direct GEMMs from 8 tiles on,
    /// with its weight transform included).
    static func applies(kernel: (Int, Int), stride: Int, inChannels: Int, outChannels: Int, tiles: Int) -> Bool {
        kernel == (3, 3) && stride == 1 && inChannels % 16 == 0 && outChannels % 16 == 0
            && tiles >= 4
    }

    /// Output channels per block: the transformed weights of a block stay under 32 MB.
    static func outputBlock(inChannels ci: Int, outChannels co: Int, positions: Int = 36) -> Int {
        let fit = (1 << 23) / (positions * ci) / 16 * 16
        return min(co, max(16, fit))
    }

    /// Tiles per band: input and product buffers of about 32 MB, at least 256 tiles for GEMMs
    /// worth their packing, a multiple of 16.
    static func band(tiles: Int, inChannels ci: Int, block cb: Int, positions: Int = 36) -> Int {
        let fit = max(256, (1 << 23) / (positions * (ci + cb)) / 16 * 16)
        return min(tiles, fit)
    }

    /// `out[n, oh, ow, co] = conv(x[n, h, w, ci])` with `packed` weights `[9, ci, co]`, zero
    /// padding `top`/`left` (and whatever bottom/right padding `oh`/`ow` imply). With `upsample`
    /// 2 the input is read as its nearest-neighbour 2x upsampling (torch `interpolate(scale_factor=2)`),
    /// without making that copy. `block` and `bandTiles` override the sizes chosen from the shape
    /// (tests use small ones).
    static func convolve(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, ci: Int,
                         weights: Weights, co: Int, bias: UnsafePointer<Float>?,
                         top: Int, left: Int, oh: Int, ow: Int, into out: UnsafeMutablePointer<Float>,
                         upsample: Int = 1, variant: Variant? = nil, block: Int? = nil, bandTiles: Int? = nil) {
        let variant = variant ?? Variant(for: weights)
        let tile = variant.outputTile, positions = variant.positions
        let tilesX = (ow + tile - 1) / tile, tilesY = (oh + tile - 1) / tile
        let perImage = tilesX * tilesY, total = n * perImage
        let cb = block ?? outputBlock(inChannels: ci, outChannels: co, positions: positions)
        let bandTiles = bandTiles ?? band(tiles: total, inChannels: ci, block: cb, positions: positions)
        // bf16 weights take F(2x2, 3x3), whose weight transform writes each position's U straight
        // into bf16 panels; float32 ones a float32 U.
        let packedStride = BF16Matrix.packedCount(k: ci, n: cb)
        let packedU: UnsafeMutablePointer<UInt16>?, u: UnsafeMutablePointer<Float>?
        if case .bf16 = weights {
            precondition(variant == .f2x2, "bf16 weights take F(2x2, 3x3)")
            packedU = UnsafeMutablePointer<UInt16>.allocate(capacity: positions * packedStride); u = nil
        } else {
            u = UnsafeMutablePointer<Float>.allocate(capacity: positions * ci * cb); packedU = nil
        }
        let v = UnsafeMutablePointer<Float>.allocate(capacity: positions * bandTiles * ci)
        let m = UnsafeMutablePointer<Float>.allocate(capacity: positions * bandTiles * cb)
        defer { u?.deallocate(); v.deallocate(); m.deallocate(); packedU?.deallocate() }
        var o0 = 0
        while o0 < co {
            let width = min(cb, co - o0)
            if let packedU {
                transformWeights23Packed(weights, ci: ci, co: co, from: o0, width: width, into: packedU, stride: packedStride)
            } else if let u {
                if variant == .f4x4 {
                    transformWeights(weights, ci: ci, co: co, from: o0, width: width, into: u)
                } else {
                    transformWeights23(weights, ci: ci, co: co, from: o0, width: width, into: u)
                }
            }
            var t0 = 0
            while t0 < total {
                let count = min(bandTiles, total - t0)
                if variant == .f4x4 {
                    transformInput(x, h: h, w: w, upsample: upsample, ci: ci, top: top, left: left, tilesX: tilesX, perImage: perImage,
                                   first: t0, count: count, into: v)
                } else {
                    transformInput23(x, h: h, w: w, upsample: upsample, ci: ci, top: top, left: left, tilesX: tilesX, perImage: perImage,
                                     first: t0, count: count, into: v)
                }
                if let packedU {
                    batchedBF16GEMM(count: positions, m: count, n: width, k: ci, a: UnsafePointer(v), lda: ci, strideA: count * ci,
                                    b: UnsafePointer(packedU), strideB: packedStride, c: m, ldc: width, strideC: count * width)
                } else if let u {
                    batchedGEMM(count: positions, m: count, n: width, k: ci,
                                a: UnsafePointer(v), strideA: count * ci, b: UnsafePointer(u), strideB: ci * width,
                                c: m, strideC: count * width)
                }
                if variant == .f4x4 {
                    transformOutput(m, width: width, from: o0, co: co, bias: bias, oh: oh, ow: ow, tilesX: tilesX,
                                    perImage: perImage, first: t0, count: count, into: out)
                } else {
                    transformOutput23(m, width: width, from: o0, co: co, bias: bias, oh: oh, ow: ow, tilesX: tilesX,
                                      perImage: perImage, first: t0, count: count, into: out)
                }
                t0 += count
            }
            o0 += width
        }
    }

    /// `U[p][i][o] = (G g Gᵀ)[p]` for input channel i and output channels `from ..< from+width`.
    static func transformWeights(_ weights: Weights, ci: Int, co: Int, from o0: Int, width: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        parallelFor(ci, grain: max(1, 2048 / width)) { rows in
          withUnsafeTemporaryAllocation(of: V16.self, capacity: 27) { scratch in
            let g = scratch.baseAddress!, t = g + 9
            for i in rows {
                var o = 0
                while o < width {
                    loadKernel(weights, ci: ci, co: co, channel: i, column: o0 + o, into: g)
                    // t = G g: 6 rows of 3.
                    for c in 0..<3 {
                        let g0 = g[c], g1 = g[3 + c], g2 = g[6 + c]
                        t[c] = g0 * 0.25
                        t[3 + c] = (g0 + g1 + g2) * (-1.0 / 6)
                        t[6 + c] = (g0 - g1 + g2) * (-1.0 / 6)
                        t[9 + c] = g0 * (1.0 / 24) + g1 * (1.0 / 12) + g2 * (1.0 / 6)
                        t[12 + c] = g0 * (1.0 / 24) - g1 * (1.0 / 12) + g2 * (1.0 / 6)
                        t[15 + c] = g2
                    }
                    // U = t Gᵀ: 6 x 6.
                    for r in 0..<6 {
                        let a = t[r * 3], b = t[r * 3 + 1], c = t[r * 3 + 2]
                        let row = u + (r * 6 * ci + i) * width + o, next = ci * width
                        store(a * 0.25, row)
                        store((a + b + c) * (-1.0 / 6), row + next)
                        store((a - b + c) * (-1.0 / 6), row + 2 * next)
                        store(a * (1.0 / 24) + b * (1.0 / 12) + c * (1.0 / 6), row + 3 * next)
                        store(a * (1.0 / 24) - b * (1.0 / 12) + c * (1.0 / 6), row + 4 * next)
                        store(c, row + 5 * next)
                    }
                    o += 16
                }
            }
          }
        }
    }

    /// `V[p][t][c] = (Bᵀ d B)[p]` for the band's tiles, d the tile's 6x6 input (zeros outside;
    /// input pixel (y, x) read at (y / upsample, x / upsample)).
    static func transformInput(_ x: UnsafePointer<Float>, h: Int, w: Int, upsample: Int, ci: Int, top: Int, left: Int,
                               tilesX: Int, perImage: Int, first t0: Int, count: Int, into v: UnsafeMutablePointer<Float>) {
        let plane = count * ci
        forEachTile(first: t0, count: count, tilesX: tilesX, perImage: perImage, tile: 4, grain: max(1, 4096 / ci),
                    scratch: 72) { tl, image, oy, ox, d, offsets in
            let t = d + 36
            inputOffsets(side: 6, image: image, y0: oy - top, x0: ox - left, h: h, w: w, upsample: upsample, ci: ci, into: offsets)
            var c = 0
            while c < ci {
                for p in 0..<36 { d[p] = offsets[p] >= 0 ? load(x + offsets[p] + c) : V16() }
                // t = Bᵀ d (rows), then V = t B (columns).
                for j in 0..<6 {
                    let d0 = d[j], d1 = d[6 + j], d2 = d[12 + j], d3 = d[18 + j], d4 = d[24 + j], d5 = d[30 + j]
                    t[j] = d0 * 4 - d2 * 5 + d4
                    t[6 + j] = -(d1 + d2) * 4 + d3 + d4
                    t[12 + j] = (d1 - d2) * 4 - d3 + d4
                    t[18 + j] = (d3 - d1) * 2 - d2 + d4
                    t[24 + j] = (d1 - d3) * 2 - d2 + d4
                    t[30 + j] = d1 * 4 - d3 * 5 + d5
                }
                let base = v + tl * ci + c
                for i in 0..<6 {
                    let r0 = t[i * 6], r1 = t[i * 6 + 1], r2 = t[i * 6 + 2], r3 = t[i * 6 + 3], r4 = t[i * 6 + 4], r5 = t[i * 6 + 5]
                    let row = i * 6
                    store(r0 * 4 - r2 * 5 + r4, base + (row + 0) * plane)
                    store(-(r1 + r2) * 4 + r3 + r4, base + (row + 1) * plane)
                    store((r1 - r2) * 4 - r3 + r4, base + (row + 2) * plane)
                    store((r3 - r1) * 2 - r2 + r4, base + (row + 3) * plane)
                    store((r1 - r3) * 2 - r2 + r4, base + (row + 4) * plane)
                    store(r1 * 4 - r3 * 5 + r5, base + (row + 5) * plane)
                }
                c += 16
            }
        }
    }

    /// `Y = Aᵀ M A` per tile, plus the bias, into the output pixels the tile covers.
    static func transformOutput(_ m: UnsafeMutablePointer<Float>, width: Int, from o0: Int, co: Int,
                                bias: UnsafePointer<Float>?, oh: Int, ow: Int, tilesX: Int, perImage: Int,
                                first t0: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let plane = count * width
        forEachTile(first: t0, count: count, tilesX: tilesX, perImage: perImage, tile: 4, grain: max(1, 4096 / width),
                    scratch: 24) { tl, image, y0, x0, t, _ in
            var c = 0
            while c < width {
                let base = m + tl * width + c
                // t = Aᵀ M: 4 rows of 6.
                for j in 0..<6 {
                    let m0 = load(base + j * plane), m1 = load(base + (6 + j) * plane), m2 = load(base + (12 + j) * plane)
                    let m3 = load(base + (18 + j) * plane), m4 = load(base + (24 + j) * plane), m5 = load(base + (30 + j) * plane)
                    let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
                    t[j] = m0 + s12 + s34
                    t[6 + j] = d12 + d34 * 2
                    t[12 + j] = s12 + s34 * 4
                    t[18 + j] = d12 + d34 * 8 + m5
                }
                let b = bias.map { load($0 + o0 + c) } ?? V16()
                for i in 0..<4 where y0 + i < oh {
                    let r0 = t[i * 6], r1 = t[i * 6 + 1], r2 = t[i * 6 + 2], r3 = t[i * 6 + 3], r4 = t[i * 6 + 4], r5 = t[i * 6 + 5]
                    let s12 = r1 + r2, d12 = r1 - r2, s34 = r3 + r4, d34 = r3 - r4
                    let pixel = out + ((image * oh + y0 + i) * ow + x0) * co + o0 + c
                    store(r0 + s12 + s34 + b, pixel)
                    if x0 + 1 < ow { store(d12 + d34 * 2 + b, pixel + co) }
                    if x0 + 2 < ow { store(s12 + s34 * 4 + b, pixel + 2 * co) }
                    if x0 + 3 < ow { store(d12 + d34 * 8 + r5 + b, pixel + 3 * co) }
                }
                c += 16
            }
        }
    }

    /// The band's tiles `t0 ..< t0 + count`, in parallel chunks of at least `grain`: for each,
    /// `body(tl, image, y, x, vectors, offsets)` with `(y, x)` the tile's first output pixel
    /// (tiles of `tile` x `tile` output pixels), `scratch` vectors and 36 offsets the body may
    /// use. The tile loop of every transform.
    @inline(__always)
    static func forEachTile(first t0: Int, count: Int, tilesX: Int, perImage: Int, tile side: Int, grain: Int, scratch: Int,
                            _ body: (Int, Int, Int, Int, UnsafeMutablePointer<V16>, UnsafeMutablePointer<Int>) -> Void) {
        parallelFor(count, grain: grain) { tiles in
          withUnsafeTemporaryAllocation(of: Int.self, capacity: 36) { offsetBuffer in
          withUnsafeTemporaryAllocation(of: V16.self, capacity: scratch) { vectorBuffer in
            let offsets = offsetBuffer.baseAddress!, vectors = vectorBuffer.baseAddress!
            for tl in tiles {
                let index = t0 + tl, image = index / perImage, rest = index % perImage
                body(tl, image, (rest / tilesX) * side, (rest % tilesX) * side, vectors, offsets)
            }
          }
          }
        }
    }

    /// Where a tile's `side` x `side` input pixels from (y0, x0) are read in `x`, as offsets of
    /// their first channel (-1: zero padding), the input read as its nearest `upsample`x
    /// upsampling: pixel (y, x) at (y / upsample, x / upsample).
    @inline(__always)
    static func inputOffsets(side: Int, image: Int, y0: Int, x0: Int, h: Int, w: Int, upsample: Int, ci: Int,
                             into offsets: UnsafeMutablePointer<Int>) {
        for i in 0..<side {
            for j in 0..<side {
                let y = y0 + i, xx = x0 + j
                offsets[i * side + j] = (y >= 0 && y < h * upsample && xx >= 0 && xx < w * upsample)
                    ? ((image * h + y / upsample) * w + xx / upsample) * ci : -1
            }
        }
    }

    /// 16 bfloat16 values widened to float32 (exact).
    @inline(__always) static func load(_ p: UnsafePointer<UInt16>) -> V16 {
        let bits = SIMD16<UInt32>(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt16>.self)) &<< 16
        return unsafeBitCast(bits, to: V16.self)
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V16 {
        UnsafeRawPointer(p).loadUnaligned(as: V16.self)
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> V16 {
        UnsafeRawPointer(p).loadUnaligned(as: V16.self)
    }

    @inline(__always) static func store(_ value: V16, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: V16.self)
    }
}
