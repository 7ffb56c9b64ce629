import Foundation

/// Formats the rows of a report (`QueueReader.query`, `QueueReader.forEachRow`) as a table, CSV
/// or JSON. CSV and JSON are written row by row as they come (`Report.Stream`), so a report of
/// any length needs only one row in memory; a table needs every row for its column widths.
///
/// JSON is one array of objects on one line, keys in column order (a repeated column name gets
/// `_2`, `_3`, ...), every value a string as the database printed it, or `null`.
public enum Report {
    public enum Format: String, Sendable, CaseIterable { case table, csv, json }

    /// Why a `--sql` with several statements is refused (on either database).
    public static let oneStatement = "--sql takes one statement; run the others one at a time, or join them with UNION ALL or WITH"

    /// The whole result formatted, without the final newline.
    public static func format(_ result: ReportTable, as format: Format) -> String {
        var text = ""
        let stream = Stream(format: format) { text += $0 }
        stream.begin(columns: result.columns)
        for row in result.rows { stream.add(row) }
        stream.end()
        return String(text.dropLast())
    }

    /// A report written piece by piece to `write` (which receives whole lines or parts of one):
    /// `begin` once with the columns, `add` per row, then `end`, which ends the output with a
    /// newline. CSV and JSON rows go to `write` at once; a table is written at `end`.
    public final class Stream {
        let format: Format
        let write: (String) -> Void
        var columns: [String] = []
        /// The JSON keys, encoded once, each with its colon.
        var keys: [String] = []
        var rowCount = 0
        var buffered: [[String?]] = []

        public init(format: Format, write: @escaping (String) -> Void) {
            self.format = format
            self.write = write
        }

        public func begin(columns: [String]) {
            self.columns = columns
            switch format {
            case .csv: write(columns.map(Report.csvField).joined(separator: ",") + "\n")
            case .json:
                keys = Report.uniqueKeys(columns).map { Report.jsonString($0) + ":" }
                write("[")
            case .table: break
            }
        }

        public func add(_ row: [String?]) {
            defer { rowCount += 1 }
            switch format {
            case .csv: write(row.map(Report.csvField).joined(separator: ",") + "\n")
            case .json:
                var object = rowCount == 0 ? "{" : ",{"
                for (index, key) in keys.enumerated() {
                    if index > 0 { object += "," }
                    object += key
                    let value = index < row.count ? row[index] : nil
                    object += value.map(Report.jsonString) ?? "null"
                }
                write(object + "}")
            case .table: buffered.append(row)
            }
        }

        public func end() {
            switch format {
            case .csv: break
            case .json: write("]\n")
            case .table: write(Report.table(columns, buffered) + "\n")
            }
        }
    }

    /// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break; NULL is empty.
    static func csvField(_ s: String?) -> String {
        guard let s else { return "" }
        guard s.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) else { return s }
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        bytes.reserveCapacity(s.utf8.count + 8)
        for byte in s.utf8 {
            bytes.append(byte)
            if byte == UInt8(ascii: "\"") { bytes.append(byte) }
        }
        bytes.append(UInt8(ascii: "\""))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `s` as a JSON string (RFC 8259): quote, backslash and control characters escaped.
    public static func jsonString(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return "\"" + s + "\"" }
        // Only ASCII needs escaping, so UTF-8 bytes of other characters are copied as they are.
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(s.utf8.count + 16)
        let hex = Array("0123456789abcdef".utf8)
        for byte in s.utf8 {
            let short: UInt8
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): short = byte
            case 0x0A: short = UInt8(ascii: "n")
            case 0x0D: short = UInt8(ascii: "r")
            case 0x09: short = UInt8(ascii: "t")
            case 0x08: short = UInt8(ascii: "b")
            case 0x0C: short = UInt8(ascii: "f")
            case 0..<0x20: short = UInt8(ascii: "u")
            default:
                out.append(byte)
                continue
            }
            out.append(UInt8(ascii: "\\"))
            out.append(short)
            if short == UInt8(ascii: "u") { out += [UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]] }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// Column names as JSON keys: a name seen before gets `_2`, `_3`, ... (an object's keys must
    /// differ for most JSON readers to keep every value).
    static func uniqueKeys(_ columns: [String]) -> [String] {
        var seen = Set<String>()
        return columns.map { name in
            var key = name, n = 1
            while seen.contains(key) {
                n += 1
                key = "\(name)_\(n)"
            }
            seen.insert(key)
            return key
        }
    }

    /// Columns padded to their widest value (at most 60 characters; longer values cut with
    /// "..."), a rule under the header, NULL printed as `NULL`.
    static func table(_ columns: [String], _ rows: [[String?]]) -> String {
        let cells = [columns] + rows.map { row in columns.indices.map { $0 < row.count ? row[$0] ?? "NULL" : "NULL" } }
        let widths = columns.indices.map { c in cells.map { min($0[c].count, 60) }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            zip(r, widths).map { v, w in
                let t = v.count > 60 ? String(v.prefix(57)) + "..." : v
                return t.padding(toLength: w, withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var out = [line(cells[0]), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += cells.dropFirst().map(line)
        return out.joined(separator: "\n")
    }
}
