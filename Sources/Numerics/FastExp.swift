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
@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
    var m = -Float.infinity
    for j in 0..<count { m = max(m, row[j]) }
    var partial: (Float, Float, Float, Float, Float, Float, Float, Float,
                  Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var sum: Float = 0
    withUnsafeMutableBytes(of: &partial) { raw in
        let s = raw.baseAddress!.assumingMemoryBound(to: Float.self)
        var j = 0
        while j + 16 <= count {
            for k in 0..<16 { let e = fastExp(row[j + k] - m); row[j + k] = e; s[k] += e }
            j += 16
        }
        for k in 0..<16 { sum += s[k] }
        while j < count { let e = fastExp(row[j] - m); row[j] = e; sum += e; j += 1 }
    }
    let inv = 1 / sum
    for j in 0..<count { row[j] *= inv }
}
