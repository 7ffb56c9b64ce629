import Foundation
import GRDB

/// Runs user SQL on a read-only connection and formats the rows.
public enum Report {
    public enum Format: String, Sendable, CaseIterable { case table, csv, json }

    /// Column names and rows as text (NULL as empty), from a connection opened read-only: any
    /// statement that would write fails. A missing file is refused, a read-only one is read, and
    /// a query still running after `timeout` seconds is interrupted.
    public static func run(databasePath: String, sql: String, timeout: TimeInterval = 60) throws -> (columns: [String], rows: [[String?]]) {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw QueueError.query("--timeout must be between 0 and 86400 seconds, not \(timeout)")
        }
        let queue = try QueueDatabase.openReadOnly(path: databasePath)
        let deadline = DispatchWorkItem { queue.interrupt() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        defer { deadline.cancel() }
        do {
            return try queue.read { db in
                let statement = try db.makeStatement(sql: sql)
                guard statement.isReadonly else { throw QueueError.readOnlyViolation("the statement would modify the database") }
                let columns = statement.columnNames
                var rows: [[String?]] = []
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    rows.append((0..<columns.count).map { i in
                        let value = row[i] as DatabaseValue
                        switch value.storage {
                        case .null: return nil
                        case .int64(let n): return String(n)
                        case .double(let d): return String(d)
                        case .string(let s): return s
                        case .blob(let b): return "<\(b.count) bytes>"
                        }
                    })
                }
                return (columns, rows)
            }
        } catch let error as QueueError {
            throw error
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_READONLY { throw QueueError.readOnlyViolation(error.message ?? "write refused") }
            if error.resultCode == .SQLITE_INTERRUPT {
                throw QueueError.query("stopped after \(timeout) s; narrow the query or raise --timeout")
            }
            throw QueueError.query(error.message ?? "\(error)")
        }
    }

    public static func format(_ result: (columns: [String], rows: [[String?]]), as format: Format) -> String {
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
