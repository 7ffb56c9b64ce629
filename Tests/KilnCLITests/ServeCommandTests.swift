import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KilnTestSupport
import XCTest

/// `kiln serve` as a command: refusals in one line, and a real server that answers and stops
/// cleanly on SIGTERM.
final class ServeCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testRefusalsAreOneLine() throws {
        let missing = dir + "/missing.db"
        try assertOneLineFailure(["serve", "--db", missing, "--host", "0.0.0.0"], mentions: ["--host 0.0.0.0", "--token"])
        try assertOneLineFailure(["serve", "--db", missing, "--token", "short"], mentions: ["at least 16"])
        try assertOneLineFailure(["serve", "--db", missing, "--port", "70000"], mentions: ["--port"])
        try assertOneLineFailure(["serve", "--db", missing], mentions: ["no such file"])
        let r = try KilnProcess.run(["serve", "--db", missing, "--host", "0.0.0.0"], environment: ["KILN_TOKEN": "0123456789abcdef"])
        XCTAssertTrue(r.stderr.contains("no such file"), "KILN_TOKEN stands in for --token: \(r.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "serving never creates a queue")
    }

    func testServesUntilSIGTERM() throws {
        let db = dir + "/q.db"
        XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]).status, 0)
        let process = try KilnProcess.start(["serve", "--db", db, "--port", "0"])
        let deadline = Date().addingTimeInterval(60)
        var text = ""
        while !text.contains("\n"), process.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            text = process.stdout
        }
        let address = try XCTUnwrap(text.range(of: #"http://127\.0\.0\.1:\d+/"#, options: .regularExpression).map { String(text[$0]) }, text)
        XCTAssertTrue(text.contains("read-only"), text)
        let done = DispatchSemaphore(value: 0)
        let page = PageBox()
        URLSession.shared.dataTask(with: try XCTUnwrap(URL(string: address))) { data, response, _ in
            page.status = (response as? HTTPURLResponse)?.statusCode
            page.body = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
            done.signal()
        }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("<td id=\"count-queued\">1</td>"), page.body)
        process.send(SIGTERM)
        XCTAssertEqual(try process.status(), 0, "SIGTERM stops the server cleanly")
    }

    final class PageBox: @unchecked Sendable {
        var status: Int?
        var body = ""
    }
}
