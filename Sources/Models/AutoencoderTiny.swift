import Foundation
import ModelFiles
import Numerics

/// The settings of diffusers' `AutoencoderTiny` (TAESD, madebyollin/taesdxl), from its config.json.
public struct TinyVAEConfig: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var latentChannels: Int
    /// Channels of every encoder and decoder stage: diffusers' layers need them all equal.
    public var encoderChannels: Int
    public var decoderChannels: Int
    public var encoderBlocks: [Int]
    public var decoderBlocks: [Int]
    /// `scaling_factor` (1.0: TAESD's latents are already the UNet's).
    public var scalingFactor: Float
    public var latentMagnitude: Float
    public var latentShift: Float

    public init(_ c: ConfigFile) throws {
        inChannels = try c.int("in_channels", default: 3, in: 1...64)
        outChannels = try c.int("out_channels", default: 3, in: 1...64)
        latentChannels = try c.int("latent_channels", default: 4, in: 1...64)
        encoderBlocks = try TinyVAEConfig.list(c, "num_encoder_blocks", default: [1, 3, 3, 3], in: 0...64)
        decoderBlocks = try TinyVAEConfig.list(c, "num_decoder_blocks", default: [3, 3, 3, 1], in: 0...64)
        let enc = try c.intList("encoder_block_out_channels", count: encoderBlocks.count, default: Array(repeating: 64, count: encoderBlocks.count), in: 1...4096)
        let dec = try c.intList("decoder_block_out_channels", count: decoderBlocks.count, default: Array(repeating: 64, count: decoderBlocks.count), in: 1...4096)
        // diffusers builds each stage's first convolution from that stage's own width, so only
        // equal widths give a network that runs.
        guard Set(enc).count == 1 else { throw configError(c, "encoder_block_out_channels", "must all be equal (diffusers' EncoderTiny needs it), not \(enc)") }
        guard Set(dec).count == 1 else { throw configError(c, "decoder_block_out_channels", "must all be equal (diffusers' DecoderTiny needs it), not \(dec)") }
        encoderChannels = enc[0]
        decoderChannels = dec[0]
        try c.require("act_fn", in: ["relu", nil])
        try c.require("upsample_fn", in: ["nearest", nil])
        guard try c.int("upsampling_scaling_factor", default: 2, in: 1...16) == 2 else {
            throw configError(c, "upsampling_scaling_factor", "must be 2")
        }
        scalingFactor = Float(try c.double("scaling_factor", default: 1.0, in: 1e-6...1e6))
        latentMagnitude = Float(try c.double("latent_magnitude", default: 3, in: 1e-6...1e6))
        latentShift = Float(try c.double("latent_shift", default: 0.5, in: -1e6...1e6))
        if c.has("shift_factor"), try c.double("shift_factor") != 0 {
            throw configError(c, "shift_factor", "must be 0 (the SDXL pipelines do not apply it)")
        }
    }

    static func list(_ c: ConfigFile, _ key: String, default d: [Int], in range: ClosedRange<Int>) throws -> [Int] {
        guard c.has(key) else { return d }
        guard let values = c.values[key] as? [any Sendable], (1...8).contains(values.count) else {
            throw configError(c, key, "must be a list of 1 to 8 block counts")
        }
        return try c.intList(key, count: values.count, in: range)
    }

    /// Spatial reduction between image and latents: one halving per stage after the first.
    public var downscaleFactor: Int { 1 << (decoderBlocks.count - 1) }
}

/// diffusers' `AutoencoderTinyBlock`: `relu(conv(relu(conv(relu(conv(x))))) + x)`.
struct TinyBlock: Sendable {
    let convs: [Conv2D]

    init(_ w: WeightReader, channels c: Int) throws {
        convs = try [0, 2, 4].map { try w.conv("conv.\($0)", in: c, out: c, kernel: 3, padding: 1) }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convs[0](x)
        reluInPlace(&h)
        h = convs[1](h)
        reluInPlace(&h)
        h = convs[2](h)
        // fuse(conv(x) + skip(x)): the residual added and rectified in one pass.
        let d = h.unsafePointer, s = x.unsafePointer
        parallelFor(h.count, grain: 1 << 14) { r in for i in r { d[i] = max(d[i] + s[i], 0) } }
        return h
    }
}

/// `relu` over `x` in place.
func reluInPlace(_ x: inout Tensor) {
    let d = x.unsafePointer
    parallelFor(x.count, grain: 1 << 14) { r in for i in r { d[i] = max(d[i], 0) } }
}

