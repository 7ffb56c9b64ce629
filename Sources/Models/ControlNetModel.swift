import Foundation
import ModelFiles
import Numerics

/// What a ControlNet adds to the UNet: one residual per skip (`down_block_res_samples`) and one
/// for the mid block's output, channels-last; `[batch, 1, 1, channels]` when pooled.
public struct ControlNetResiduals: Sendable {
    public var down: [Tensor]
    public var mid: Tensor

    public init(down: [Tensor], mid: Tensor) { self.down = down; self.mid = mid }

    /// The sum of two ControlNets' residuals, as diffusers' `MultiControlNetModel` adds them.
    public static func + (a: ControlNetResiduals, b: ControlNetResiduals) -> ControlNetResiduals {
        ControlNetResiduals(down: zip(a.down, b.down).map { broadcastSum($0, $1) }, mid: broadcastSum(a.mid, b.mid))
    }

    /// Every residual with `rows` zero rows in front (guess mode's unconditional half).
    public func zeroPadded(rows: Int) -> ControlNetResiduals {
        func pad(_ t: Tensor) -> Tensor { Tensor.concatenateBatch([Tensor(zeros: [rows] + t.shape.dropFirst()), t]) }
        return ControlNetResiduals(down: down.map(pad), mid: pad(mid))
    }
}

/// `a + b` of channels-last tensors where either may be `[batch, 1, 1, channels]` (a pooled
/// residual, broadcast over height and width as torch does).
func broadcastSum(_ a: Tensor, _ b: Tensor) -> Tensor {
    if a.shape == b.shape { return a + b }
    let (big, small) = a.count >= b.count ? (a, b) : (b, a)
    let n = big.shape[0], c = big.shape[3], pixels = big.shape[1] * big.shape[2]
    precondition(small.shape == [n, 1, 1, c], "residual \(small.shape) does not broadcast to \(big.shape)")
    let out = Tensor(uninitialized: big.shape)
    let p = big.unsafePointer, s = small.unsafePointer, o = out.unsafePointer
    parallelFor(n * pixels, grain: max(1, 8192 / c)) { r in
        for row in r {
            let v = s + (row / pixels) * c, src = p + row * c, dst = o + row * c
            for j in 0..<c { dst[j] = src[j] + v[j] }
        }
    }
    return out
}

/// diffusers' `ControlNetModel` as SDXL uses it: the UNet's encoder (a copy of its down and mid
/// blocks with their own weights) run on the latents plus an embedding of the condition image,
/// each output passed through a 1x1 "zero" convolution and scaled.
public struct ControlNetModel: Sendable {
    public let config: ControlNetConfig
    let encoder: UNetEncoder
    let embedding: [Conv2D]
    let downConvs: [Conv2D]
    let midConv: Conv2D

    public init(config: ControlNetConfig, weights w: WeightReader) throws {
        self.config = config
        let unet = config.unet, ch = unet.blockOutChannels
        encoder = try UNetEncoder(config: unet, weights: w)
        // controlnet_cond_embedding: conv_in, then per width a conv and a stride-2 conv, then conv_out; SiLU between.
        let e = config.embeddingChannels, ew = w.scoped("controlnet_cond_embedding")
        var convs = [try ew.conv("conv_in", in: 3, out: e[0], kernel: 3, padding: 1)]
        for i in 0..<(e.count - 1) {
            convs.append(try ew.conv("blocks.\(2 * i)", in: e[i], out: e[i], kernel: 3, padding: 1))
            convs.append(try ew.conv("blocks.\(2 * i + 1)", in: e[i], out: e[i + 1], kernel: 3, stride: 2, padding: 1))
        }
        convs.append(try ew.conv("conv_out", in: e[e.count - 1], out: ch[0], kernel: 3, padding: 1))
        embedding = convs
        // One zero convolution per skip: conv_in's output, each resnet's, each downsampler's.
        var widths = [ch[0]]
        for (i, c) in ch.enumerated() {
            widths += Array(repeating: c, count: unet.layersPerBlock)
            if i < ch.count - 1 { widths.append(c) }
        }
        downConvs = try widths.enumerated().map { i, c in try w.conv("controlnet_down_blocks.\(i)", in: c, out: c, kernel: 1) }
        midConv = try w.conv("controlnet_mid_block", in: ch[ch.count - 1], out: ch[ch.count - 1], kernel: 1)
    }

