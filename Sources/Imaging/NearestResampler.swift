/// Pillow's `Image.resize(size, Image.NEAREST)` (Pillow 13's affine scale in
/// `libImaging/Geometry.c`, `ImagingScaleAffine`): the source column of output column x is
/// `Int(xo)` where `xo` starts at `box.x0 + scale / 2` and grows by
/// `scale = (box.x1 - box.x0) / outWidth` per column, accumulated in double exactly as Pillow
/// does (and the same for rows), the box being the whole image unless one is given; positions
/// outside the source stay black.
enum NearestResampler {
    /// `pixels` (`width` x `height`, `channels` bytes per pixel), or the part of them in `box`,
    /// resized to `newWidth` x `newHeight` (both at least 1).
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, newWidth: Int, newHeight: Int,
                       box: ResampleBox? = nil) -> [UInt8] {
        guard box != nil || newWidth != width || newHeight != height else { return pixels }
        let box = box ?? ResampleBox(x0: 0, y0: 0, x1: Float(width), y1: Float(height))
        let columns = sourcePositions(inSize: width, from: box.x0, to: box.x1, outSize: newWidth)
        let rows = sourcePositions(inSize: height, from: box.y0, to: box.y1, outSize: newHeight)
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
    static func sourcePositions(inSize: Int, from in0: Float, to in1: Float, outSize: Int) -> [Int?] {
        let scale = Double(in1 - in0) / Double(outSize)
        var position = Double(in0) + scale * 0.5
        var out = [Int?](repeating: nil, count: outSize)
        for i in 0..<outSize {
            let index = position < 0.0 ? -1 : Int(position)
            if index >= 0 && index < inSize { out[i] = index }
            position += scale
        }
        return out
    }
}
