import ModelFiles
import Numerics

/// Tiled encoding and decoding, as diffusers' `AutoencoderKL.enable_tiling()` does them.
///
/// Inputs larger than one tile (`sample_size` pixels, `sample_size / 8` latents for SDXL: 1024
/// and 128) are cut into tiles that overlap by a quarter, each coded on its own; every tile is
/// blended into the one above and the one to its left over a quarter of a tile (linear ramps,
/// in row-major order, each blend reading the neighbour as already blended), and cropped to
/// three quarters. Memory then grows with the tile, not the image; the seams are blended, not
/// invisible, and the numbers differ from an untiled decode. Smaller inputs are coded whole.
extension AutoencoderKL {
    /// Latents per tile side (`tile_latent_min_size`).
    public var tileLatentSize: Int { config.sampleSize / config.downscaleFactor }

    /// Decodes as `decode(_:)`, in tiles when `tiled` and the latents exceed one tile.
    public func decode(_ latents: Tensor, tiled: Bool) throws -> Tensor {
        let size = tileLatentSize
        guard tiled, latents.shape[1] > size || latents.shape[2] > size else { return decode(latents) }
        let blend = Int(Double(config.sampleSize) * 0.25)
        let plan = try TilePlan(size: size, stride: Int(Double(size) * 0.75), blend: blend, limit: config.sampleSize - blend)
        return plan.run(latents) { decode($0) }
    }

    /// Encodes as `encode(_:)`, in tiles when `tiled` and the image exceeds one tile.
    public func encode(_ image: Tensor, tiled: Bool) throws -> LatentDistribution {
        let size = config.sampleSize
        guard tiled, image.shape[1] > size || image.shape[2] > size else { return encode(image) }
        let latentSize = tileLatentSize
        let blend = Int(Double(latentSize) * 0.25)
        let plan = try TilePlan(size: size, stride: Int(Double(size) * 0.75), blend: blend, limit: latentSize - blend)
        return distribution(plan.run(image) { moments($0) })
    }
}

/// The tiles of one tiled pass: `size` input pixels every `stride`, outputs blended over `blend`
/// pixels and cropped to `limit`.
struct TilePlan {
    let size: Int, stride: Int, blend: Int, limit: Int

    init(size: Int, stride: Int, blend: Int, limit: Int) throws {
        guard size >= 1, stride >= 1, blend >= 1, limit >= 1 else {
            throw ModelFileError.invalidConfig(path: "vae/config.json", key: "sample_size",
                                               reason: "is too small to tile (tiles of \(size), every \(stride)); decode without --vae-tiling")
        }
        self.size = size; self.stride = stride; self.blend = blend; self.limit = limit
    }

    /// Runs `body` on each tile of `x` (`[batch, h, w, c]`), blends and crops the outputs.
    func run(_ x: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
        let (h, w) = (x.shape[1], x.shape[2])
        var rows: [[Tensor]] = []
        for y in Swift.stride(from: 0, to: h, by: stride) {
            rows.append(Swift.stride(from: 0, to: w, by: stride).map { x0 in
                body(crop(x, y: y, x: x0, height: min(size, h - y), width: min(size, w - x0)))
            })
        }
        for i in rows.indices {
            for j in rows[i].indices {
                if i > 0 { blendRows(from: rows[i - 1][j], into: rows[i][j]) }
                if j > 0 { blendColumns(from: rows[i][j - 1], into: rows[i][j]) }
            }
        }
        let heights = rows.map { min(limit, $0[0].shape[1]) }, widths = rows[0].map { min(limit, $0.shape[2]) }
        let first = rows[0][0]
        let (n, c) = (first.shape[0], first.shape[3])
        let (outH, outW) = (heights.reduce(0, +), widths.reduce(0, +))
        let out = Tensor(uninitialized: [n, outH, outW, c])
        var y0 = 0
        for (i, row) in rows.enumerated() {
            var x0 = 0
            for (j, tile) in row.enumerated() {
                let (th, tw) = (tile.shape[1], tile.shape[2])
                let s = tile.unsafePointer, d = out.unsafePointer
                for b in 0..<n {
                    for y in 0..<heights[i] {
                        (d + ((b * outH + y0 + y) * outW + x0) * c).update(from: s + ((b * th + y) * tw) * c, count: widths[j] * c)
                    }
                }
                x0 += widths[j]
            }
            y0 += heights[i]
        }
        return out
    }

    /// `x[:, y ..< y+height, x ..< x+width, :]` as a new tensor.
    func crop(_ t: Tensor, y: Int, x: Int, height: Int, width: Int) -> Tensor {
        let (n, h, w, c) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor(uninitialized: [n, height, width, c])
        let s = t.unsafePointer, d = out.unsafePointer
        for b in 0..<n {
            for row in 0..<height {
                (d + ((b * height + row) * width) * c).update(from: s + ((b * h + y + row) * w + x) * c, count: width * c)
            }
        }
        return out
    }

    /// diffusers' `blend_v`: the first rows of `b` ramp from the last rows of `a` (the tile
    /// above) to `b`'s own.
    func blendRows(from a: Tensor, into b: Tensor) {
        blend(from: a, into: b, outer: b.shape[0], aLength: a.shape[1], bLength: b.shape[1], inner: b.shape[2] * b.shape[3])
    }

    /// diffusers' `blend_h`: the first columns of `b` ramp from the last columns of `a` (the
    /// tile to the left).
    func blendColumns(from a: Tensor, into b: Tensor) {
        blend(from: a, into: b, outer: b.shape[0] * b.shape[1], aLength: a.shape[2], bLength: b.shape[2], inner: b.shape[3])
    }

    /// Both blends, with the tensors seen as `[outer, length, inner]` along the blended axis:
    /// position i < extent of `b` becomes `a[length_a - extent + i] * (1 - i/extent) + b[i] *
    /// (i/extent)`, the weights computed in double and applied in float as torch does.
    private func blend(from a: Tensor, into b: Tensor, outer: Int, aLength: Int, bLength: Int, inner: Int) {
        let extent = min(aLength, bLength, blend)
        let s = a.unsafePointer, d = b.unsafePointer
        for i in 0..<extent {
            let wb = Float(Double(i) / Double(extent)), wa = Float(1 - Double(i) / Double(extent))
            for o in 0..<outer {
                let src = s + (o * aLength + aLength - extent + i) * inner, dst = d + (o * bLength + i) * inner
                for j in 0..<inner { dst[j] = src[j] * wa + dst[j] * wb }
            }
        }
    }
}
