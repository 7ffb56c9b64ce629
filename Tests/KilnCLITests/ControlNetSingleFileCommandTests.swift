import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--controlnet FILE`: one safetensors file renders as its folder does (diffusers' "one" case),
/// queued or not; a pickled file or a file for another base is refused in one line, nothing queued.
final class ControlNetSingleFileCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")
    let original = Fixtures.path("models/tiny-controlnet-original.safetensors")
    let edges = Fixtures.path("images/control-edges-75x61.png")
    /// diffusers' "one" case (controlnet_fixtures.py) but for the ControlNet.
    var one: [String] { ["--prompt", "a lighthouse on a cliff at dusk", "--seed", "51", "--steps", "6", "--control-image", edges,
                         "--control-scale", "0.8", "--no-watermark"] }

    func assertDiffusersOne(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let image = try ImageFile.read(data: Data(contentsOf: URL(fileURLWithPath: path)), name: path)
        let result = PixelComparison([(image.width, image.height, image.pixels)], try Expected("controlnet-one").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)", file: file, line: line)
    }

    func testAnOriginalLayoutFileRendersAsDiffusersDoesFromTheFolder() throws {
        let out = dir + "/one.png"
        let r = try KilnProcess.run(["render", "--model", base, "--controlnet", original, "--output", out] + one)
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertDiffusersOne(out)
    }

    /// A diffusers repo's weights file alone, queued on each database: the worker renders
    /// diffusers' image and records the file's content hash.
    func testAQueuedDiffusersLayoutFile() throws {
        let file = Fixtures.model("tiny-controlnet") + "/diffusion_pytorch_model.safetensors"
        for backend in QueueBackend.allCases {
            let db = try TestQueues.location(backend, "controlnet-file", in: dir), out = dir + "/out-" + backend.rawValue
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--controlnet", file] + one)
            XCTAssertEqual(enqueue.status, 0, "\(backend): \(enqueue.stderr)")
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out])
            XCTAssertEqual(work.status, 0, "\(backend): \(work.stderr)")
            try assertDiffusersOne(out + "/job-1-0.png")
            let hashes = try TestQueues.execute(db, "SELECT controlnet_hashes FROM v_outputs")
            XCTAssertEqual(hashes.count, 1, "\(backend)")
            let hash = (hashes.first ?? "").filter { $0.isLetter || $0.isNumber }
            XCTAssertGreaterThanOrEqual(hash.count, 8, "\(backend): the file's content hash in \(hashes)")
        }
    }

    /// `--precision bf16` with a ControlNet (both built in bfloat16): against diffusers' float32
    /// image its error is at most 1.5x that of diffusers' torch.bfloat16 pipeline, largest and
    /// mean (controlnet-bf16-renders, as render-bf16 for plain renders); float32 stays diffusers'.
    func testBF16ControlNetRenderIsWithinOneAndAHalfTimesDiffusersBF16Error() throws {
        let expected = try Expected("controlnet-bf16-renders")
        let cases: [(String, [String])] = [
            ("one-72x56", ["--seed", "51", "--steps", "6", "--control-image", edges, "--control-scale", "0.8"]),
            ("resized-128x96", ["--seed", "58", "--steps", "4", "--control-image", Fixtures.path("images/control-shapes-75x61.png"),
                                "--width", "128", "--height", "96", "--control-end", "0.75", "--guidance", "6"]),
        ]
        func errors(_ a: [Float], _ b: [Float]) -> (max: Float, mean: Float) {
            precondition(a.count == b.count && !a.isEmpty)
            var worst: Float = 0, sum: Float = 0
            for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)); sum += abs(x - y) }
            return (worst, sum / Float(a.count))
        }
        for (name, arguments) in cases {
            func render(_ extra: [String]) throws -> [Float] {
                let out = dir + "/\(name)\(extra.isEmpty ? "" : "-bf16").png"
                let r = try KilnProcess.run(["render", "--model", base, "--controlnet", Fixtures.model("tiny-controlnet"), "--prompt",
                                             "a lighthouse on a cliff at dusk", "--no-watermark", "--output", out] + arguments + extra,
                                            environment: ["KILN_BF16": "portable"])
                XCTAssertEqual(r.status, 0, r.stderr)
                return try ImageFile.read(out).pixels.map(Float.init)
            }
            let torch32 = try expected.tensor(name + "/fp32").scalars.map { $0 * 255 }
            let torch16 = try expected.tensor(name + "/bf16").scalars.map { $0 * 255 }
            let f32 = try render([]), bf16 = try render(["--precision", "bf16"])
            XCTAssertEqual(f32.count, torch32.count, name)
            XCTAssertLessThanOrEqual(errors(f32, torch32).max, 1, "\(name): float32 stays diffusers' image")
            let torchError = errors(torch16, torch32), kilnError = errors(bf16, torch32)
            print("\(name): Kiln bf16 vs diffusers float32 \(kilnError), diffusers bf16 \(torchError), Kiln bf16 vs Kiln float32 \(errors(bf16, f32))")
            XCTAssertGreaterThan(errors(bf16, f32).max, 0, "\(name): bf16 rounds, so some pixel moves")
            XCTAssertLessThanOrEqual(kilnError.max, 1.5 * torchError.max, "\(name): largest error \(kilnError) vs diffusers bf16 \(torchError)")
            XCTAssertLessThanOrEqual(kilnError.mean, 1.5 * torchError.mean, "\(name): mean error \(kilnError) vs diffusers bf16 \(torchError)")
        }
    }

    func testPickledAndMisfittingFilesAreRefusedBeforeAnythingIsQueued() throws {
        let pickled = dir + "/OpenPoseXL2.bin"
        try Data([0x80, 0x02, 0x7d, 0x71, 0x00]).write(to: URL(fileURLWithPath: pickled))
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--controlnet", pickled, "--control-image", edges],
                                 mentions: ["OpenPoseXL2.bin", "pickled", "save_file("])
        try assertOneLineFailure(["render", "--model", Fixtures.model("tiny-sdxl-refiner"), "--prompt", "x", "--controlnet", original,
                                  "--control-image", edges, "--output", dir + "/x.png"], mentions: ["tiny-controlnet-original.safetensors", "wide"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing queued")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.png"))
    }
}