    /// Checks the inputs against the config; `condition` is channels-last `[batch, H, W, 3]`,
    /// `downscale` times the latents' height and width.
    public func validate(sample: Tensor, conditioning c: UNetConditioning, condition: Tensor) throws {
        try encoder.validate(sample: sample, conditioning: c, network: "ControlNet")
        let s = config.downscale
        guard condition.rank == 4, condition.shape[0] == sample.shape[0], condition.shape[3] == 3,
              condition.shape[1] == sample.shape[1] * s, condition.shape[2] == sample.shape[2] * s else {
            throw ModelFileError.invalidConfig(path: "ControlNet input", key: "controlnet_cond \(condition.shape)",
                                               reason: "is not [batch, \(s) x latent height, \(s) x latent width, 3]")
        }
    }

    /// The residuals for channels-last latents `sample` at `timestep` and the condition image
    /// `condition` (`[batch, H, W, 3]`, RGB in [0, 1]), scaled by `scale` (in guess mode by
    /// `scale` times 10^-1 ... 10^0 from the first residual to the mid block's).
    public func callAsFunction(_ sample: Tensor, timestep: Float, conditioning c: UNetConditioning,
                               condition: Tensor, scale: Float, guessMode: Bool = false) -> ControlNetResiduals {
        let time = encoder.timeEmbedding(timestep: timestep, batch: sample.shape[0], conditioning: c)
        var h = config.bgr ? reversedChannels(condition) : condition
        for (i, conv) in embedding.enumerated() {
            h = conv(h)
            if i < embedding.count - 1 { h = Activation.silu(h) }
        }
        let (mid, skips) = encoder(sample, time: time, context: c.encoderHiddenStates, inputAddition: h)
        var down = zip(skips, downConvs).map { $1($0) }
        var midOut = midConv(mid)
        if guessMode && !config.globalPoolConditions {
            let scales = Self.guessScales(count: down.count + 1).map { $0 * scale }
            down = down.enumerated().map { $1.scaled(by: scales[$0]) }
            midOut = midOut.scaled(by: scales[down.count])
        } else {
            down = down.map { $0.scaled(by: scale) }
            midOut = midOut.scaled(by: scale)
        }
        if config.globalPoolConditions {
            down = down.map(spatialMean)
            midOut = spatialMean(midOut)
        }
        return ControlNetResiduals(down: down, mid: midOut)
    }

    /// `torch.logspace(-1, 0, count)` in float32 (as torch computes it: from the start for the
    /// first half, from the end for the rest).
    public static func guessScales(count: Int) -> [Float] {
        guard count > 1 else { return [0.1] }
        let step = Float(1) / Float(count - 1)
        return (0..<count).map { i in
            let exponent = i < count / 2 ? -1 + step * Float(i) : 0 - step * Float(count - i - 1)
            return Float(pow(10, Double(exponent)))
        }
    }
}

/// The last axis reversed (RGB to BGR).
func reversedChannels(_ x: Tensor) -> Tensor {
    let c = x.shape[x.rank - 1], rows = x.count / c
    let out = Tensor(uninitialized: x.shape)
    let p = x.unsafePointer, o = out.unsafePointer
    for r in 0..<rows { for j in 0..<c { o[r * c + j] = p[r * c + c - 1 - j] } }
    return out
}

/// The mean over height and width of a channels-last tensor, `[batch, 1, 1, channels]`.
func spatialMean(_ x: Tensor) -> Tensor {
    let (n, pixels, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
    let out = Tensor(zeros: [n, 1, 1, c])
    let p = x.unsafePointer, o = out.unsafePointer
    for b in 0..<n {
        var sums = [Double](repeating: 0, count: c)
        for i in 0..<pixels { let row = p + (b * pixels + i) * c; for j in 0..<c { sums[j] += Double(row[j]) } }
        for j in 0..<c { o[b * c + j] = Float(sums[j] / Double(pixels)) }
    }
    return out
}
