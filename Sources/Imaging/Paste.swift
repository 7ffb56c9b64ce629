extension RGBImage {
    /// PIL's `self.paste(image, (x, y))` of one RGB image onto another, without a mask: the
    /// pasted image's pixels replace this image's, clipped to this image on every side (`x` and
    /// `y` may be negative).
    mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        let left = max(x, 0), right = min(x + image.width, width)
        let top = max(y, 0), bottom = min(y + image.height, height)
        guard right > left, bottom > top else { return }
        let run = (right - left) * 3, outWidth = width
        image.pixels.withUnsafeBufferPointer { s in
            pixels.withUnsafeMutableBufferPointer { o in
                guard let s = s.baseAddress, let o = o.baseAddress else { return }
                for row in top..<bottom {
                    let from = s + ((row - y) * image.width + (left - x)) * 3
                    (o + (row * outWidth + left) * 3).update(from: from, count: run)
                }
            }
        }
    }

    /// PIL's `Image.new("RGB", (width, height))`: black.
    static func black(width: Int, height: Int) -> RGBImage {
        RGBImage(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
}
