import KilnTestSupport
import XCTest

extension XCTestCase {
    /// `kiln args` fails with a non-zero exit and exactly one line on stderr mentioning `needles`.
    func assertOneLineFailure(_ args: [String], mentions needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try KilnProcess.run(args)
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, "one line: \(r.stderr)", file: file, line: line)
        for n in needles { XCTAssertTrue(r.stderr.contains(n), "'\(n)' in: \(r.stderr)", file: file, line: line) }
    }
}
