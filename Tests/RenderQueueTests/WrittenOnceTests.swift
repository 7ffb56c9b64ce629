import Foundation
import KilnTestSupport
import Pipelines
import RenderQueue
import XCTest

/// Facts several modules share, each written in the module that owns it: the one-line folding
/// of errors, the name of a job's image file and the list of inputs stored with a job.
final class WrittenOnceTests: XCTestCase {
    struct Multiline: Error, CustomStringConvertible { let description = "first\nsecond\r\n\nthird" }

    func testErrorsAreFoldedToOneLine() {
        XCTAssertEqual(OneLine.describing(Multiline()), "first second third")
        XCTAssertEqual(OneLine.folding("no break"), "no break")
        XCTAssertEqual(OneLine.folding("\ntrailing\n"), "trailing")
    }

    func testAJobsImageFileName() {
        XCTAssertEqual(StoredOutput.fileName(jobID: 12, imageIndex: 3), "job-12-3.png")
        let output = StoredOutput(jobID: 7, imageIndex: 0, sha256: "", png: nil, outputPath: nil)
        XCTAssertEqual(output.exportName, "job-7-0.png")
    }

    func testStoredInputsAreTheRequestsImageMaskAndLatents() {
        XCTAssertEqual(StoredInput.allCases.map(\.parameter), ["image", "mask", "latents"])
        // Each stored input is a file parameter of the table (option, sweep key, column).
        for input in StoredInput.allCases {
            XCTAssertEqual(RenderParameters.named(input.parameter)?.kind, .file, input.parameter)
        }
        var r = RenderRequest(prompt: "p")
        XCTAssertTrue(r.storedInputs.isEmpty)
        r.latents = InputReference(sha256: "b", file: "l.safetensors")
        r.image = InputReference(sha256: "a", file: "i.png")
        XCTAssertEqual(r.storedInputs.map(\.input), [.image, .latents])
        XCTAssertEqual(r.storedInputs.map(\.reference), [r.image!, r.latents!])
    }

    /// The folding, the file name and the input list are not spelled out again elsewhere.
    func testNoModuleSpellsThemOutAgain() throws {
        let sources = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        let patterns = ["whereSeparator: \\.isNewline).joined", "\"job-\\(", "(\"image\", request.image)",
                        "blob(request.image"]
        var found: [String: [String]] = [:]
        guard let files = FileManager.default.enumerator(atPath: sources.path) else { return XCTFail(sources.path) }
        for case let file as String in files where file.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for p in patterns where text.contains(p) { found[p, default: []].append(file) }
        }
        XCTAssertEqual(found["whereSeparator: \\.isNewline).joined"], ["RenderQueue/OneLine.swift"])
        XCTAssertEqual(found["\"job-\\("], ["RenderQueue/QueueTypes.swift"])
        XCTAssertNil(found["(\"image\", request.image)"])
        XCTAssertNil(found["blob(request.image"])
    }
}
