import Foundation

/// The two file formats read as inputs (PIL's PNG and JPEG plugins).
public enum ImageFormat: String, Sendable, Equatable {
    case png = "PNG", jpeg = "JPEG"
}

/// Problems reading or writing image files; each message is one line that names the file and
/// says what to do.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notPNG(path: String)
    /// Neither PNG nor JPEG (by the file's first bytes, not its name).
    case notAnImage(path: String)
    /// The header declares more pixels than `limits` allow; nothing was decoded.
    case tooLarge(path: String, width: Int, height: Int, limits: ImageLimits)
    case corrupt(path: String, format: ImageFormat = .png, reason: String)
    case unsupported(path: String, format: ImageFormat = .png, reason: String)
    case writeFailed(path: String, reason: String)
    case sheetTooLarge(columns: Int, rows: Int, cellSize: Int, limits: ImageLimits)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot be opened (\(reason)); check the path and its permissions"
        case let .notPNG(path):
            return "\(path): not a PNG file; give a PNG image"
        case let .notAnImage(path):
            return "\(path): not a PNG or JPEG file (only PNG and JPEG images are read); convert it to PNG"
        case let .tooLarge(path, width, height, limits):
            let megapixels = String(format: "%.1f", Double(width) * Double(height) / 1e6)
            return "\(path): image is \(width)x\(height) (\(megapixels) megapixels), over the limit of \(limits.maxSide) pixels a side"
                + " and \(limits.maxPixels / 1_000_000) megapixels; downscale it first (or raise ImageLimits)"
        case let .corrupt(path, format, reason):
            return "\(path): corrupt or truncated \(format.rawValue) (\(reason)); re-export the image or copy the complete file again"
        case let .unsupported(path, format, reason):
            return "\(path): unsupported \(format.rawValue) (\(reason)); convert it to an 8-bit RGB PNG"
        case let .writeFailed(path, reason):
            return "\(path): cannot be written (\(reason)); check the folder exists, is writable and the disk is not full"
        case let .sheetTooLarge(columns, rows, cellSize, limits):
            return "contact sheet of \(columns)x\(rows) cells of \(cellSize) pixels would be over the limit of \(limits.maxSide) pixels a side"
                + " and \(limits.maxPixels / 1_000_000) megapixels; use a smaller --cell-size or fewer values on an axis"
        }
    }
}
