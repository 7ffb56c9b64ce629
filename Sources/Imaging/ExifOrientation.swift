import CZlib
import Foundation

/// The EXIF orientation (1...8) that PIL's `ImageOps.exif_transpose` finds, which diffusers'
/// `load_image` applies before `convert("RGB")`: the Orientation tag (0x0112, an integer type) of
/// the first IFD of the EXIF data, else a `tiff:Orientation` in XMP, else 1.
/// - JPEG: APP1 "Exif" segments before the first scan (later ones appended, as PIL does), XMP
///   from the APP1 "http://ns.adobe.com/xap/1.0/" segment;
/// - PNG: the eXIf chunk (or a tEXt "exif"), else ImageMagick's "Raw profile type exif" text;
///   XMP from a "XML:com.adobe.xmp" text chunk (tEXt, zTXt or iTXt, compressed or not).
/// Unreadable metadata counts as no orientation (PIL would fail to open some such files).
enum ExifOrientation {
    static func jpeg(_ b: [UInt8]) -> Int {
        var exif: [UInt8]? = nil, xmp: [UInt8]? = nil
        var i = 2
        while i + 1 < b.count {
            guard b[i] == 0xFF else { i += 1; continue }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xD9 || marker == 0xDA || i + 3 >= b.count { break }
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2 else { break }
            let segment = Array(b[(i + 4)..<min(b.count, i + 2 + length)])
            if marker == 0xE1 {
                if segment.starts(with: Array("Exif\0\0".utf8)) {
                    if exif == nil { exif = segment } else { exif?.append(contentsOf: segment.dropFirst(6)) }
                } else if segment.starts(with: Array("http://ns.adobe.com/xap/1.0/\0".utf8)) {
                    xmp = Array(segment.dropFirst(29))
                }
            }
            i += 2 + length
        }
        return orientation(exif: exif, xmp: xmp)
    }

    static func png(_ b: [UInt8]) -> Int {
        var exif: [UInt8]? = nil, rawProfile: [UInt8]? = nil, xmp: [UInt8]? = nil
        var i = 8
        while i + 12 <= b.count {
            let length = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 0, i + 12 + length <= b.count else { break }
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(b[(i + 8)..<(i + 8 + length)])
            if type == "IEND" { break }
            if type == "eXIf" { exif = Array("Exif\0\0".utf8) + body }
            if let (key, value) = textChunk(type: type, body: body) {
                switch key {
                case "exif" where type == "tEXt": exif = value
                case "Raw profile type exif": rawProfile = value
                case "XML:com.adobe.xmp": xmp = value
                default: break
                }
            }
            i += 12 + length
        }
        return orientation(exif: exif ?? rawProfile.flatMap(hexProfile), xmp: xmp)
    }

    static func orientation(exif: [UInt8]?, xmp: [UInt8]?) -> Int {
        if let exif, let value = tiffOrientation(exif) { return value }
        if let xmp, let value = xmpOrientation(xmp) { return value }
        return 1
    }

    /// The Orientation entry of IFD0 of TIFF data (after any "Exif\0\0" prefixes); nil when absent.
    static func tiffOrientation(_ data: [UInt8]) -> Int? {
        var d = data[...]
        while d.starts(with: Array("Exif\0\0".utf8)) { d = d.dropFirst(6) }
        let t = Array(d)
        guard t.count >= 8 else { return nil }
        let big: Bool
        switch (t[0], t[1]) {
        case (0x4D, 0x4D): big = true
        case (0x49, 0x49): big = false
        default: return nil
        }
        guard (t[2] == 0x2A && t[3] == 0) || (t[2] == 0 && t[3] == 0x2A) else { return nil }
        func u(_ at: Int, _ n: Int) -> Int? {
            guard at >= 0, at + n <= t.count else { return nil }
            var v = 0
            for k in 0..<n { v |= Int(t[at + (big ? n - 1 - k : k)]) << (8 * k) }
            return v
        }
        guard let ifd = u(4, 4), let entries = u(ifd, 2) else { return nil }
        for e in 0..<entries {
            let at = ifd + 2 + 12 * e
            guard let tag = u(at, 2), let type = u(at + 2, 2), let count = u(at + 4, 4) else { return nil }
            guard tag == 0x0112 else { continue }
            let size: Int
            switch type {
            case 3, 8: size = 2
            case 4, 9: size = 4
            case 6: size = 1
            default: return nil  // BYTE, UNDEFINED, rationals...: PIL's value is then no integer
            }
            guard count >= 1 else { return nil }
            let valueAt = size * count <= 4 ? at + 8 : (u(at + 8, 4) ?? -1)
            guard let raw = u(valueAt, size) else { return nil }
            let signBit = 1 << (8 * size - 1)
            return type == 6 || type == 8 || type == 9 ? (raw & signBit != 0 ? raw - 2 * signBit : raw) : raw
        }
        return nil
    }

