/// Winograd's F(2x2, 3x3) tile transforms (Lavin and Gray, 2015), for bf16 weights: each 2x2
/// block of output pixels from a 4x4 block of input, 16 products where the direct convolution
/// needs 36. `Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]`, `G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]`,
/// `Aᵀ = [1 1 1 0; 0 1 -1 -1]`. Layouts as F(4x4, 3x3)'s, with 16 positions.
extension Winograd {
    /// `U[p][i][o] = (G g Gᵀ)[p]` for input channel i and output channels `from ..< from+width`.
    static func transformWeights23(_ weights: Weights, ci: Int, co: Int, from o0: Int, width: Int,
                                   into u: UnsafeMutablePointer<Float>) {
        parallelFor(ci, grain: max(1, 2048 / width)) { rows in
          withUnsafeTemporaryAllocation(of: V16.self, capacity: 37) { scratch in
            let g = scratch.baseAddress!, t = g + 9, tile = t + 12
            for i in rows {
                var o = 0
                while o < width {
                    loadKernel(weights, ci: ci, co: co, channel: i, column: o0 + o, into: g)
                    weightTile23(g, scratch: t, into: tile)
                    for q in 0..<16 { store(tile[q], u + (q * ci + i) * width + o) }
                    o += 16
                }
            }
          }
        }
    }

    /// The same U rounded to bfloat16 and written straight into `kiln_bf16_pack_b`'s panels
    /// (k = ci, n = width; position q's matrix at `packed + q * stride`): input channels in pairs,
    /// so that each 32-bit word, one column's pair, comes from two tiles. No float32 U and no
    /// second pass (the two were 9% of a bf16 UNet step at 512 px).
    static func transformWeights23Packed(_ weights: Weights, ci: Int, co: Int, from o0: Int, width: Int,
                                         into packed: UnsafeMutablePointer<UInt16>, stride: Int) {
        precondition(ci % 2 == 0 && width % 16 == 0)
        let pairs = ci / 2, panelStride = BF16Matrix.panelStride(k: ci), panel = BF16Matrix.panel
        if width % panel != 0 {
            // The last panel's columns past `width` are zeros, as kiln_bf16_pack_b leaves them.
            for q in 0..<16 { (packed + q * stride + (width / panel) * panelStride).update(repeating: 0, count: panelStride) }
        }
        parallelFor(pairs, grain: max(1, 1024 / width)) { range in
          withUnsafeTemporaryAllocation(of: V16.self, capacity: 53) { scratch in
            let g = scratch.baseAddress!, t = g + 9, low = t + 12, high = low + 16
            for p in range {
                var o = 0
                while o < width {
                    loadKernel(weights, ci: ci, co: co, channel: 2 * p, column: o0 + o, into: g)
                    weightTile23(g, scratch: t, into: low)
                    loadKernel(weights, ci: ci, co: co, channel: 2 * p + 1, column: o0 + o, into: g)
                    weightTile23(g, scratch: t, into: high)
                    let offset = (o / panel) * panelStride + (p * panel + o % panel) * 2
                    for q in 0..<16 {
                        let words = bf16Bits(low[q]) | (bf16Bits(high[q]) &<< 16)
                        UnsafeMutableRawPointer(packed + q * stride + offset).storeBytes(of: words, as: SIMD16<UInt32>.self)
                    }
                    o += 16
                }
            }
          }
        }
    }

    /// The 3x3 kernels of input channel `i` for 16 output channels from `column`, as 9 taps.
    @inline(__always)
    static func loadKernel(_ weights: Weights, ci: Int, co: Int, channel i: Int, column: Int, into g: UnsafeMutablePointer<V16>) {
        switch weights {
        case .fp32(let packed):
            for tap in 0..<9 { g[tap] = load(packed + (tap * ci + i) * co + column) }
        case .bf16(let packed):
            for tap in 0..<9 { g[tap] = load(packed + (tap * ci + i) * co + column) }
        }
    }

