import ModelFiles
import Numerics

/// One resolution level on the way down: resnets (each optionally followed by a transformer)
/// and a stride-2 conv downsampler except on the last level.
struct DownLevel: Sendable {
    let resnets: [ResnetBlock]
    let transformers: [Transformer2D]
    let downsampler: Conv2D?

    /// Runs the level and appends every intermediate output to `skips`.
    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor, skips: inout [Tensor]) -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            h = resnet(h, activatedTime: time)
            if !transformers.isEmpty { h = transformers[i](h, context: context) }
            skips.append(h)
        }
        if let down = downsampler {
            h = down(h)
            skips.append(h)
        }
        return h
    }
}

/// One resolution level on the way up: resnets fed with the matching skip connections
/// (concatenated on channels), optional transformers, and a nearest-2x + conv upsampler.
struct UpLevel: Sendable {
    let resnets: [ResnetBlock]
    let transformers: [Transformer2D]
    let upsampler: Conv2D?

    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor, skips: inout [Tensor],
                        upsampleTo size: (Int, Int)?) -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            let skip = skips.removeLast()
            h = resnet(concatenateLastAxis([h, skip]), activatedTime: time)
            if !transformers.isEmpty { h = transformers[i](h, context: context) }
        }
        if let up = upsampler {
            let (th, tw) = size ?? (2 * h.shape[1], 2 * h.shape[2])
            h = up(upsampleNearest(h, height: th, width: tw))
        }
        return h
    }
}

/// `UNetMidBlock2DCrossAttn`: resnet, transformer, resnet; or a ControlNet's `UNetMidBlock2D`
/// (`num_layers=0`, no attention): the first resnet alone.
struct MidLevel: Sendable {
    let first: ResnetBlock
    let attention: (transformer: Transformer2D, second: ResnetBlock)?

    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor) -> Tensor {
        let h = first(x, activatedTime: time)
        guard let attention else { return h }
        return attention.second(attention.transformer(h, context: context), activatedTime: time)
    }
}
