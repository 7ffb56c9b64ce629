import Foundation

/// Sinusoidal embeddings of scalar values (timesteps or micro-conditioning numbers), matching
/// diffusers `get_timestep_embedding` in float32: `[count] -> [count, dim]`.
public func timestepEmbedding(_ values: [Float], dim: Int, flipSinToCos: Bool,
                              downscaleFreqShift: Float, scale: Float = 1,
                              maxPeriod: Float = 10000) -> Tensor {
    let half = dim / 2
    var freqs = [Float](repeating: 0, count: half)
    let logPeriod = -logf(maxPeriod)
    for i in 0..<half {
        let exponent = logPeriod * Float(i) / (Float(half) - downscaleFreqShift)
        freqs[i] = expf(exponent)
    }
    let out = Tensor(zeros: [values.count, dim])
    let o = out.unsafePointer
    for (row, t) in values.enumerated() {
        let base = o + row * dim
        for i in 0..<half {
            let arg = scale * (t * freqs[i])
            let (first, second) = flipSinToCos ? (cosf(arg), sinf(arg)) : (sinf(arg), cosf(arg))
            base[i] = first
            base[half + i] = second
        }
    }
    return out
}
