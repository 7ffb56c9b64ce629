import Foundation
import Imaging
import KilnTestSupport
import Numerics
import XCTest

final class RenderCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    let model = Fixtures.model("tiny-sdxl-base")

    /// The reference renders' arguments, as `kiln render` flags.
    static func flags(_ args: [String: Any]) -> [String] {
        let names: [String: String] = [
            "prompt": "--prompt", "prompt_2": "--prompt-2", "negative_prompt": "--negative-prompt",
            "negative_prompt_2": "--negative-prompt-2", "width": "--width", "height": "--height",
            "num_inference_steps": "--steps", "guidance_scale": "--guidance", "guidance_rescale": "--guidance-rescale",
            "clip_skip": "--clip-skip", "num_images_per_prompt": "--images",
            "original_size": "--original-size", "target_size": "--target-size", "negative_original_size": "--negative-original-size",
            "negative_target_size": "--negative-target-size", "crops_coords_top_left": "--crop-top-left",
            "negative_crops_coords_top_left": "--negative-crop-top-left",
        ]
        var out: [String] = []
        for (key, value) in args.sorted(by: { $0.key < $1.key }) {
            guard let flag = names[key] else { continue }
            out.append(flag)
            if let pair = value as? [Int] {
                // diffusers sizes are (height, width); kiln takes WxH. Crops are (top, left) in both.
                out.append(key.contains("crops") ? "\(pair[0]),\(pair[1])" : "\(pair[1])x\(pair[0])")
            } else if let n = value as? NSNumber {
                out.append(n.doubleValue == n.doubleValue.rounded() && !key.contains("guidance") ? "\(n.intValue)" : "\(n.doubleValue)")
            } else {
                out.append("\(value)")
            }
        }
        return out
    }

    func pixels(_ path: String) throws -> [UInt8] { try PNGFile.read(path).image.pixels }

    func testEveryReferenceRenderThroughTheCommandLine() throws {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("renders.json")))
        let cases = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        for c in cases {
            let name = try XCTUnwrap(c["name"] as? String)
            let args = try XCTUnwrap(c["args"] as? [String: Any])
            var command = ["render", "--model", model, "--output", dir + "/\(name).png",
                           "--seed", "\((c["seed"] as? NSNumber)?.intValue ?? 0)", "--scheduler", try XCTUnwrap(c["scheduler"] as? String)]
            command += RenderCommandTests.flags(args)
            if (c["watermark"] as? Bool) == false { command.append("--no-watermark") }
            let r = try KilnProcess.run(command)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let expected = try Expected("render-" + name).tensor("pixels")
            let count = expected.shape[0]
            let perImage = expected.count / count
            for i in 0..<count {
                let path = count == 1 ? dir + "/\(name).png" : dir + "/\(name)-\(i).png"
                let ours = try pixels(path)
                XCTAssertEqual(ours.count, perImage, name)
                var worst: Float = 0
                for (j, p) in ours.enumerated() { worst = max(worst, abs(Float(p) - expected[flat: i * perImage + j])) }
                XCTAssertLessThanOrEqual(worst, 1, "\(name) image \(i)")
            }
        }
    }

    func render(_ extra: [String], to name: String) throws -> KilnRun {
        try KilnProcess.run(["render", "--model", model, "--prompt", "a quiet harbour", "--steps", "2", "--seed", "11",
                             "--output", dir + "/" + name] + extra)
    }

    func testWatermarkReadsBackAndTwoRendersAreIdentical() throws {
        XCTAssertEqual(try render(["--width", "512", "--height", "512"], to: "marked.png").status, 0)
        let marked = try KilnProcess.run(["watermark", dir + "/marked.png"])
        XCTAssertEqual(marked.status, 0, marked.stderr)
        XCTAssertTrue(marked.stdout.contains("bits 0xb3ec907bb19e"), marked.stdout)
        XCTAssertTrue(marked.stdout.contains("matches the SDXL watermark"), marked.stdout)

        XCTAssertEqual(try render(["--width", "512", "--height", "512", "--no-watermark"], to: "plain.png").status, 0)
        let plain = try KilnProcess.run(["watermark", dir + "/plain.png"])
        XCTAssertTrue(plain.stdout.contains("no match"), plain.stdout)

        XCTAssertEqual(try render(["--width", "512", "--height", "512"], to: "again.png").status, 0)
        XCTAssertTrue(try pixels(dir + "/marked.png") == pixels(dir + "/again.png"), "same job, same pixels")
    }

    func testTextChunksAndImageNaming() throws {
        let r = try render(["--images", "2", "--negative-prompt", "fog", "--scheduler", "dpmpp-2m"], to: "pair.png")
        XCTAssertEqual(r.status, 0, r.stderr)
        for i in 0..<2 {
            let (image, text) = try PNGFile.read(dir + "/pair-\(i).png")
            XCTAssertEqual(image.width, 128)
            let parameters = try XCTUnwrap(text["parameters"])
            XCTAssertTrue(parameters.hasPrefix("a quiet harbour\nNegative prompt: fog\nSteps: 2, Sampler: dpmpp-2m, CFG scale: 5.0, Seed: 11, Size: 128x128, Model hash: "), parameters)
            let json = try XCTUnwrap(text["kiln"]?.data(using: .utf8))
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
            XCTAssertEqual(record["imageIndex"] as? Int, i)
            XCTAssertEqual(record["schedulerClass"] as? String, "DPMSolverMultistepScheduler")
            XCTAssertEqual(record["seed"] as? Int, 11)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/pair.png"))
    }

    func testDenoisingEndWritesLatents() throws {
        let r = try render(["--denoising-end", "0.5"], to: "early.png")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/early.safetensors"), r.stdout)
    }

    func assertOneLineFailure(_ extra: [String], output: String = "bad.png", mentions needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try KilnProcess.run(["render", "--model", model, "--prompt", "x", "--steps", "2", "--output", output.hasPrefix("/") ? output : dir + "/" + output] + extra)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertEqual(r.stderrLines.filter { !$0.hasPrefix("Usage") && !$0.contains("See 'kiln") && !$0.isEmpty }.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "'\(needle)' in: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.png"), "nothing written", file: file, line: line)
    }

    func testBadArgumentsFailInOneLine() throws {
        try assertOneLineFailure(["--width", "100"], mentions: "width")
        try assertOneLineFailure(["--height=-8"], mentions: "height")
        try assertOneLineFailure(["--steps", "0"], mentions: "steps")
        try assertOneLineFailure(["--scheduler", "plms"], mentions: "unknown scheduler 'plms'")
        try assertOneLineFailure(["--original-size", "big"], mentions: "--original-size")
        try assertOneLineFailure(["--crop-top-left", "1;2"], mentions: "--crop-top-left")
        try assertOneLineFailure(["--guidance-rescale", "2"], mentions: "guidance-rescale")
        try assertOneLineFailure([], output: "/nonexistent-folder/x.png", mentions: "does not exist")
        let r = try KilnProcess.run(["render", "--model", dir + "/missing-model", "--prompt", "x", "--output", dir + "/bad.png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing-model"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.png"))
    }

    func testWatermarkCommandOnBadFiles() throws {
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: dir + "/fake.png"))
        let r = try KilnProcess.run(["watermark", dir + "/fake.png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("not a PNG"), r.stderr)
    }
}
