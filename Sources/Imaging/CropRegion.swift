/// A rectangle as PIL writes boxes: left `x1`, top `y1`, right `x2`, bottom `y2`, the right and
/// bottom edges exclusive, so it covers `x2 - x1` by `y2 - y1` pixels. The region diffusers'
/// inpainting pipelines crop to with `padding_mask_crop` (`crops_coords`), and the boxes of PIL's
/// `Image.crop` and `Image.resize(box=)`.
public struct CropRegion: Sendable, Hashable, CustomStringConvertible {
    public var x1: Int
    public var y1: Int
    public var x2: Int
    public var y2: Int

    public init(x1: Int, y1: Int, x2: Int, y2: Int) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    public var width: Int { x2 - x1 }
    public var height: Int { y2 - y1 }

    /// As Python prints the tuple: `(x1, y1, x2, y2)`.
    public var description: String { "(\(x1), \(y1), \(x2), \(y2))" }
}

extension CropRegion {
    /// diffusers' `VaeImageProcessor.get_crop_region(mask_image, width, height, pad)` for a mask
    /// as `load_image` gives it (RGB): the mask is converted to "L" (PIL's luma), see
    /// `init(mask: GrayImage, ...)`.
    public init(mask: RGBImage, width: Int, height: Int, pad: Int = 0) throws {
        try self.init(mask: GrayImage(mask), width: width, height: height, pad: pad)
    }

    /// diffusers' `VaeImageProcessor.get_crop_region(mask_image, width, height, pad)`, integer
    /// for integer and float for float: the bounding box of the mask's non-zero pixels, grown by
    /// `pad` on each side (clipped to the mask), then grown along one axis (centred, shifted back
    /// inside, clipped) towards the aspect ratio of the `width` x `height` processing size. The
    /// region always lies within the mask when it is returned.
    ///
    /// diffusers goes on only with a region of some area; where it fails this throws instead:
    /// `blackMask` when the mask has no non-zero pixel and the pad is too small to make up a
    /// region (diffusers divides by zero, or PIL's `crop` refuses the box or crops to nothing;
    /// with a pad of at least half the mask's size diffusers does find a region, and so does
    /// this), `emptyRegion` for a region of no area otherwise (only a negative pad makes one),
    /// `invalidSize` for a processing size below 1. Pads beyond +-2^40 count as +-2^40.
    public init(mask: GrayImage, width: Int, height: Int, pad: Int = 0) throws {
        guard width >= 1, height >= 1 else { throw ImageGeometryError.invalidSize(width: width, height: height) }
        let w = mask.width, h = mask.height
        let pad = min(max(pad, -(1 << 40)), 1 << 40)
        let bounds = Self.nonZeroBounds(mask)
        // 1. The number of all-zero columns on the left and right, all-zero rows on top and bottom.
        let cropLeft = bounds.map { $0.minX } ?? w, cropRight = bounds.map { w - 1 - $0.maxX } ?? w
        let cropTop = bounds.map { $0.minY } ?? h, cropBottom = bounds.map { h - 1 - $0.maxY } ?? h
        // 2. Padding.
        var x1 = max(cropLeft - pad, 0), y1 = max(cropTop - pad, 0)
        var x2 = min(w - cropRight + pad, w), y2 = min(h - cropBottom + pad, h)
        func failure(_ region: CropRegion?) -> ImageGeometryError {
            if bounds == nil { return .blackMask(width: width, height: height, pad: pad, region: region) }
            return .emptyRegion(region ?? CropRegion(x1: x1, y1: y1, x2: x2, y2: y2))
        }
        // 3. Towards the processing aspect ratio, along one axis.
        guard y2 != y1 else { throw failure(nil) }  // diffusers: ZeroDivisionError
        let ratioCropRegion = Double(x2 - x1) / Double(y2 - y1)
        let ratioProcessing = Double(width) / Double(height)
        if ratioCropRegion > ratioProcessing {
            guard let diff = Self.truncated(Double(x2 - x1) / ratioProcessing - Double(y2 - y1)) else { throw failure(nil) }
            y1 -= Self.floorHalf(diff)
            y2 += diff - Self.floorHalf(diff)
            if y2 >= h {
                let d = y2 - h
                y2 -= d; y1 -= d
            }
            if y1 < 0 { y2 -= y1; y1 = 0 }
            if y2 >= h { y2 = h }
        } else {
            guard let diff = Self.truncated(Double(y2 - y1) * ratioProcessing - Double(x2 - x1)) else { throw failure(nil) }
            x1 -= Self.floorHalf(diff)
            x2 += diff - Self.floorHalf(diff)
            if x2 >= w {
                let d = x2 - w
                x2 -= d; x1 -= d
            }
            if x1 < 0 { x2 -= x1; x1 = 0 }
            if x2 >= w { x2 = w }
        }
        let region = CropRegion(x1: x1, y1: y1, x2: x2, y2: y2)
        guard x1 < x2, y1 < y2 else { throw failure(region) }
        self = region
    }

    /// Python's `int(value)` (towards zero); nil where an `Int` cannot hold it.
    static func truncated(_ value: Double) -> Int? {
        value.magnitude < 9.0e18 ? Int(value) : nil
    }

    /// Python's `value // 2` (rounding down, also for negative values).
    static func floorHalf(_ value: Int) -> Int { value >> 1 }

    /// The smallest and largest column and row holding a non-zero pixel; nil for a black mask.
    static func nonZeroBounds(_ mask: GrayImage) -> (minX: Int, maxX: Int, minY: Int, maxY: Int)? {
        let w = mask.width, h = mask.height
        var minX = w, maxX = -1, minY = h, maxY = -1
        mask.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                let row = y * w
                var first = -1
                for x in 0..<w where p[row + x] != 0 { first = x; break }
                guard first >= 0 else { continue }
                var last = first
                for x in stride(from: w - 1, to: first, by: -1) where p[row + x] != 0 { last = x; break }
                minX = min(minX, first); maxX = max(maxX, last)
                if minY == h { minY = y }
                maxY = y
            }
        }
        return maxX < 0 ? nil : (minX, maxX, minY, maxY)
    }
}
