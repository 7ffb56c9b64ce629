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
