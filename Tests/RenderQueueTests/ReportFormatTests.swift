import Foundation
import QueueBackends
@testable import RenderQueue
import XCTest

/// `kiln report`'s formats written row by row (issue 21, item 16): the same values as the
/// JSONSerialization output they replace, every string escaped per RFC 8259, CSV unchanged, and
/// each row written as it is added.
final class ReportFormatTests: XCTestCase {
    let table = ReportTable(columns: ["job_id", "prompt", "seed", "note"], rows: [
        ["1", "a \"quoted\" \\ back/slash", "42", nil],
        ["2", "line\nbreak\ttab\r\u{0}\u{1}\u{1F}\u{7F} é 東京 🔥 \u{2028}", "-7", "x,y"],
        ["3", "", "9223372036854775807", "plain"],
    ])

    /// What `Report.format(_, as: .json)` printed before streaming: JSONSerialization, sorted keys.
    func oldJSON(_ t: ReportTable) throws -> Data {
        let objects = t.rows.map { row in Dictionary(uniqueKeysWithValues: zip(t.columns, row.map { $0.map { $0 as Any } ?? NSNull() })) }
        return try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
    }

    func parsed(_ data: Data) throws -> NSArray {
        try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? NSArray)
    }

    func testJSONHoldsWhatTheOldOutputHeld() throws {
        let text = Report.format(table, as: .json)
        XCTAssertEqual(try parsed(Data(text.utf8)), try parsed(try oldJSON(table)), text)
        XCTAssertFalse(text.contains("\n"), "one line, as before: \(text)")
        // Keys in column order, values strings or null, as before.
        XCTAssertTrue(text.hasPrefix(#"[{"job_id":"1","prompt":"a \"quoted\" \\ back/slash","seed":"42","note":null},"#), text)
        XCTAssertEqual(Report.format(ReportTable(columns: ["a"], rows: []), as: .json), "[]")
    }

    func testJSONEscapesEveryControlCharacter() throws {
        for value in (0..<0x20).map({ String(UnicodeScalar(UInt8($0))) }) + ["\"", "\\", "\u{7F}", "\u{2028}", "\r\n"] {
            let text = Report.jsonString(value)
            let inner = text.dropFirst().dropLast()
            XCTAssertFalse(inner.unicodeScalars.contains { $0.value < 0x20 }, "raw control character in \(text.debugDescription)")
            let back = try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) as? [String]
            XCTAssertEqual(back, [value], text)
        }
        XCTAssertEqual(Report.jsonString("\u{0}\u{1F}\u{8}\u{C}"), #""\u0000\u001f\b\f""#)
    }

    func testARepeatedColumnNameKeepsEveryValue() throws {
        // The old Dictionary(uniqueKeysWithValues:) stopped the process on `SELECT 1 AS a, 2 AS a`.
        let text = Report.format(ReportTable(columns: ["a", "a", "a_2"], rows: [["1", "2", "3"]]), as: .json)
        XCTAssertEqual(text, #"[{"a":"1","a_2":"2","a_2_2":"3"}]"#)
    }

    func testCSVIsAsBefore() {
        XCTAssertEqual(Report.format(table, as: .csv), """
            job_id,prompt,seed,note
            1,"a ""quoted"" \\ back/slash",42,
            2,"line
            break\ttab\r\u{0}\u{1}\u{1F}\u{7F} é 東京 🔥 \u{2028}",-7,"x,y"
            3,,9223372036854775807,plain
            """)
        XCTAssertEqual(Report.format(ReportTable(columns: ["a", "b"], rows: []), as: .csv), "a,b")
    }

    func testTableIsAsBefore() {
        let t = ReportTable(columns: ["what", "n"], rows: [["total", "3"], [String(repeating: "x", count: 70), nil]])
        func pad(_ s: String) -> String { s + String(repeating: " ", count: 60 - s.count) }
        XCTAssertEqual(Report.format(t, as: .table), [
            pad("what") + "  n   ",
            String(repeating: "-", count: 60) + "  ----",
            pad("total") + "  3   ",
            String(repeating: "x", count: 57) + "...  NULL",
        ].joined(separator: "\n"))
    }

    /// CSV and JSON rows reach the output when they are added, not at the end.
    func testRowsAreWrittenAsTheyCome() {
        for format in [Report.Format.csv, .json] {
            var written = ""
            let stream = Report.Stream(format: format) { written += $0 }
            stream.begin(columns: ["n"])
            for i in 1...3 {
                stream.add(["\(i)"])
                XCTAssertTrue(written.contains("\(i)"), "\(format): row \(i) not written yet: \(written)")
            }
            stream.end()
            XCTAssertTrue(written.hasSuffix("\n"))
        }
    }
}
