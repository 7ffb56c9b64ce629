import CKilnSHA
import Foundation

/// SHA-256 (FIPS 180-4) of bytes, as lowercase hex.
public enum SHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// Whether this CPU compresses blocks with its SHA extensions (`kiln_sha256_blocks_ni`, about
    /// 15x the portable loop: a 5 GB UNet in seconds rather than a minute).
    public static let hasHardwareSupport = kiln_cpu_has_sha() != 0

    /// Hashes `data` in place: whole 64-byte blocks are read straight from its bytes (no copy of
    /// a LoRA file's hundreds of megabytes), and only the padded tail is built apart. The block
    /// loop runs over raw pointers, so it costs the same in checked and unchecked builds.
    public static func hex(_ data: Data) -> String { hex(data, hardware: hasHardwareSupport) }

    /// `hex` with the SHA extensions or the portable loop (tests compare the two).
    static func hex(_ data: Data, hardware: Bool) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        let whole = data.count / 64 * 64
        // The tail: the bytes after the last whole block, 0x80, zeros, and the bit length.
        var tail = [UInt8](data.suffix(data.count - whole))
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        let bitLength = UInt64(data.count) &* 8
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        h.withUnsafeMutableBufferPointer { state in
            k.withUnsafeBufferPointer { k in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                    /// The first `count` bytes (a multiple of 64), block by block.
                    func blocks(_ bytes: UnsafeRawBufferPointer, _ count: Int) {
                        if hardware, let stateBase = state.baseAddress, let base = bytes.baseAddress {
                            kiln_sha256_blocks_ni(stateBase, base.assumingMemoryBound(to: UInt8.self), count / 64)
                            return
                        }
                        for offset in stride(from: 0, to: count, by: 64) {
                            compress(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 64]), state, k, w)
                        }
                    }
                    data.withUnsafeBytes { blocks($0, whole) }
                    tail.withUnsafeBytes { blocks($0, $0.count) }
                }
            }
        }
        return h.map { String(format: "%08x", $0) }.joined()
    }

    /// One block of FIPS 180-4's compression function into `state`; `w` is the message schedule.
    @inline(__always)
    private static func compress(_ block: UnsafeRawBufferPointer, _ state: UnsafeMutableBufferPointer<UInt32>,
                                 _ k: UnsafeBufferPointer<UInt32>, _ w: UnsafeMutableBufferPointer<UInt32>) {
        guard let p = block.baseAddress, let s = state.baseAddress, let kp = k.baseAddress, let wp = w.baseAddress else { return }
        for i in 0..<16 { wp[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        for i in 16..<64 {
            let s0 = wp[i - 15].rotated(7) ^ wp[i - 15].rotated(18) ^ (wp[i - 15] >> 3)
            let s1 = wp[i - 2].rotated(17) ^ wp[i - 2].rotated(19) ^ (wp[i - 2] >> 10)
            wp[i] = wp[i - 16] &+ s0 &+ wp[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        for i in 0..<64 {
            let t1 = hh &+ (e.rotated(6) ^ e.rotated(11) ^ e.rotated(25)) &+ ((e & f) ^ (~e & g)) &+ kp[i] &+ wp[i]
            let t2 = (a.rotated(2) ^ a.rotated(13) ^ a.rotated(22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        s[0] = s[0] &+ a; s[1] = s[1] &+ b; s[2] = s[2] &+ c; s[3] = s[3] &+ d
        s[4] = s[4] &+ e; s[5] = s[5] &+ f; s[6] = s[6] &+ g; s[7] = s[7] &+ hh
    }
}

extension UInt32 {
    fileprivate func rotated(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}
