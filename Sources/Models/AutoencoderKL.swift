import Foundation
import ModelFiles
import Numerics

/// The settings of diffusers' `AutoencoderKL`, read from the VAE's config.json.
public struct VAEConfig: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var latentChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var normGroups: Int
    public var scalingFactor: Float
    public var shiftFactor: Float?
    public var sampleSize: Int
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    public var midBlockAttention: Bool

    public init(_ c: ConfigFile) throws {
        inChannels = try c.int("in_channels", default: 3, in: 1...64)
        outChannels = try c.int("out_channels", default: 3, in: 1...64)
        latentChannels = try c.int("latent_channels", default: 4, in: 1...64)
        let down = try c.stringList("down_block_types", default: ["DownEncoderBlock2D"])
        for (i, s) in down.enumerated() where s != "DownEncoderBlock2D" {
            throw configError(c, "down_block_types", "[\(i)] = \"\(s)\" is not supported (supported: DownEncoderBlock2D)")
        }
        let up = try c.stringList("up_block_types", default: ["UpDecoderBlock2D"])
        for (i, s) in up.enumerated() where s != "UpDecoderBlock2D" {
            throw configError(c, "up_block_types", "[\(i)] = \"\(s)\" is not supported (supported: UpDecoderBlock2D)")
        }
        guard up.count == down.count, !down.isEmpty else {
            throw configError(c, "up_block_types", "must have as many entries as down_block_types")
        }
        guard down.count <= 8 else { throw configError(c, "down_block_types", "has \(down.count) blocks; at most 8 are supported") }
        blockOutChannels = try c.intList("block_out_channels", count: down.count, in: 1...8192)
        layersPerBlock = try c.int("layers_per_block", default: 1, in: 1...64)
        normGroups = try c.int("norm_num_groups", default: 32, in: 1...8192)
        scalingFactor = Float(try c.double("scaling_factor", default: 0.18215, in: 1e-6...1e6))
        shiftFactor = c.has("shift_factor") ? Float(try c.double("shift_factor", in: -1e6...1e6)) : nil
        sampleSize = try c.int("sample_size", default: 32, in: 1...16384)
        useQuantConv = try c.bool("use_quant_conv", default: true)
        usePostQuantConv = try c.bool("use_post_quant_conv", default: true)
        midBlockAttention = try c.bool("mid_block_add_attention", default: true)
        try c.require("act_fn", in: ["silu", nil])
        for (i, ch) in blockOutChannels.enumerated() where ch <= 0 || ch % normGroups != 0 {
            throw configError(c, "block_out_channels", "[\(i)] = \(ch) is not a positive multiple of norm_num_groups \(normGroups)")
        }
        guard latentChannels > 0, layersPerBlock > 0, inChannels > 0, outChannels > 0 else {
            throw configError(c, "latent_channels", "and the other sizes must be positive")
        }
    }

    /// Spatial reduction between image and latents (8 for SDXL).
    public var downscaleFactor: Int { 1 << (blockOutChannels.count - 1) }
}

/// The latent distribution the encoder predicts (diffusers' `DiagonalGaussianDistribution`).
public struct LatentDistribution: Sendable {
    /// `[batch, h, w, latent]`, channels-last.
    public var mean: Tensor
    /// Clamped to [-30, 20] as diffusers does.
    public var logVariance: Tensor

    /// `exp(0.5 * logvar)`.
    public var standardDeviation: Tensor {
        let out = Tensor(uninitialized: logVariance.shape)
        let s = logVariance.unsafePointer, d = out.unsafePointer
        for i in 0..<out.count { d[i] = expf(0.5 * s[i]) }
        return out
    }
}

/// The VAE's single-head spatial self-attention (diffusers `Attention` with group norm,
/// biases and a residual connection).
struct VAEAttention: Sendable {
    let norm: GroupNorm
    let attention: AttentionLayer

    init(_ w: WeightReader, channels: Int, groups: Int) throws {
        norm = try w.groupNorm("group_norm", channels: channels, groups: groups, epsilon: 1e-6)
        attention = try AttentionLayer(w, queryDim: channels, contextDim: channels, heads: 1, headDim: channels, bias: true)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = attention(norm(x).reshaped([n, h * w, c])).reshaped(x.shape)
        out.add(x)
        return out
    }
}

/// `UNetMidBlock2D` without time input: resnet, attention, resnet.
struct VAEMidBlock: Sendable {
    let first: ResnetBlock, attention: VAEAttention?, second: ResnetBlock

    init(_ w: WeightReader, channels: Int, groups: Int, withAttention: Bool) throws {
        first = try ResnetBlock(w.scoped("resnets.0"), in: channels, out: channels, timeEmbedding: nil, groups: groups, epsilon: 1e-6)
        attention = withAttention ? try VAEAttention(w.scoped("attentions.0"), channels: channels, groups: groups) : nil
        second = try ResnetBlock(w.scoped("resnets.1"), in: channels, out: channels, timeEmbedding: nil, groups: groups, epsilon: 1e-6)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = first(x, activatedTime: nil)
        if let attention { h = attention(h) }
        return second(h, activatedTime: nil)
    }
}

/// diffusers' `AutoencoderKL`: an encoder to a diagonal Gaussian over latents and a decoder
/// back to images in [-1, 1] (not clamped). Images and latents are channels-last.
public struct AutoencoderKL: Sendable {
    public let config: VAEConfig
    let encConvIn: Conv2D
    let encBlocks: [(resnets: [ResnetBlock], down: Conv2D?)]
    let encMid: VAEMidBlock
    let encNormOut: GroupNorm, encConvOut: Conv2D
    let quantConv: Conv2D?
    let postQuantConv: Conv2D?
    let decConvIn: Conv2D
    let decMid: VAEMidBlock
    let decBlocks: [(resnets: [ResnetBlock], up: Conv2D?)]
    let decNormOut: GroupNorm, decConvOut: Conv2D

