import Foundation

/// Group normalisation with torch `nn.GroupNorm` semantics on channels-last input
/// `[batch, ..., channels]`, optionally followed by SiLU in the same pass.
public struct GroupNorm: Sendable {
    public let groups: Int
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor
    public var channels: Int { weight.count }

    public init(groups: Int, epsilon: Float, weight: Tensor, bias: Tensor) {
        precondition(groups > 0 && weight.count % groups == 0 && bias.count == weight.count)
        self.groups = groups; self.epsilon = epsilon; self.weight = weight; self.bias = bias
    }

    /// The chunks of pixels whose sums are taken separately: about 16K values each, at most
    /// `ChunkPartition.limit` chunks.
    static func statisticsPartition(spatial: Int, channels: Int) -> ChunkPartition {
        ChunkPartition(count: spatial, grain: max(1, 16384 / max(channels, 1)))
    }

    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        normalize(x, silu: silu, workers: parallelWorkerCount)
    }

    /// The normalisation on `workers` threads (tests pass their own count).
    func normalize(_ x: Tensor, silu: Bool, workers: Int) -> Tensor {
        let c = channels
        precondition(x.shape.last == c, "GroupNorm expects \(c) channels, got \(x.shape)")
        let n = x.shape[0]
        let spatial = x.count / (n * c)
        let perGroup = c / groups
        let out = Tensor(uninitialized: x.shape)
        let src = x.unsafePointer, dst = out.unsafePointer
        let gamma = weight.unsafePointer, beta = bias.unsafePointer
        // Per-channel partial sums over chunks of pixels fixed by the sizes alone (never by the
        // thread count), combined in chunk order.
        let pixels = GroupNorm.statisticsPartition(spatial: spatial, channels: c)
        let chunks = pixels.chunks
        var partial = [Double](repeating: 0, count: n * chunks * c * 2)
        partial.withUnsafeMutableBufferPointer { part in
            guard let pp = part.baseAddress else { return }
            parallelFor(n * chunks, grain: 1, workers: workers) { r in
                for task in r {
                    let b = task / chunks
                    let sums = pp + task * c * 2
                    for p in pixels.range(task % chunks) {
                        let row = src + (b * spatial + p) * c
                        for ch in 0..<c {
                            let v = Double(row[ch])
                            sums[ch] += v
                            sums[c + ch] += v * v
                        }
                    }
                }
            }
        }
        var scale = [Float](repeating: 0, count: n * c), shift = [Float](repeating: 0, count: n * c)
        let count = Double(spatial * perGroup)
        for b in 0..<n {
            for g in 0..<groups {
                var s = 0.0, s2 = 0.0
                for k in 0..<chunks {
                    let base = (b * chunks + k) * c * 2
                    for ch in (g * perGroup)..<((g + 1) * perGroup) {
                        s += partial[base + ch]; s2 += partial[base + c + ch]
                    }
                }
                let mean = s / count
                let variance = max(0, s2 / count - mean * mean)
                let rstd = 1 / (variance + Double(epsilon)).squareRoot()
                for ch in (g * perGroup)..<((g + 1) * perGroup) {
                    let a = Double(gamma[ch]) * rstd
                    scale[b * c + ch] = Float(a)
                    shift[b * c + ch] = Float(Double(beta[ch]) - mean * a)
                }
            }
        }
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                let scp = sc.baseAddress!, shp = sh.baseAddress!
                parallelFor(n * spatial, grain: max(1, 8192 / c), workers: workers) { r in
                    for row in r {
                        let b = row / spatial
                        let s = src + row * c, d = dst + row * c
                        let a = scp + b * c, o = shp + b * c
                        if silu {
                            for ch in 0..<c { let v = s[ch] * a[ch] + o[ch]; d[ch] = v / (1 + fastExp(-v)) }
                        } else {
                            for ch in 0..<c { d[ch] = s[ch] * a[ch] + o[ch] }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Layer normalisation over the last axis with torch `nn.LayerNorm` semantics.
public struct LayerNorm: Sendable {
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(epsilon: Float, weight: Tensor, bias: Tensor) {
        precondition(weight.count == bias.count)
        self.epsilon = epsilon; self.weight = weight; self.bias = bias
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let d = weight.count
        precondition(x.shape.last == d, "LayerNorm expects last axis \(d), got \(x.shape)")
        let out = Tensor(uninitialized: x.shape)
        let src = x.unsafePointer, dst = out.unsafePointer
        let g = weight.unsafePointer, b = bias.unsafePointer
        let eps = Double(epsilon)
        parallelFor(x.count / d, grain: max(1, 4096 / d)) { r in
            for row in r {
                let s = src + row * d, o = dst + row * d
                var sum = 0.0
                for i in 0..<d { sum += Double(s[i]) }
                let mean = sum / Double(d)
                var sq = 0.0
                for i in 0..<d { let v = Double(s[i]) - mean; sq += v * v }
                let rstd = 1 / (sq / Double(d) + eps).squareRoot()
                for i in 0..<d { o[i] = Float((Double(s[i]) - mean) * rstd) * g[i] + b[i] }
            }
        }
        return out
    }
}
