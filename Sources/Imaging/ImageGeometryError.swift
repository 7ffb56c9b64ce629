/// What can go wrong cropping, resizing and overlaying images for diffusers' `padding_mask_crop`:
/// each case is a call diffusers or PIL would also refuse (a `ZeroDivisionError` or `ValueError`
/// there), reported here as one line that says what to change.
public enum ImageGeometryError: Error, CustomStringConvertible, Equatable {
    /// The mask is black everywhere (after PIL's `convert("L")`), and diffusers'
    /// `get_crop_region` then finds no usable region: it divides by zero, or returns a box PIL's
    /// `crop` refuses or that crops to nothing. `region` is what it returned, nil when it divided
    /// by zero.
    case blackMask(width: Int, height: Int, pad: Int, region: CropRegion?)
    /// A crop region with no area (right <= left or bottom <= top), e.g. from a negative pad.
    case emptyRegion(CropRegion)
    /// A processing or target size below 1 pixel (or over `ImageLimits.default`).
    case invalidSize(width: Int, height: Int)
    /// A crop box PIL's `Image.crop` refuses (right < left or bottom < top), or one larger than
    /// `ImageLimits.default` allows.
    case invalidCrop(CropRegion)
    /// A resize box PIL's `Image.resize(box=)` refuses: outside the image or of negative size.
    case invalidResizeBox(CropRegion, width: Int, height: Int)
    /// A "fill" or "crop" resize whose aspect-preserving intermediate size has a side of 0
    /// pixels (PIL: "height and width must be > 0"), or is over `ImageLimits.default` (where
    /// diffusers would go on to allocate it).
    case unfittable(width: Int, height: Int, toWidth: Int, toHeight: Int, intermediateWidth: Int, intermediateHeight: Int)
    /// `apply_overlay`'s mask and original image differ in size (PIL: "images do not match").
    case sizeMismatch(maskWidth: Int, maskHeight: Int, imageWidth: Int, imageHeight: Int)

    public var description: String {
        switch self {
        case let .blackMask(width, height, pad, region):
            let found = region.map { "region \($0)" } ?? "a division by zero"
            return "mask is black everywhere (nothing to inpaint): padding_mask_crop \(pad) at \(width)x\(height) finds \(found),"
                + " not an area to crop; paint the area to change white, or leave out padding_mask_crop"
        case let .emptyRegion(region):
            return "crop region \(region) has no area; use a padding of 0 or more and a mask with some white in it"
        case let .invalidSize(width, height):
            return "size \(width)x\(height) is invalid: width and height must be at least 1 and at most \(ImageLimits.default.maxSide)"
        case let .invalidCrop(region):
            return "crop box \(region) is invalid: right must not be left of left, bottom not above top, and the crop"
                + " at most \(ImageLimits.default.maxSide) pixels a side and \(ImageLimits.default.maxPixels / 1_000_000) megapixels"
        case let .invalidResizeBox(region, width, height):
            return "resize box \(region) does not lie within the \(width)x\(height) image"
        case let .unfittable(width, height, toWidth, toHeight, intermediateWidth, intermediateHeight):
            return "a \(width)x\(height) image cannot be resized to \(toWidth)x\(toHeight) keeping its aspect ratio: that"
                + " needs an intermediate \(intermediateWidth)x\(intermediateHeight) image (at least 1 pixel and at most"
                + " \(ImageLimits.default.maxSide) a side and \(ImageLimits.default.maxPixels / 1_000_000) megapixels); use a region or size closer in shape"
        case let .sizeMismatch(maskWidth, maskHeight, imageWidth, imageHeight):
            return "mask is \(maskWidth)x\(maskHeight) but the image is \(imageWidth)x\(imageHeight); give a mask of the image's size"
        }
    }
}
