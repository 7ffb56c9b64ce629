import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Gallery
@testable import kiln
import KilnTestSupport
import Pipelines
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
        try assertOneLineFailure(["serve", "--db", missing, "--output-folder", dir + "/nope"], mentions: ["--output-folder", "is not a folder"])
        try assertOneLineFailure(["serve", "--db", missing, "--idle-timeout", "0"], mentions: ["--idle-timeout must be"])
        try assertOneLineFailure(["serve", "--db", missing, "--request-timeout", "inf"], mentions: ["--request-timeout must be"])
        try assertOneLineFailure(["serve", "--db", missing, "--max-connections", "0"], mentions: ["--max-connections must be between 1 and 100000"])
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

    /// The image page's `kiln render …` command, split into words by /bin/sh as a user's shell
    /// would, parses back through kiln's own options to the prompts it was made from: prompts
    /// that start with `-`, hold quotes, `$()`, backticks, backslashes and newlines.
    func testTheReproduceCommandRoundTripsThroughAShellAndTheParser() throws {
        let prompts = ["-a dash first", "--prompt", "-", "it's a \"fox\" $(touch \(dir)/pwned) `id` $HOME \\n",
                       "two\nlines\n", "'", "--", "-x=y", " leading space", "plain"]
        for prompt in prompts {
            var request = RenderRequest(prompt: prompt)
            request.negativePrompt = "-" + prompt
            request.seed = 7
            let record = Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "euler",
                                    schedulerClass: "EulerDiscreteScheduler", seed: 7, imageIndex: 0, model: "-models/m",
                                    modelHash: "abc", watermarkBits: nil, seconds: 1)
            let command = RenderCommandLine.make(record, config: nil, output: "-out.png")
            let sh = try ChildProcess("/bin/sh", ["-c", "printf '%s\\0' " + command])
            XCTAssertEqual(try sh.status(), 0, sh.stderr)
            let words = try Data(contentsOf: URL(fileURLWithPath: sh.stdoutPath)).split(separator: 0, omittingEmptySubsequences: false)
                .dropLast().map { String(decoding: $0, as: UTF8.self) }
            XCTAssertEqual(Array(words.prefix(2)), ["kiln", "render"], command)
            let parsed = try RenderCommand.parse(Array(words.dropFirst(2)))
            XCTAssertEqual(parsed.options.prompt, prompt, command)
            XCTAssertEqual(parsed.options.negativePrompt, "-" + prompt, command)
            XCTAssertEqual(parsed.model, "-models/m", command)
            XCTAssertEqual(parsed.output, "-out.png", command)
            XCTAssertEqual(parsed.options.seed, "7", command)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/pwned"), "the shell ran nothing from a prompt")
    }

    final class PageBox: @unchecked Sendable {
        var status: Int?
        var body = ""
    }
}