    public init(config: VAEConfig, weights w: WeightReader) throws {
        self.config = config
        let ch = config.blockOutChannels, n = ch.count, g = config.normGroups, lat = config.latentChannels
        let e = w.scoped("encoder")
        encConvIn = try e.conv("conv_in", in: config.inChannels, out: ch[0], kernel: 3, padding: 1)
        var blocks: [(resnets: [ResnetBlock], down: Conv2D?)] = []
        var output = ch[0]
        for i in 0..<n {
            let input = output
            output = ch[i]
            let bw = e.scoped("down_blocks.\(i)")
            let resnets = try (0..<config.layersPerBlock).map { j in
                try ResnetBlock(bw.scoped("resnets.\(j)"), in: j == 0 ? input : output, out: output, timeEmbedding: nil, groups: g, epsilon: 1e-6)
            }
            // diffusers pads (0, 1, 0, 1) and convolves with stride 2 and no padding.
            var down: Conv2D? = nil
            if i < n - 1 {
                down = try bw.conv("downsamplers.0.conv", in: output, out: output, kernel: 3, stride: 2, padding: (0, 1, 0, 1))
            }
            blocks.append((resnets, down))
        }
        encBlocks = blocks
        encMid = try VAEMidBlock(e.scoped("mid_block"), channels: ch[n - 1], groups: g, withAttention: config.midBlockAttention)
        encNormOut = try e.groupNorm("conv_norm_out", channels: ch[n - 1], groups: g, epsilon: 1e-6)
        encConvOut = try e.conv("conv_out", in: ch[n - 1], out: 2 * lat, kernel: 3, padding: 1)
        quantConv = config.useQuantConv ? try w.conv("quant_conv", in: 2 * lat, out: 2 * lat, kernel: 1) : nil
        postQuantConv = config.usePostQuantConv ? try w.conv("post_quant_conv", in: lat, out: lat, kernel: 1) : nil

        let d = w.scoped("decoder")
        let reversed = Array(ch.reversed())
        decConvIn = try d.conv("conv_in", in: lat, out: reversed[0], kernel: 3, padding: 1)
        decMid = try VAEMidBlock(d.scoped("mid_block"), channels: reversed[0], groups: g, withAttention: config.midBlockAttention)
        var ups: [(resnets: [ResnetBlock], up: Conv2D?)] = []
        var previous = reversed[0]
        for i in 0..<n {
            let output = reversed[i]
            let bw = d.scoped("up_blocks.\(i)")
            let resnets = try (0..<(config.layersPerBlock + 1)).map { j in
                try ResnetBlock(bw.scoped("resnets.\(j)"), in: j == 0 ? previous : output, out: output, timeEmbedding: nil, groups: g, epsilon: 1e-6)
            }
            let up = i == n - 1 ? nil : try bw.conv("upsamplers.0.conv", in: output, out: output, kernel: 3, padding: 1)
            ups.append((resnets, up))
            previous = output
        }
        decBlocks = ups
        decNormOut = try d.groupNorm("conv_norm_out", channels: ch[0], groups: g, epsilon: 1e-6)
        decConvOut = try d.conv("conv_out", in: ch[0], out: config.outChannels, kernel: 3, padding: 1)
    }

    /// Encodes channels-last images `[batch, H, W, 3]` in [-1, 1] to the latent distribution.
    public func encode(_ image: Tensor) -> LatentDistribution {
        distribution(moments(image))
    }

    /// The encoder's output after `quant_conv`: mean and log-variance side by side on the
    /// channel axis (what tiled encoding blends).
    func moments(_ image: Tensor) -> Tensor {
        var h = encConvIn(image)
        for block in encBlocks {
            for r in block.resnets { h = r(h, activatedTime: nil) }
            if let down = block.down { h = down(h) }
        }
        h = encConvOut(encNormOut(encMid(h), silu: true))
        if let q = quantConv { h = q(h) }
        return h
    }

    /// diffusers' `DiagonalGaussianDistribution` of `moments`.
    func distribution(_ h: Tensor) -> LatentDistribution {
        let lat = config.latentChannels
        let spatial = Array(h.shape.dropLast())
        let mean = Tensor(uninitialized: spatial + [lat]), logvar = Tensor(uninitialized: spatial + [lat])
        let s = h.unsafePointer, m = mean.unsafePointer, l = logvar.unsafePointer
        for p in 0..<(mean.count / lat) {
            for c in 0..<lat {
                m[p * lat + c] = s[p * 2 * lat + c]
                l[p * lat + c] = min(max(s[p * 2 * lat + lat + c], -30), 20)
            }
        }
        return LatentDistribution(mean: mean, logVariance: logvar)
    }

    /// Decodes channels-last latents `[batch, h, w, latent]` (already divided by the scaling
    /// factor) to images `[batch, 8h, 8w, 3]`, roughly in [-1, 1].
    public func decode(_ latents: Tensor) -> Tensor {
        var h = postQuantConv.map { $0(latents) } ?? latents
        h = decMid(decConvIn(h))
        for block in decBlocks {
            for r in block.resnets { h = r(h, activatedTime: nil) }
            if let up = block.up { h = up.afterNearest2x(h) }
        }
        return decConvOut(decNormOut(h, silu: true))
    }
}
