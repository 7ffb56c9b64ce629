import KilnTestSupport
import XCTest

/// The tests' own process runner: a hang becomes a reported error, and a grandchild that keeps
/// running does not keep the wait (Foundation's Process on Linux can wait forever there).
final class ChildProcessTests: XCTestCase {
    func testAChildThatOutlivesItsDeadlineIsDescribedAndKilled() throws {
        let child = try ChildProcess("/bin/sleep", ["60"])
        let started = Date()
        XCTAssertThrowsError(try child.wait(timeout: 0.5)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("/bin/sleep 60 did not end within 0 s"), text)
            XCTAssertTrue(text.contains("State:"), text)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 50, "killed, not waited out")
        XCTAssertEqual(child.poll(), .signalled(SIGKILL))
    }

    func testAGrandchildStillRunningDoesNotHoldTheWait() throws {
        let started = Date()
        let child = try ChildProcess("/bin/sh", ["-c", "sleep 3 & echo started; exit 7"])
        XCTAssertEqual(try child.wait(timeout: 30), .exited(7))
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)
        XCTAssertEqual(child.stdout, "started\n")
    }

    func testStandardInputComesFromAFileAndSignalsAreReported() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "abc".write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        let cat = try ChildProcess("/bin/cat", [], stdinPath: dir + "/in")
        XCTAssertEqual(try cat.status(), 0)
        XCTAssertEqual(cat.stdout, "abc")
        let sleeper = try ChildProcess("/bin/sleep", ["60"])
        sleeper.send(SIGTERM)
        XCTAssertEqual(try sleeper.status(timeout: 30), 128 + SIGTERM)
    }
}
