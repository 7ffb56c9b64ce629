import CJPEGShim
import Foundation

/// JPEG pixels as PIL's `Image.open(path).convert("RGB")` gives them, through libjpeg-turbo
/// with PIL's decoder settings (JDCT_ISLOW, fancy upsampling, libjpeg's own colour conversion):
/// - 3 components (YCbCr or RGB): decoded straight to RGB;
/// - 1 component (PIL mode "L"): the gray value repeated in R, G and B;
/// - 4 components (PIL mode "CMYK", raw mode "CMYK;I": Adobe's inverted convention, YCCK
///   converted by libjpeg): inverted, then PIL's `cmyk2rgb`, `255 - k - (c * (255 - k)) / 255`
///   per channel with its rounding division by 255.
/// Only 8-bit samples are read, as PIL; a file that ends before its last scanline is refused.
enum JPEGDecoder {
    static func decode(_ data: Data, name: String, limits: ImageLimits) throws -> RGBImage {
        try data.withUnsafeBytes { raw -> RGBImage in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw ImagingError.corrupt(path: name, format: .jpeg, reason: "empty file")
            }
            var info = kiln_jpeg_info()
            var message = [CChar](repeating: 0, count: 256)
            guard let decoder = kiln_jpeg_open(base, raw.count, &info, &message, message.count) else {
                throw ImagingError.corrupt(path: name, format: .jpeg, reason: PNGDecoder.text(message))
            }
            defer { kiln_jpeg_close(decoder) }
            let (width, height) = (Int(info.width), Int(info.height))
            guard width >= 1, height >= 1 else {
                throw ImagingError.corrupt(path: name, format: .jpeg, reason: "declares an empty image")
            }
            guard limits.allow(width: width, height: height) else {
                throw ImagingError.tooLarge(path: name, width: width, height: height, limits: limits)
            }
            let components = Int(info.components)
            guard info.precision == 8, [1, 3, 4].contains(components) else {
                throw ImagingError.unsupported(path: name, format: .jpeg,
                                               reason: "\(info.precision)-bit samples, \(components) components")
            }
            let count = width * height
            var samples = [UInt8](repeating: 0, count: count * components)
            let status = samples.withUnsafeMutableBufferPointer {
                kiln_jpeg_decode(decoder, $0.baseAddress, $0.count, &message, message.count)
            }
            guard status == 0 else {
                throw ImagingError.corrupt(path: name, format: .jpeg, reason: PNGDecoder.text(message))
            }
            switch components {
            case 3:
                return RGBImage(width: width, height: height, pixels: samples)
            case 1:
                return GrayImage(width: width, height: height, pixels: samples).rgb
            default:
                return RGBImage(width: width, height: height, pixels: cmykToRGB(samples, count: count))
            }
        }
    }

    /// PIL's "CMYK;I" unpacking (bitwise not) followed by its `cmyk2rgb`.
    static func cmykToRGB(_ samples: [UInt8], count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 3)
        samples.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<count {
                    let nk = 255 - Int(~s[4 * i + 3])
                    for c in 0..<3 {
                        let t = Int(~s[4 * i + c]) * nk + 128
                        let v = nk - (((t >> 8) + t) >> 8)
                        o[3 * i + c] = UInt8(min(max(v, 0), 255))
                    }
                }
            }
        }
        return out
    }
}
