/// A single-precision exp (Cephes `expf` range reduction and polynomial), within about 2 ulp of
/// `expf`, written as plain arithmetic so loops over it vectorise (rounding by adding 1.5 * 2^23,
/// the power of two built from the same bits). Inputs below -87.3 give 0, so masked (-inf)
/// scores vanish. Used where millions of exponentials are taken per layer (softmax).
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let c = min(max(x, -87.33654), 88.72283)
    let shifted = c * 1.44269504088896341 + 12_582_912.0
    let n = shifted - 12_582_912.0
    var r = c - n * 0.693359375
    r = r - n * -2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * (r * r) + r + 1
    let scale = Float(bitPattern: (shifted.bitPattern &+ 127) &<< 23)
    return x < -87.33654 ? 0 : y * scale
}

/// Softmax of one row in place. The sum is kept in 16 interleaved partial sums combined in a
/// fixed order, which lets the loop vectorise and keeps results deterministic.
/// With `scale` (> 0) it is the softmax of `scale * row` (exact for 1: `(x - m) * 1 == x - m`).
@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
    // The row's largest value, 16 lanes at a time (a scalar max loop was 2/3 of the softmax).
    var lanes = SIMD16<Float>(repeating: -.infinity)
    var j0 = 0
    while j0 + 16 <= count {
        let v = UnsafeRawPointer(row + j0).loadUnaligned(as: SIMD16<Float>.self)
        lanes.replace(with: v, where: v .> lanes)
        j0 += 16
    }
    var m = -Float.infinity
    for k in 0..<16 where lanes[k] > m { m = lanes[k] }
    while j0 < count { m = max(m, row[j0]); j0 += 1 }
    var partial: (Float, Float, Float, Float, Float, Float, Float, Float,
                  Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var sum: Float = 0
    withUnsafeMutableBytes(of: &partial) { raw in
        let s = raw.baseAddress!.assumingMemoryBound(to: Float.self)
        var j = 0
        while j + 16 <= count {
            for k in 0..<16 { let e = fastExp((row[j + k] - m) * scale); row[j + k] = e; s[k] += e }
            j += 16
        }
        for k in 0..<16 { sum += s[k] }
        while j < count { let e = fastExp((row[j] - m) * scale); row[j] = e; sum += e; j += 1 }
    }
    let inv = 1 / sum
    for j in 0..<count { row[j] *= inv }
}

/// A single-precision erf that vectorises: Abramowitz and Stegun's 7.1.26,
/// `1 - (a1 t + ... + a5 t^5) e^(-x^2)` with `t = 1 / (1 + p |x|)`, odd in x; within 5e-7 of
/// `erff` everywhere, and GELU through it within 4e-7 of |x| of GELU in double (both tested).
/// libm's `erff` was 4% of a UNet step.
@inline(__always)
public func fastErf(_ x: Float) -> Float {
    let a = min(abs(x), 9)
    let t = 1 / (1 + 0.3275911 * a)
    var p: Float = 1.061405429
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let y = 1 - p * t * fastExp(-a * a)
    return x < 0 ? -y : y
}
