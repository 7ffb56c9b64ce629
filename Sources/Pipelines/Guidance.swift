import Foundation
import Numerics

/// Classifier-free guidance on a `[2n, ...]` UNet output ordered [negatives, positives]:
/// `uncond + g * (text - uncond)`, then diffusers' `rescale_noise_cfg` when `rescale > 0`
/// (standard deviations per image over all other axes, unbiased, as `torch.std`).
public func applyGuidance(_ prediction: Tensor, scale: Float, rescale: Float) -> Tensor {
    let n = prediction.shape[0] / 2
    let per = prediction.count / prediction.shape[0]
    let out = Tensor(uninitialized: [n] + prediction.shape.dropFirst())
    let p = prediction.unsafePointer, o = out.unsafePointer
    let half = n * per
    for i in 0..<half { let u = p[i], t = p[half + i]; o[i] = u + scale * (t - u) }
    guard rescale > 0 else { return out }
    func std(_ x: UnsafeMutablePointer<Float>) -> Double {
        var mean = 0.0
        for i in 0..<per { mean += Double(x[i]) }
        mean /= Double(per)
        var sq = 0.0
        for i in 0..<per { let d = Double(x[i]) - mean; sq += d * d }
        return (sq / Double(max(per - 1, 1))).squareRoot()
    }
    for b in 0..<n {
        let text = p + half + b * per, cfg = o + b * per
        let ratio = Float(std(text)) / Float(std(cfg))
        for i in 0..<per {
            let rescaled = cfg[i] * ratio
            cfg[i] = rescale * rescaled + (1 - rescale) * cfg[i]
        }
    }
    return out
}

/// diffusers' `get_guidance_scale_embedding(w, embedding_dim=dim)` for `count` rows of the same
/// `w` (the pipelines pass `guidance_scale - 1`): `w * 1000` times `exp(-i * log(10000) / (dim/2 - 1))`,
/// sines then cosines, a zero column when `dim` is odd; in float32 as torch computes it. The
/// `timestep_cond` of UNets with `time_cond_proj_dim` (LCM-SDXL).
public func guidanceScaleEmbedding(_ w: Float, dim: Int, count: Int) -> Tensor {
    let half = dim / 2
    let step = logf(10000) / Float(half - 1)
    let out = Tensor(zeros: [count, dim])
    let o = out.unsafePointer
    let scaled = w * 1000
    for i in 0..<half {
        let frequency = Float(exp(Double(Float(i) * -step)))
        let argument = scaled * frequency
        let (s, c) = (sinf(argument), cosf(argument))
        for row in 0..<count {
            o[row * dim + i] = s
            o[row * dim + half + i] = c
        }
    }
    return out
}
