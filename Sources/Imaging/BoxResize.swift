extension RGBImage {
    /// PIL's `image.resize((width, height), resample=filter, box=box)` of an RGB image, bit for
    /// bit: only the part of the image in `box` is resampled, and a box of no width or height is
    /// allowed (every output pixel along that axis then blends the few pixels at the box's
    /// edge), as diffusers' `_resize_and_fill` makes its edge strips (with `.bicubic`, PIL's
    /// default, as it passes no `resample`). A box of the output's size is a plain crop, as in
    /// Pillow. Throws what Pillow's `_resize` raises: `invalidSize` for an output side below 1,
    /// `invalidResizeBox` for a box reaching outside the image or of negative size.
    public func resized(width newWidth: Int, height newHeight: Int, box: CropRegion, filter: ResampleFilter) throws -> RGBImage {
        guard newWidth >= 1, newHeight >= 1 else { throw ImageGeometryError.invalidSize(width: newWidth, height: newHeight) }
        guard box.x1 >= 0, box.y1 >= 0, box.x2 <= width, box.y2 <= height, box.x2 >= box.x1, box.y2 >= box.y1 else {
            throw ImageGeometryError.invalidResizeBox(box, width: width, height: height)
        }
        if box.width == newWidth && box.height == newHeight {
            return try cropped(to: box)
        }
        let source = ResampleBox(x0: Float(box.x1), y0: Float(box.y1), x1: Float(box.x2), y1: Float(box.y2))
        let out = Resampling.resize(pixels, width: width, height: height, channels: 3, newWidth: newWidth, newHeight: newHeight,
                                    filter: filter, box: source)
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}