    /// `G g Gᵀ` of 9 taps `g` into 16 positions (row-major 4 x 4), through 12 of `scratch`.
    @inline(__always)
    static func weightTile23(_ g: UnsafeMutablePointer<V16>, scratch t: UnsafeMutablePointer<V16>, into u: UnsafeMutablePointer<V16>) {
        // t = G g: 4 rows of 3.
        for c in 0..<3 {
            let g0 = g[c], g1 = g[3 + c], g2 = g[6 + c]
            t[c] = g0
            t[3 + c] = (g0 + g1 + g2) * 0.5
            t[6 + c] = (g0 - g1 + g2) * 0.5
            t[9 + c] = g2
        }
        // U = t Gᵀ: 4 x 4.
        for r in 0..<4 {
            let a = t[r * 3], b = t[r * 3 + 1], c = t[r * 3 + 2]
            u[r * 4] = a
            u[r * 4 + 1] = (a + b + c) * 0.5
            u[r * 4 + 2] = (a - b + c) * 0.5
            u[r * 4 + 3] = c
        }
    }

    /// bfloat16 bits of 16 floats (`bfloat16Bits`).
    @inline(__always)
    static func bf16Bits(_ v: V16) -> SIMD16<UInt32> { bfloat16Bits(unsafeBitCast(v, to: SIMD16<UInt32>.self)) }

    /// `V[p][t][c] = (Bᵀ d B)[p]` for the band's tiles, d the tile's 4x4 input (zeros outside;
    /// input pixel (y, x) read at (y / upsample, x / upsample)).
    static func transformInput23(_ x: UnsafePointer<Float>, h: Int, w: Int, upsample: Int, ci: Int, top: Int, left: Int,
                                 tilesX: Int, perImage: Int, first t0: Int, count: Int, into v: UnsafeMutablePointer<Float>) {
        let plane = count * ci
        forEachTile(first: t0, count: count, tilesX: tilesX, perImage: perImage, tile: 2, grain: max(1, 4096 / ci),
                    scratch: 32) { tl, image, oy, ox, d, offsets in
            let t = d + 16
            inputOffsets(side: 4, image: image, y0: oy - top, x0: ox - left, h: h, w: w, upsample: upsample, ci: ci, into: offsets)
            var c = 0
            while c < ci {
                for p in 0..<16 { d[p] = offsets[p] >= 0 ? load(x + offsets[p] + c) : V16() }
                // t = Bᵀ d (rows), then V = t B (columns).
                for j in 0..<4 {
                    let d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j]
                    t[j] = d0 - d2
                    t[4 + j] = d1 + d2
                    t[8 + j] = d2 - d1
                    t[12 + j] = d1 - d3
                }
                let base = v + tl * ci + c
                for i in 0..<4 {
                    let r0 = t[i * 4], r1 = t[i * 4 + 1], r2 = t[i * 4 + 2], r3 = t[i * 4 + 3]
                    store(r0 - r2, base + (i * 4) * plane)
                    store(r1 + r2, base + (i * 4 + 1) * plane)
                    store(r2 - r1, base + (i * 4 + 2) * plane)
                    store(r1 - r3, base + (i * 4 + 3) * plane)
                }
                c += 16
            }
        }
    }

    /// `Y = Aᵀ M A` per tile, plus the bias, into the output pixels the tile covers.
    static func transformOutput23(_ m: UnsafeMutablePointer<Float>, width: Int, from o0: Int, co: Int,
                                  bias: UnsafePointer<Float>?, oh: Int, ow: Int, tilesX: Int, perImage: Int,
                                  first t0: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let plane = count * width
        forEachTile(first: t0, count: count, tilesX: tilesX, perImage: perImage, tile: 2, grain: max(1, 4096 / width),
                    scratch: 8) { tl, image, y0, x0, t, _ in
            var c = 0
            while c < width {
                let base = m + tl * width + c
                // t = Aᵀ M: 2 rows of 4.
                for j in 0..<4 {
                    let m0 = load(base + j * plane), m1 = load(base + (4 + j) * plane)
                    let m2 = load(base + (8 + j) * plane), m3 = load(base + (12 + j) * plane)
                    t[j] = m0 + m1 + m2
                    t[4 + j] = m1 - m2 - m3
                }
                let b = bias.map { load($0 + o0 + c) } ?? V16()
                for i in 0..<2 where y0 + i < oh {
                    let r0 = t[i * 4], r1 = t[i * 4 + 1], r2 = t[i * 4 + 2], r3 = t[i * 4 + 3]
                    let pixel = out + ((image * oh + y0 + i) * ow + x0) * co + o0 + c
                    store(r0 + r1 + r2 + b, pixel)
                    if x0 + 1 < ow { store(r1 - r2 - r3 + b, pixel + co) }
                }
                c += 16
            }
        }
    }
}
