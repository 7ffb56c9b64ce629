import CPNG
import CZlib
import Foundation

/// PNG files: written through libpng's simplified API (which reports errors instead of jumping),
/// read through `PNGDecoder`, with tEXt chunks written and read directly at the chunk level.
public enum PNGFile {
    /// PNG bytes of `image` (8-bit RGB) with `text` as tEXt chunks after IHDR, in the given order
    /// (iTXt for values that Latin-1 cannot hold).
    public static func encode(_ image: RGBImage, text: [(key: String, value: String)] = []) throws -> Data {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        var size: Int = 0
        let ok = image.pixels.withUnsafeBufferPointer { px in
            png_image_write_to_memory(&png, nil, &size, 0, px.baseAddress, Int32(image.width * 3), nil)
        }
        guard ok != 0, size > 0 else { throw ImagingError.writeFailed(path: "(memory)", reason: message(png)) }
        var bytes = Data(count: size)
        let written = image.pixels.withUnsafeBufferPointer { px in
            bytes.withUnsafeMutableBytes { out in
                png_image_write_to_memory(&png, out.baseAddress, &size, 0, px.baseAddress, Int32(image.width * 3), nil)
            }
        }
        png_image_free(&png)
        guard written != 0 else { throw ImagingError.writeFailed(path: "(memory)", reason: message(png)) }
        bytes.count = size
        // IHDR is always the first chunk: 8-byte signature + 4 length + 4 type + 13 data + 4 CRC.
        let afterHeader = 8 + 25
        var chunks = Data()
        for (key, value) in text { chunks.append(textChunk(key: key, value: value)) }
        bytes.insert(contentsOf: chunks, at: afterHeader)
        return bytes
    }

    /// Writes atomically: a temporary file in the same folder, then rename, so the path never
    /// holds a half-written image.
    public static func write(_ image: RGBImage, to path: String, text: [(key: String, value: String)] = []) throws {
        try write(encoded: try encode(image, text: text), to: path)
    }

    /// Writes already encoded PNG bytes atomically.
    public static func write(encoded data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temp)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw ImagingError.writeFailed(path: path, reason: writeFailure(error))
        }
        if rename(temp.path, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw ImagingError.writeFailed(path: path, reason: reason)
        }
    }

    /// Why a file write failed, in the system's words ("No space left on device") when Foundation
    /// wraps an errno (its own text, "There isn't enough space", hides which error it was).
    static func writeFailure(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let under = ns.userInfo[NSUnderlyingErrorKey] as? Error, (under as NSError).domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32((under as NSError).code)))
        }
        return ns.localizedDescription
    }

    /// Reads a PNG as 8-bit RGB, converted exactly as PIL's `convert("RGB")` converts it (see
    /// `PNGDecoder`: alpha dropped, not composited; 16-bit samples as PIL reduces them; gAMA
    /// ignored), plus its tEXt chunks. No EXIF orientation is applied: for input images use
    /// `ImageFile.read`.
    public static func read(_ path: String, limits: ImageLimits = .default) throws -> (image: RGBImage, text: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImagingError.cannotOpen(path: path, reason: FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file")
        }
        guard ImageFile.format(of: data) == .png else { throw ImagingError.notPNG(path: path) }
        return (try PNGDecoder.decode(data, name: path, limits: limits), textChunks(data))
    }

    static func message(_ png: png_image) -> String {
        var m = png.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// A tEXt chunk when the value is Latin-1, else an uncompressed iTXt chunk holding it as
    /// UTF-8, as PIL's `PngInfo.add_text` does (the key is always Latin-1).
    static func textChunk(key: String, value: String) -> Data {
        if value.unicodeScalars.allSatisfy({ $0.value < 256 }) {
            return chunk(type: "tEXt", data: latin1(key) + [0] + latin1(value))
        }
        // keyword, 0, compression flag 0, method 0, empty language tag and translated keyword, text.
        return chunk(type: "iTXt", data: latin1(key) + [0, 0, 0, 0, 0] + Array(value.utf8))
    }

    static func latin1(_ s: String) -> [UInt8] {
        s.unicodeScalars.map { $0.value < 256 ? UInt8($0.value) : UInt8(ascii: "?") }
    }

    static func chunk(type: String, data: [UInt8]) -> Data {
        var out = Data()
        let length = UInt32(data.count).bigEndian
        withUnsafeBytes(of: length) { out.append(contentsOf: $0) }
        let body = Array(type.utf8) + data
        out.append(contentsOf: body)
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        withUnsafeBytes(of: crc.bigEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// tEXt chunks (keys and values as Latin-1) and uncompressed iTXt chunks (values as UTF-8)
    /// of a PNG byte stream; compressed iTXt chunks are skipped.
    static func textChunks(_ data: Data) -> [String: String] {
        var out: [String: String] = [:]
        let bytes = [UInt8](data)
        var i = 8
        while i + 12 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            guard length >= 0, i + 12 + length <= bytes.count else { break }
            if type == "tEXt" {
                let body = bytes[(i + 8)..<(i + 8 + length)]
                if let zero = body.firstIndex(of: 0) {
                    let key = String(body[body.startIndex..<zero].map { Character(Unicode.Scalar($0)) })
                    let value = String(body[(zero + 1)...].map { Character(Unicode.Scalar($0)) })
                    out[key] = value
                }
            }
            if type == "iTXt" {
                let body = Array(bytes[(i + 8)..<(i + 8 + length)])
                if let zero = body.firstIndex(of: 0), zero + 2 < body.count, body[zero + 1] == 0,
                   let language = body[(zero + 3)...].firstIndex(of: 0),
                   let translated = body[(language + 1)...].firstIndex(of: 0) {
                    let key = String(body[..<zero].map { Character(Unicode.Scalar($0)) })
                    out[key] = String(decoding: body[(translated + 1)...], as: UTF8.self)
                }
            }
            if type == "IEND" { break }
            i += 12 + length
        }
        return out
    }
}
