import Foundation

/// A random source that reproduces torch's CPU generator: `torch.Generator("cpu").manual_seed(s)`
/// followed by `torch.randn(shape, generator=g, dtype=torch.float32)`.
///
/// The engine is MT19937 seeded with the low 32 bits of the seed. `randn` of 16 or more values
/// first fills uniforms (the low 24 bits of one draw each, times 2^-24), then applies Box-Muller to
/// blocks of 16 (element j pairs with j + 8), redrawing the last 16 when the count is not a
/// multiple of 16 (aten/src/ATen/native/cpu/DistributionTemplates.h, `normal_fill`). Fewer than
/// 16 values use torch's scalar double-precision path, which caches every second normal sample.
/// The whole state is a value that can be saved and restored.
public struct TorchGenerator: Sendable, Equatable, Codable {
    static let n = 624, m = 397

    public private(set) var words: [UInt32]
    public private(set) var position: Int
    /// torch's cached second Box-Muller sample of the scalar double path.
    public private(set) var cachedNormal: Double?

    public init(seed: UInt64) {
        var key = [UInt32](repeating: 0, count: TorchGenerator.n)
        key[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<TorchGenerator.n {
            let prev = key[i - 1]
            key[i] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(i)
        }
        words = key
        position = TorchGenerator.n
        cachedNormal = nil
    }

    /// The next tempered 32-bit output of MT19937.
    public mutating func nextUInt32() -> UInt32 {
        if position >= TorchGenerator.n { twist() }
        var y = words[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        let n = TorchGenerator.n, m = TorchGenerator.m
        for i in 0..<n {
            let y = (words[i] & 0x8000_0000) | (words[(i + 1) % n] & 0x7FFF_FFFF)
            var v = words[(i + m) % n] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            words[i] = v
        }
        position = 0
    }

    /// torch's `random64()`: two draws, the first as the high half.
    mutating func nextUInt64() -> UInt64 {
        let high = UInt64(nextUInt32())
        return high << 32 | UInt64(nextUInt32())
    }

    /// A float uniform in [0, 1) from 24 bits of one draw.
    mutating func nextUniformFloat() -> Float {
        Float(nextUInt32() & 0xFF_FFFF) * (1.0 / 16_777_216.0)
    }

    /// A double uniform in [0, 1) from 53 bits of two draws.
    mutating func nextUniformDouble() -> Double {
        Double(nextUInt64() & 0x1F_FFFF_FFFF_FFFF) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// torch's `normal_distribution<double>` (used for tensors of fewer than 16 elements).
    mutating func nextNormalDouble() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = nextUniformDouble(), u2 = nextUniformDouble()
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = r * sin(theta)
        return r * cos(theta)
    }

    private static func boxMuller16(_ p: UnsafeMutablePointer<Float>) {
        let twoPi = Float(2 * Double.pi)
        for j in 0..<8 {
            let u1 = 1 - p[j], u2 = p[j + 8]
            let radius = (-2 * logf(u1)).squareRoot()
            let theta = twoPi * u2
            p[j] = radius * cosf(theta)
            p[j + 8] = radius * sinf(theta)
        }
    }

    /// Fills `count` standard normal float32 values exactly as `torch.randn` draws them.
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard count >= 16 else {
            for i in 0..<count { p[i] = Float(nextNormalDouble()) }
            return
        }
        for i in 0..<count { p[i] = nextUniformFloat() }
        var i = 0
        while i + 16 <= count { TorchGenerator.boxMuller16(p + i); i += 16 }
        if count % 16 != 0 {
            let tail = p + count - 16
            for j in 0..<16 { tail[j] = nextUniformFloat() }
            TorchGenerator.boxMuller16(tail)
        }
    }

    /// `torch.randn(shape)` as a tensor (in torch's element order).
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let t = Tensor(uninitialized: shape)
        fillNormal(t.unsafePointer, count: t.count)
        return t
    }
}
