import CPNGShim
import Foundation

/// PNG pixels as PIL's `Image.open(path).convert("RGB")` gives them, through libpng's full API
/// with no transformations (so gAMA, cHRM, sRGB and iCCP are ignored, as PIL ignores them):
/// - gray 1/2/4/8-bit: scaled to 0...255 (x255, x85, x17, x1) and repeated in R, G and B;
/// - gray 16-bit (PIL mode "I;16"): values above 255 become 255, others are kept (PIL's
///   `I16_RGB` clips; it does not take the high byte);
/// - RGB, RGBA and gray+alpha 16-bit: the high byte of each sample (PIL's ";16B" raw modes);
/// - palette: the PLTE entry, black for an index past the end of PLTE;
/// - alpha and tRNS dropped, not composited.
enum PNGDecoder {
    static func decode(_ data: Data, name: String, limits: ImageLimits) throws -> RGBImage {
        try data.withUnsafeBytes { raw -> RGBImage in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw ImagingError.corrupt(path: name, reason: "empty file")
            }
            var info = kiln_png_info()
            var message = [CChar](repeating: 0, count: 256)
            guard let decoder = kiln_png_open(base, raw.count, &info, &message, message.count) else {
                throw ImagingError.corrupt(path: name, reason: text(message))
            }
            defer { kiln_png_close(decoder) }
            let (width, height) = (Int(info.width), Int(info.height))
            guard width >= 1, height >= 1 else { throw ImagingError.corrupt(path: name, reason: "declares an empty image") }
            guard limits.allow(width: width, height: height) else {
                throw ImagingError.tooLarge(path: name, width: width, height: height, limits: limits)
            }
            let depth = Int(info.bit_depth), channels = Int(info.channels), colorType = Int(info.color_type)
            guard [1, 2, 4, 8, 16].contains(depth), [0, 2, 3, 4, 6].contains(colorType) else {
                throw ImagingError.unsupported(path: name, reason: "bit depth \(depth), colour type \(colorType)")
            }
            let sampleBytes = depth == 16 ? 2 : 1
            var samples = [UInt8](repeating: 0, count: width * height * channels * sampleBytes)
            let status = samples.withUnsafeMutableBufferPointer {
                kiln_png_decode(decoder, $0.baseAddress, $0.count, &message, message.count)
            }
            guard status == 0 else { throw ImagingError.corrupt(path: name, reason: text(message)) }
            let palette = withUnsafeBytes(of: info.palette) { Array($0.prefix(Int(info.palette_count) * 3)) }
            return RGBImage(width: width, height: height,
                            pixels: toRGB(samples, count: width * height, colorType: colorType, depth: depth, palette: palette))
        }
    }

    /// PIL's unpacking into its image mode followed by its `convert("RGB")`.
    static func toRGB(_ samples: [UInt8], count: Int, colorType: Int, depth: Int, palette: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 3)
        samples.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                func gray(_ i: Int, _ v: UInt8) { o[3 * i] = v; o[3 * i + 1] = v; o[3 * i + 2] = v }
                switch (colorType, depth) {
                case (0, 16):
                    for i in 0..<count { gray(i, s[2 * i] == 0 ? s[2 * i + 1] : 255) }
                case (0, _):
                    let scale: UInt8 = depth == 1 ? 255 : depth == 2 ? 85 : depth == 4 ? 17 : 1
                    for i in 0..<count { gray(i, s[i] &* scale) }
                case (2, 8):
                    for i in 0..<(3 * count) { o[i] = s[i] }
                case (2, _):
                    for i in 0..<(3 * count) { o[i] = s[2 * i] }
                case (3, _):
                    let entries = palette.count / 3
                    for i in 0..<count where Int(s[i]) < entries {
                        let p = 3 * Int(s[i])
                        o[3 * i] = palette[p]; o[3 * i + 1] = palette[p + 1]; o[3 * i + 2] = palette[p + 2]
                    }
                case (4, 8):
                    for i in 0..<count { gray(i, s[2 * i]) }
                case (4, _):
                    for i in 0..<count { gray(i, s[4 * i]) }
                case (6, 8):
                    for i in 0..<count { o[3 * i] = s[4 * i]; o[3 * i + 1] = s[4 * i + 1]; o[3 * i + 2] = s[4 * i + 2] }
                default:  // (6, 16)
                    for i in 0..<count { o[3 * i] = s[8 * i]; o[3 * i + 1] = s[8 * i + 2]; o[3 * i + 2] = s[8 * i + 4] }
                }
            }
        }
        return out
    }

    static func text(_ message: [CChar]) -> String {
        let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "unreadable" : String(decoding: bytes, as: UTF8.self)
    }
}
