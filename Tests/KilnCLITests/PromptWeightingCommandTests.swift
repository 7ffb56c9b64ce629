import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--prompt-weighting` from the command line: the render option, a sweep axis on both
/// databases (one job each, `v_outputs.prompt_weighting`), diffusers' truncation warning for
/// `none`, and bad syntax refused in one line with nothing queued.
final class PromptWeightingCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let model = Fixtures.model("tiny-sdxl-base")
    let small = ["--width", "64", "--height", "64", "--steps", "2", "--seed", "4", "--no-watermark"]
    /// About 90 tokens on the tiny vocabulary.
    let long = String(repeating: "the red barn with love and art in the day, ", count: 9) + "what a (great time)1.3 at dawn"

    func testRenderWarnsOnlyWhenNoneCutsThePrompt() throws {
        let none = try KilnProcess.run(["render", "--model", model, "--prompt", long, "--output", dir + "/none.png"] + small)
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stderr.contains("kiln: The following part of your input was truncated because CLIP can only handle sequences up to 77 tokens: ['"),
                      none.stderr)
        // transformers' decode, as diffusers prints it: a space after every word and symbol.
        XCTAssertTrue(none.stderr.contains("what a ( great time ) 1 . 3 at dawn']"), none.stderr)
        // Once per tokenizer that cuts, as diffusers logs it, then Kiln's hint on a line of its own.
        let lines = none.stderr.split(separator: "\n").map(String.init)
        let cut = lines.indices.filter { lines[$0].hasPrefix("kiln: The following part of your input was truncated") }
        XCTAssertEqual(cut.count, 2, none.stderr)
        XCTAssertTrue(cut.allSatisfy { lines[$0].hasSuffix("dawn']") }, none.stderr)
        XCTAssertEqual(cut.last.map { lines[$0 + 1] }, "kiln: --prompt-weighting compel or a1111 keeps prompts past 77 tokens, in chunks of 75")
        let compel = try KilnProcess.run(["render", "--model", model, "--prompt", long, "--prompt-weighting", "compel",
                                          "--output", dir + "/compel.png"] + small)
        XCTAssertEqual(compel.status, 0, compel.stderr)
        XCTAssertFalse(compel.stderr.contains("truncated"), compel.stderr)
        XCTAssertNotEqual(try ImageFile.read(dir + "/none.png").pixels, try ImageFile.read(dir + "/compel.png").pixels)
    }

    func testRenderRefusesBadSyntaxInOneLine() throws {
        let r = try KilnProcess.run(["render", "--model", model, "--prompt", "a cat", "--negative-prompt", "(\"a\", \"b\").blend(1)",
                                     "--prompt-weighting", "compel", "--output", dir + "/x.png"] + small)
        XCTAssertEqual(r.status, 1)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("negative-prompt") && r.stderr.contains(".blend()"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.png"))
        // What A1111 reads besides its weights, refused in a1111 mode before anything renders.
        let lora = try KilnProcess.run(["render", "--model", model, "--prompt", "a cat <lora:pixel:0.8>", "--prompt-weighting", "a1111",
                                        "--output", dir + "/l.png"] + small)
        XCTAssertEqual(lora.status, 1)
        XCTAssertEqual(lora.stderr.split(separator: "\n").count, 1, lora.stderr)
        XCTAssertTrue(lora.stderr.contains("'<lora:pixel:0.8>'") && lora.stderr.contains("--lora FILE:0.8"), lora.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/l.png"))
        let bad = try KilnProcess.run(["render", "--model", model, "--prompt", "a", "--prompt-weighting", "webui", "--output", dir + "/y.png"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("none, a1111 or compel") && bad.stderr.split(separator: "\n").count == 1, bad.stderr)
    }

    func testSweepAxisOnBothDatabases() throws {
        for backend in QueueBackend.allCases {
            let db = try TestQueues.location(backend, "weighting", in: dir), spec = dir + "/\(backend).yaml"
            try """
                model: \(model)
                base: {prompt: "a (red)1.4 barn, (blurry:0.5) dusk+", steps: 2, width: 64, height: 64, seed: 3, watermark: false}
                axes:
                  prompt_weighting: [none, a1111, compel]
                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let sweep = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertEqual(sweep.stdout, "sweep 1: 3 jobs\n", "\(backend): \(sweep.stderr)")
            let out = dir + "/\(backend)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out])
            XCTAssertEqual(work.status, 0, "\(backend): \(work.stderr)")
            XCTAssertEqual(try KilnProcess.query(db, "SELECT prompt_weighting FROM v_outputs ORDER BY job_id"), ["none", "a1111", "compel"], "\(backend)")
            let images = try (1...3).map { try ImageFile.read(out + "/job-\($0)-0.png").pixels }
            XCTAssertNotEqual(images[0], images[1], "\(backend): a1111 weighs the brackets")
            XCTAssertNotEqual(images[1], images[2], "\(backend): compel reads the same text otherwise")

            // A prompt compel cannot read: one line, and no sweep or job is written.
            try "model: \(model)\nbase: {prompt: \"a cat.swap(dog)\", prompt_weighting: compel}\n".write(toFile: spec, atomically: true, encoding: .utf8)
            let bad = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertEqual(bad.status, 1, "\(backend)")
            XCTAssertTrue(bad.stderr.contains(".swap()") && bad.stderr.split(separator: "\n").count == 1, "\(backend): \(bad.stderr)")
            let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", model, "--prompt", "(a", "--prompt-2", "withLora(x) b",
                                               "--prompt-weighting", "compel"])
            XCTAssertEqual(enqueue.status, 1, "\(backend)")
            XCTAssertTrue(enqueue.stderr.contains("prompt-2") && enqueue.stderr.split(separator: "\n").count == 1, "\(backend): \(enqueue.stderr)")
            XCTAssertEqual(try KilnProcess.query(db, "SELECT count(*) FROM v_jobs"), ["3"], "\(backend): nothing more queued")
        }
    }
}