    /// The first `tiff:Orientation="N"` or `tiff:Orientation>N` in XMP text (PIL's pattern).
    static func xmpOrientation(_ x: [UInt8]) -> Int? {
        let key = Array("tiff:Orientation".utf8)
        guard x.count > key.count + 1 else { return nil }
        var i = 0
        while i + key.count + 1 < x.count {
            if x[i] == key[0], Array(x[i..<(i + key.count)]) == key {
                let j = i + key.count
                if x[j] == UInt8(ascii: "="), j + 2 < x.count, x[j + 1] == UInt8(ascii: "\""), (48...57).contains(x[j + 2]) {
                    return Int(x[j + 2] - 48)
                }
                if x[j] == UInt8(ascii: ">"), (48...57).contains(x[j + 1]) { return Int(x[j + 1] - 48) }
            }
            i += 1
        }
        return nil
    }

    /// Key and (decompressed) value of a tEXt, zTXt or iTXt chunk.
    static func textChunk(type: String, body: [UInt8]) -> (String, [UInt8])? {
        guard ["tEXt", "zTXt", "iTXt"].contains(type), let zero = body.firstIndex(of: 0) else { return nil }
        let key = String(decoding: body[..<zero], as: UTF8.self)
        let rest = Array(body[(zero + 1)...])
        switch type {
        case "tEXt":
            return (key, rest)
        case "zTXt":
            guard rest.first == 0, let text = inflate(Array(rest.dropFirst())) else { return nil }
            return (key, text)
        default:
            guard rest.count >= 2 else { return nil }
            let (compressed, method) = (rest[0], rest[1])
            let parts = rest.dropFirst(2).split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            if compressed == 0 { return (key, Array(parts[2])) }
            guard method == 0, let text = inflate(Array(parts[2])) else { return nil }
            return (key, text)
        }
    }

    /// ImageMagick's "Raw profile type exif": "\nexif\n  <length>\n<hex lines>".
    static func hexProfile(_ text: [UInt8]) -> [UInt8]? {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count > 3 else { return nil }
        let digits = lines.dropFirst(3).joined().filter { !($0 == 32 || $0 == 9 || $0 == 13) }
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        var out = [UInt8](), high: UInt8? = nil
        out.reserveCapacity(digits.count / 2)
        for c in digits {
            guard let n = nibble(c) else { return nil }
            if let h = high { out.append(h << 4 | n); high = nil } else { high = n }
        }
        return out
    }

    /// zlib data inflated, at most 1 MiB (PIL's limit for a text chunk); nil when unreadable.
    static func inflate(_ data: [UInt8], limit: Int = 1 << 20) -> [UInt8]? {
        var size = max(1024, data.count * 4)
        while true {
            var out = [UInt8](repeating: 0, count: min(size, limit))
            var length = uLongf(out.count)
            let status = out.withUnsafeMutableBufferPointer { o in
                data.withUnsafeBufferPointer { uncompress(o.baseAddress, &length, $0.baseAddress, uLong($0.count)) }
            }
            if status == Z_OK { return Array(out.prefix(Int(length))) }
            guard status == Z_BUF_ERROR, size < limit else { return nil }
            size *= 4
        }
    }
}
