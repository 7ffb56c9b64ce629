import Foundation

/// Input images (image-to-image sources, inpainting masks) read as diffusers'
/// `load_image(path)` sees them: PIL's `Image.open`, `ImageOps.exif_transpose`, then
/// `convert("RGB")`. PNG and JPEG are recognised by their first bytes (never by the file name);
/// their declared size is checked against `ImageLimits` before any pixel memory is allocated.
/// See `PNGDecoder` and `JPEGDecoder` for how each colour type becomes RGB.
public enum ImageFile {
    /// Reads the PNG or JPEG file at `path`.
    public static func read(_ path: String, limits: ImageLimits = .default) throws -> RGBImage {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ImagingError.cannotOpen(path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw ImagingError.cannotOpen(path: path, reason: "a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImagingError.cannotOpen(path: path, reason: "not readable")
        }
        return try read(data: data, name: path, limits: limits)
    }

    /// Reads PNG or JPEG bytes already in memory (e.g. a database blob); `name` stands for the
    /// file in error messages.
    public static func read(data: Data, name: String, limits: ImageLimits = .default) throws -> RGBImage {
        guard let format = format(of: data) else { throw ImagingError.notAnImage(path: name) }
        let image: RGBImage
        let orientation: Int
        switch format {
        case .png:
            image = try PNGDecoder.decode(data, name: name, limits: limits)
            orientation = ExifOrientation.png([UInt8](data))
        case .jpeg:
            image = try JPEGDecoder.decode(data, name: name, limits: limits)
            orientation = ExifOrientation.jpeg([UInt8](data))
        }
        let turned = Transpose.apply(orientation: orientation, pixels: image.pixels, width: image.width, height: image.height, channels: 3)
        return RGBImage(width: turned.width, height: turned.height, pixels: turned.pixels)
    }

    /// PNG (its 8-byte signature) or JPEG (SOI followed by a marker: FF D8 FF, as PIL checks);
    /// nil for anything else.
    public static func format(of data: Data) -> ImageFormat? {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if data.count >= 8, data.prefix(8).elementsEqual(png) { return .png }
        if data.count >= 3, data.prefix(3).elementsEqual([0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }
}
