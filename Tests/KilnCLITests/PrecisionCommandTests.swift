import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--precision bf16` on the tiny base model: its error against Kiln's float32 render is held to
/// at most 1.5x the error diffusers' bfloat16 pipeline makes against diffusers' float32 one
/// (`render-bf16` fixtures, the same renders), its queue jobs resume bit-identically, and without
/// bf16 it falls back to float32 with a notice. `KILN_BF16=portable` makes the bf16 path run on
/// any CPU (the portable kernel gives the AVX512-BF16 kernel's bits).
final class PrecisionCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let model = Fixtures.model("tiny-sdxl-base")
    let prompt = "a lighthouse on a cliff, stormy sea"
    let bf16Environment = ["KILN_BF16": "portable"]

    /// (name, arguments) as the fixture script's BF16_CASES.
    let cases: [(String, [String])] = [
        ("text2img-200x136", ["--width", "200", "--height", "136", "--steps", "4", "--guidance", "5", "--seed", "51"]),
        ("text2img-128x184", ["--width", "128", "--height", "184", "--steps", "3", "--guidance", "6", "--seed", "52"]),
        ("img2img-88x72", ["--image", Fixtures.root + "/images/input-photo-88x72.jpg", "--strength", "0.7", "--steps", "5",
                           "--guidance", "5", "--seed", "53"]),
    ]

    func render(_ arguments: [String], to name: String, environment: [String: String] = [:]) throws -> (pixels: [UInt8], stderr: String) {
        let path = dir + "/\(name).png"
        let r = try KilnProcess.run(["render", "--model", model, "--prompt", prompt, "--no-watermark", "--output", path] + arguments,
                                    environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        return (try ImageFile.read(path).pixels, r.stderr)
    }

    /// Largest and mean absolute difference, in levels of 255.
    func errors(_ a: [Float], _ b: [Float]) -> (max: Float, mean: Float) {
        precondition(a.count == b.count && !a.isEmpty)
        var worst: Float = 0, sum: Float = 0
        for (x, y) in zip(a, b) { let d = abs(x - y); worst = max(worst, d); sum += d }
        return (worst, sum / Float(a.count))
    }

    func testBF16ErrorIsAtMostOneAndAHalfTimesDiffusersBF16Error() throws {
        let expected = try Expected("render-bf16")
        for (name, arguments) in cases {
            let torch32 = try expected.tensor(name + "/fp32").scalars.map { $0 * 255 }
            let torch16 = try expected.tensor(name + "/bf16").scalars.map { $0 * 255 }
            let f32 = try render(arguments, to: name + "-fp32").pixels.map(Float.init)
            let bf16 = try render(arguments + ["--precision", "bf16"], to: name + "-bf16", environment: bf16Environment).pixels.map(Float.init)
            XCTAssertEqual(f32.count, torch32.count, name)
            XCTAssertLessThanOrEqual(errors(f32, torch32).max, 1, "\(name): float32 stays diffusers' image")
            let torchError = errors(torch16, torch32), kilnError = errors(bf16, f32)
            XCTAssertGreaterThan(kilnError.max, 0, "\(name): bf16 rounds, so some pixel moves")
            XCTAssertLessThanOrEqual(kilnError.max, 1.5 * torchError.max, "\(name): largest error \(kilnError) vs diffusers bf16 \(torchError)")
            XCTAssertLessThanOrEqual(kilnError.mean, 1.5 * torchError.mean, "\(name): mean error \(kilnError) vs diffusers bf16 \(torchError)")
        }
    }

    func testWithoutBF16TheRenderRunsInFloat32WithANotice() throws {
        let arguments = ["--width", "128", "--height", "128", "--steps", "2", "--seed", "5"]
        let f32 = try render(arguments, to: "f32")
        XCTAssertFalse(f32.stderr.contains("precision"), f32.stderr)
        let off = try render(arguments + ["--precision", "bf16"], to: "off", environment: ["KILN_BF16": "off"])
        XCTAssertTrue(off.stderr.contains("precision bf16: KILN_BF16=off, so this render runs in float32"), off.stderr)
        XCTAssertEqual(off.pixels, f32.pixels)
        let bad = try KilnProcess.run(["render", "--model", model, "--prompt", prompt, "--precision", "fp8", "--output", dir + "/x.png"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("precision") && bad.stderr.contains("fp32 or bf16"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.png"))
    }

    func testBF16JobStoppedMidRenderResumesToTheSamePixels() throws {
        let job = ["--prompt", prompt, "--steps", "30", "--seed", "7", "--width", "192", "--height", "128", "--precision", "bf16"]
        func queue(_ name: String) throws -> (db: String, folder: String) {
            let db = dir + "/\(name).db", folder = dir + "/\(name)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + job)
            XCTAssertEqual(r.status, 0, r.stderr)
            return (db, folder)
        }
        let straight = try queue("straight")
        let s = try KilnProcess.run(["work", "--db", straight.db, "--until-empty", "--output-folder", straight.folder],
                                    environment: bf16Environment.merging(["KILN_THREADS": "2"]) { $1 })
        XCTAssertEqual(s.status, 0, s.stderr)

        let q = try queue("resumed")
        let first = try KilnProcess.start(["work", "--db", q.db, "--until-empty", "--output-folder", q.folder],
                                          environment: bf16Environment.merging(["KILN_THREADS": "2"]) { $1 })
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (Int(try KilnProcess.query(q.db, "SELECT step FROM jobs").first ?? "0") ?? 0) < 4 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        first.send(SIGTERM)
        try first.wait()
        XCTAssertEqual(try first.status(), 0)
        XCTAssertEqual(try KilnProcess.query(q.db, "SELECT state, step > 0 AND step < steps FROM v_jobs"), ["queued,1"], "back in the queue mid-render")
        let second = try KilnProcess.run(["work", "--db", q.db, "--until-empty", "--output-folder", q.folder],
                                         environment: bf16Environment.merging(["KILN_THREADS": "1"]) { $1 })
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try KilnProcess.query(q.db, "SELECT state, attempts, precision FROM v_jobs JOIN v_outputs USING (job_id)"), ["done,2,bf16"])
        let a = try ImageFile.read(straight.folder + "/job-1-0.png").pixels, b = try ImageFile.read(q.folder + "/job-1-0.png").pixels
        XCTAssertEqual(zip(a, b).filter { $0 != $1 }.count, 0, "resumed bf16 render equals the uninterrupted one")
        XCTAssertEqual(try KilnProcess.query(q.db, "SELECT output_sha256 FROM v_outputs"), try KilnProcess.query(straight.db, "SELECT output_sha256 FROM v_outputs"))
        let platforms = try KilnProcess.query(q.db, "SELECT json_extract(provenance, '$.platforms[0].precision') FROM v_outputs")
        XCTAssertEqual(platforms, ["bf16"])
    }

    /// precision is a sweep axis like any parameter: one job each, rendered in its precision,
    /// reported in v_outputs.precision; a bad value is refused before anything is written.
    func testSweepOverPrecision() throws {
        let spec = dir + "/precision.yaml", db = dir + "/q.db"
        try """
            model: \(model)
            base: {prompt: a lighthouse, steps: 2, width: 64, height: 64, seed: 3}
            axes:
              precision: [fp32, bf16]
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertEqual(try KilnProcess.run(["sweep", "--db", db, spec]).stdout, "sweep 1: 2 jobs\n")
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", dir], environment: bf16Environment)
        XCTAssertEqual(work.status, 0, work.stderr)
        XCTAssertEqual(try KilnProcess.query(db, "SELECT precision FROM v_outputs ORDER BY job_id"), ["fp32", "bf16"])
        let a = try ImageFile.read(dir + "/job-1-0.png").pixels, b = try ImageFile.read(dir + "/job-2-0.png").pixels
        XCTAssertNotEqual(a, b, "the bf16 job rendered in bf16")

        try "model: \(model)\nbase: {prompt: a}\naxes: {precision: [fp16]}\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let bad = try KilnProcess.run(["sweep", "--db", dir + "/bad.db", spec])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("precision") && bad.stderr.contains("fp32 or bf16"), bad.stderr)
    }
}
