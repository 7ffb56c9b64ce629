/// Pillow's `Image.resize(size, Image.NEAREST)` (Pillow 13's affine scale in
/// `libImaging/Geometry.c`, `ImagingScaleAffine`): the source column of output column x is
/// `Int(xo)` where `xo` starts at `scale / 2` and grows by `scale = inWidth / outWidth` per column,
/// accumulated in double exactly as Pillow does (and the same for rows); positions outside the
/// source stay black.
enum NearestResampler {
    /// `pixels` (`width` x `height`, `channels` bytes per pixel) resized to `newWidth` x
    /// `newHeight` (both at least 1).
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, newWidth: Int, newHeight: Int) -> [UInt8] {
        guard newWidth != width || newHeight != height else { return pixels }
        let columns = sourcePositions(inSize: width, outSize: newWidth)
        let rows = sourcePositions(inSize: height, outSize: newHeight)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<newHeight {
                    guard let sy = rows[y] else { continue }
                    let line = sy * width * channels, outLine = y * newWidth * channels
                    for x in 0..<newWidth {
                        guard let sx = columns[x] else { continue }
                        for c in 0..<channels { o[outLine + x * channels + c] = s[line + sx * channels + c] }
                    }
                }
            }
        }
        return out
    }

    /// The source index of each output index (nil outside the source), Pillow's pretabulation.
    static func sourcePositions(inSize: Int, outSize: Int) -> [Int?] {
        let scale = Double(inSize) / Double(outSize)
        var position = 0.0 + scale * 0.5
        var out = [Int?](repeating: nil, count: outSize)
        for i in 0..<outSize {
            let index = position < 0.0 ? -1 : Int(position)
            if index >= 0 && index < inSize { out[i] = index }
            position += scale
        }
        return out
    }
}