/// diffusers' `AutoencoderTiny` as the SDXL pipelines use it (madebyollin/taesdxl): a plain
/// convolutional encoder straight to latents (no distribution: `retrieve_latents` takes its
/// `latents`, drawing nothing) and a decoder from `tanh(x / 3) * 3`. Images in [-1, 1] and
/// latents are channels-last; the weights are `encoder.layers.N` / `decoder.layers.N` in
/// `nn.Sequential` numbering (activations and upsamplers count).
public struct AutoencoderTiny: Sendable {
    public let config: TinyVAEConfig
    /// Encoder stages: the stage's first convolution (stride 2 after the first) and its blocks.
    let encoderStages: [(conv: Conv2D, blocks: [TinyBlock])]
    let encoderOut: Conv2D
    let decoderIn: Conv2D
    /// Decoder stages: blocks, then (all but the last) nearest 2x upsampling into a convolution.
    let decoderStages: [(blocks: [TinyBlock], conv: Conv2D)]

    public init(config: TinyVAEConfig, weights w: WeightReader) throws {
        self.config = config
        let e = w.scoped("encoder.layers"), ec = config.encoderChannels
        var index = 0
        var stages: [(conv: Conv2D, blocks: [TinyBlock])] = []
        for (i, count) in config.encoderBlocks.enumerated() {
            let conv = i == 0
                ? try e.conv("\(index)", in: config.inChannels, out: ec, kernel: 3, padding: 1)
                : try e.conv("\(index)", in: ec, out: ec, kernel: 3, stride: 2, padding: 1, bias: false)
            index += 1
            var blocks: [TinyBlock] = []
            for _ in 0..<count {
                blocks.append(try TinyBlock(e.scoped("\(index)"), channels: ec))
                index += 1
            }
            stages.append((conv, blocks))
        }
        encoderStages = stages
        encoderOut = try e.conv("\(index)", in: ec, out: config.latentChannels, kernel: 3, padding: 1)

        let d = w.scoped("decoder.layers"), dc = config.decoderChannels
        decoderIn = try d.conv("0", in: config.latentChannels, out: dc, kernel: 3, padding: 1)
        index = 2  // 1 is the activation
        var ups: [(blocks: [TinyBlock], conv: Conv2D)] = []
        for (i, count) in config.decoderBlocks.enumerated() {
            let last = i == config.decoderBlocks.count - 1
            var blocks: [TinyBlock] = []
            for _ in 0..<count {
                blocks.append(try TinyBlock(d.scoped("\(index)"), channels: dc))
                index += 1
            }
            if !last { index += 1 }  // nn.Upsample
            let conv = try d.conv("\(index)", in: dc, out: last ? config.outChannels : dc, kernel: 3, padding: 1, bias: last)
            index += 1
            ups.append((blocks, conv))
        }
        decoderStages = ups
    }

    /// The encoder's latents of channels-last images `[batch, H, W, 3]` in [-1, 1] (diffusers'
    /// `encode(x).latents`, before the pipeline's scaling factor).
    public func encode(_ image: Tensor) -> Tensor {
        // TAESD works on [0, 1] images.
        var h = Tensor(uninitialized: image.shape)
        let s = image.unsafePointer, d = h.unsafePointer
        parallelFor(h.count, grain: 1 << 14) { r in for i in r { d[i] = (s[i] + 1) / 2 } }
        for stage in encoderStages {
            h = stage.conv(h)
            for block in stage.blocks { h = block(h) }
        }
        return encoderOut(h)
    }

    /// Decodes channels-last latents `[batch, h, w, latent]` (already divided by the scaling
    /// factor) to images `[batch, 8h, 8w, 3]`, roughly in [-1, 1].
    public func decode(_ latents: Tensor) -> Tensor {
        var h = Tensor(uninitialized: latents.shape)
        let s = latents.unsafePointer, d = h.unsafePointer
        parallelFor(h.count, grain: 1 << 14) { r in for i in r { d[i] = tanhf(s[i] / 3) * 3 } }
        h = decoderIn(h)
        reluInPlace(&h)
        for (i, stage) in decoderStages.enumerated() {
            for block in stage.blocks { h = block(h) }
            h = i == decoderStages.count - 1 ? stage.conv(h) : stage.conv.afterNearest2x(h)
        }
        let o = h.unsafePointer
        parallelFor(h.count, grain: 1 << 14) { r in for i in r { o[i] = o[i] * 2 - 1 } }
        return h
    }
}
