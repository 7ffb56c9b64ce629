import Foundation

/// Formats the rows of a report (`QueueReader.query`) as a table, CSV or JSON.
public enum Report {
    public enum Format: String, Sendable, CaseIterable { case table, csv, json }

    public static func format(_ result: ReportTable, as format: Format) -> String {
        switch format {
        case .csv:
            func field(_ s: String?) -> String {
                guard let s else { return "" }
                return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
            }
            return ([result.columns.map { field($0) }.joined(separator: ",")] + result.rows.map { $0.map(field).joined(separator: ",") })
                .joined(separator: "\n")
        case .json:
            let objects = result.rows.map { row in
                Dictionary(uniqueKeysWithValues: zip(result.columns, row.map { $0.map { $0 as Any } ?? NSNull() }))
            }
            let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self)
        case .table:
            let cells = [result.columns] + result.rows.map { $0.map { $0 ?? "NULL" } }
            let widths = result.columns.indices.map { c in cells.map { min($0[c].count, 60) }.max() ?? 0 }
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
}
