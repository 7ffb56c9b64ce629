import Foundation

/// Problems reading or writing image files; each message names the file.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notPNG(path: String)
    case corrupt(path: String, reason: String)
    case unsupported(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot be opened (\(reason))"
        case let .notPNG(path): return "\(path): not a PNG file"
        case let .corrupt(path, reason): return "\(path): corrupt PNG (\(reason))"
        case let .unsupported(path, reason): return "\(path): unsupported PNG (\(reason))"
        case let .writeFailed(path, reason): return "\(path): cannot be written (\(reason)); check the folder exists, is writable and the disk is not full"
        }
    }
}
