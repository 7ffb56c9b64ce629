/// PIL's `Image.transpose` for the seven EXIF orientations other than 1, as
/// `ImageOps.exif_transpose` maps them: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
/// 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90. Any other value leaves the image as is.
enum Transpose {
    /// Pixels of a `width` x `height` image with `channels` bytes per pixel, reoriented; returns
    /// the new width and height with them.
    static func apply(orientation: Int, pixels: [UInt8], width: Int, height: Int, channels: Int) -> (width: Int, height: Int, pixels: [UInt8]) {
        guard (2...8).contains(orientation) else { return (width, height, pixels) }
        let swaps = orientation >= 5
        let (w, h) = swaps ? (height, width) : (width, height)
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    for x in 0..<w {
                        // (sx, sy): the source pixel of output pixel (x, y).
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (width - 1 - x, y)
                        case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                        case 4: (sx, sy) = (x, height - 1 - y)
                        case 5: (sx, sy) = (y, x)
                        case 6: (sx, sy) = (y, height - 1 - x)
                        case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                        default: (sx, sy) = (width - 1 - y, x)
                        }
                        let from = (sy * width + sx) * channels, to = (y * w + x) * channels
                        for c in 0..<channels { o[to + c] = s[from + c] }
                    }
                }
            }
        }
        return (w, h, out)
    }
}
