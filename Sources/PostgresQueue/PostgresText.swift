import Foundation
import PostgresNIO

/// A result value as `kiln report` prints it, matching what the SQLite report prints: NULL as
/// nil, integers as digits, doubles as Swift prints them, numeric as PostgreSQL writes it, text
/// as is, bytea as "<N bytes>", booleans as 1/0 (SQLite has no booleans), JSON as its text,
/// timestamps and dates as ISO 8601. postgres-nio receives every value in binary, so each type
/// is decoded here; arrays print as PostgreSQL writes them ({1,2}); any other type prints its
/// bytes when they are UTF-8 text (enums, domains over text), else "<N bytes of type OID>".
enum PostgresText {
    static func render(_ cell: PostgresCell) -> String? {
        guard var buffer = cell.bytes else { return nil }
        return render(&buffer, type: cell.dataType)
    }

    static func render(_ buffer: inout ByteBuffer, type: PostgresDataType) -> String? {
        let size = buffer.readableBytes
        switch type {
        case .bool: return buffer.readInteger(as: UInt8.self).map { $0 == 0 ? "0" : "1" }
        case .int2: return buffer.readInteger(as: Int16.self).map { String($0) }
        case .int4: return buffer.readInteger(as: Int32.self).map { String($0) }
        case .int8: return buffer.readInteger(as: Int64.self).map { String($0) }
        case .oid: return buffer.readInteger(as: UInt32.self).map { String($0) }
        case .float4: return buffer.readInteger(as: UInt32.self).map { String(Float(bitPattern: $0)) }
        case .float8: return buffer.readInteger(as: UInt64.self).map { String(Double(bitPattern: $0)) }
        case .numeric: return numeric(&buffer)
        case .bytea: return "<\(size) bytes>"
        case .jsonb:
            _ = buffer.readInteger(as: UInt8.self)  // format version 1
            return buffer.readString(length: buffer.readableBytes)
        case .text, .varchar, .bpchar, .name, .json, .char: return buffer.readString(length: size)
        case .uuid:
            guard let bytes = buffer.readBytes(length: 16) else { return nil }
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { r in
                String(hex[hex.index(hex.startIndex, offsetBy: r.lowerBound)..<hex.index(hex.startIndex, offsetBy: r.upperBound)])
            }.joined(separator: "-")
        case .time:
            return buffer.readInteger(as: Int64.self).map { clock($0) }
        case .interval:
            guard let micros = buffer.readInteger(as: Int64.self), let days = buffer.readInteger(as: Int32.self),
                  let months = buffer.readInteger(as: Int32.self) else { return nil }
            return interval(micros: micros, days: days, months: months)
        case .timestamp, .timestamptz:
            guard let micros = buffer.readInteger(as: Int64.self) else { return nil }
            return timestamp(micros, utc: type == .timestamptz)
        case .date:
            guard let days = buffer.readInteger(as: Int32.self) else { return nil }
            return timestamp(Int64(days) * 86_400_000_000, utc: false).map { String($0.prefix(10)) }
        default:
            if let element = arrayElements[type] { return array(&buffer, element: element) }
            if let text = buffer.getString(at: buffer.readerIndex, length: size),
               !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" }) {
                return text
            }
            return "<\(size) bytes of type \(type.rawValue)>"
        }
    }

    /// PostgreSQL's binary numeric: digit count, weight (base-10000 exponent of the first
    /// digit), sign, display scale, then base-10000 digits.
    static func numeric(_ buffer: inout ByteBuffer) -> String? {
        guard let count = buffer.readInteger(as: Int16.self), let weight = buffer.readInteger(as: Int16.self),
              let sign = buffer.readInteger(as: UInt16.self), let scale = buffer.readInteger(as: Int16.self) else { return nil }
        switch sign {
        case 0xC000: return "NaN"
        case 0xD000: return "Infinity"
        case 0xF000: return "-Infinity"
        default: break
        }
        var digits: [Int16] = []
        for _ in 0..<max(count, 0) {
            guard let d = buffer.readInteger(as: Int16.self) else { return nil }
            digits.append(d)
        }
        func digit(_ position: Int) -> Int16 { position >= 0 && position < digits.count ? digits[position] : 0 }
        var integer = ""
        if weight >= 0 {
            for p in 0...Int(weight) {
                let d = digit(p)
                integer += p == 0 ? String(d) : String(repeating: "0", count: 4 - String(d).count) + String(d)
            }
        } else {
            integer = "0"
        }
        var fraction = ""
        var p = Int(weight) + 1
        while fraction.count < Int(scale) {
            let d = String(digit(p))
            fraction += String(repeating: "0", count: 4 - d.count) + d
            p += 1
        }
        fraction = String(fraction.prefix(Int(max(scale, 0))))
        let magnitude = fraction.isEmpty ? integer : integer + "." + fraction
        return sign == 0x4000 ? "-" + magnitude : magnitude
    }

    /// Microseconds since 2000-01-01 as ISO 8601 (with Z for timestamptz, which is UTC on the
    /// wire); milliseconds unless the value has microseconds.
    static func timestamp(_ micros: Int64, utc: Bool) -> String? {
        if micros == Int64.max { return "infinity" }
        if micros == Int64.min { return "-infinity" }
        let seconds = micros.quotientAndRemainder(dividingBy: 1_000_000)
        var whole = seconds.quotient, fraction = seconds.remainder
        if fraction < 0 { whole -= 1; fraction += 1_000_000 }
        var time = time_t(whole + 946_684_800)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return nil }
        let date = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        let sub = fraction % 1000 == 0 ? String(format: ".%03d", Int(fraction / 1000)) : String(format: ".%06d", Int(fraction))
        return date + sub + (utc ? "Z" : "")
    }

    /// Microseconds as HH:MM:SS, with the fraction when there is one.
    static func clock(_ micros: Int64) -> String {
        let m = abs(micros)
        let text = String(format: "%02lld:%02lld:%02lld", m / 3_600_000_000, m / 60_000_000 % 60, m / 1_000_000 % 60)
            + (m % 1_000_000 == 0 ? "" : String(format: ".%06lld", m % 1_000_000))
        return micros < 0 ? "-" + text : text
    }

    /// An interval as PostgreSQL's default style writes it: `1 year 2 mons 3 days 04:05:06`.
    static func interval(micros: Int64, days: Int32, months: Int32) -> String {
        var parts: [String] = []
        func add(_ n: Int32, _ unit: String) { if n != 0 { parts.append("\(n) \(unit)\(abs(n) == 1 ? "" : "s")") } }
        add(months / 12, "year")
        add(months % 12, "mon")
        add(days, "day")
        if micros != 0 || parts.isEmpty { parts.append(clock(micros)) }
        return parts.joined(separator: " ")
    }

    /// Element types of the arrays printed as PostgreSQL's text form.
    static let arrayElements: [PostgresDataType: PostgresDataType] = [
        .boolArray: .bool, .int2Array: .int2, .int4Array: .int4, .int8Array: .int8, .float4Array: .float4,
        .float8Array: .float8, .textArray: .text, .varcharArray: .varchar, .numericArray: .numeric, .byteaArray: .bytea,
        .jsonbArray: .jsonb, .uuidArray: .uuid, .timestamptzArray: .timestamptz, .dateArray: .date,
    ]

    /// A binary array (dimensions, null flag, element type, then length-prefixed elements) as
    /// `{a,b}` / `{{1,2},{3,4}}`, elements quoted when PostgreSQL would quote them.
    static func array(_ buffer: inout ByteBuffer, element: PostgresDataType) -> String? {
        guard let dimensions = buffer.readInteger(as: Int32.self), dimensions >= 0, dimensions <= 6,
              buffer.readInteger(as: Int32.self) != nil, buffer.readInteger(as: UInt32.self) != nil else { return nil }
        guard dimensions > 0 else { return "{}" }
        var lengths: [Int] = []
        for _ in 0..<dimensions {
            guard let length = buffer.readInteger(as: Int32.self), length >= 0, buffer.readInteger(as: Int32.self) != nil else { return nil }
            lengths.append(Int(length))
        }
        func level(_ d: Int) -> String? {
            var items: [String] = []
            for _ in 0..<lengths[d] {
                if d + 1 < lengths.count {
                    guard let inner = level(d + 1) else { return nil }
                    items.append(inner)
                    continue
                }
                guard let length = buffer.readInteger(as: Int32.self) else { return nil }
                if length < 0 { items.append("NULL"); continue }
                guard var slice = buffer.readSlice(length: Int(length)), let text = render(&slice, type: element) else { return nil }
                let plain = !text.isEmpty && text.uppercased() != "NULL"
                    && !text.contains(where: { "{}\",\\ \t\n".contains($0) })
                items.append(plain ? text : "\"" + text.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\"")
            }
            return "{" + items.joined(separator: ",") + "}"
        }
        return level(0)
    }
}
