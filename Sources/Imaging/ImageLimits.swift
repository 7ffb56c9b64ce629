/// The largest image `ImageFile.read` decodes, checked against the size the file's header
/// declares before any pixel memory is allocated, so a tiny file declaring a huge image (a
/// decompression bomb) is refused at once. PIL's own guard (`Image.MAX_IMAGE_PIXELS`, about 89
/// megapixels, an error at twice that) is a warning only; these limits are stricter and errors.
public struct ImageLimits: Sendable, Equatable {
    /// Largest width and largest height, in pixels.
    public var maxSide: Int
    /// Largest width x height.
    public var maxPixels: Int

    public init(maxSide: Int, maxPixels: Int) {
        self.maxSide = maxSide
        self.maxPixels = maxPixels
    }

    /// 16384 pixels a side and 64 megapixels (64,000,000 pixels).
    public static let `default` = ImageLimits(maxSide: 16384, maxPixels: 64_000_000)

    /// Whether a `width` x `height` image may be decoded (both at least 1).
    public func allow(width: Int, height: Int) -> Bool {
        width >= 1 && height >= 1 && width <= maxSide && height <= maxSide && width * height <= maxPixels
    }
}
