import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--variant fp16|none` through real `kiln` processes: a Hub id and its folder give the fp16
/// and plain weights' different images, the PNG text says which, a variant the folder cannot
/// give is one line with nothing queued, and a sweep axis fills `v_outputs.variant` on both databases.
final class VariantCommandTests: QueueTestCase {
    let tiny = Fixtures.model("tiny-sdxl-base")  // text_encoder: plain and fp16 weights
    // fp16 rounding moves the tiny text encoder's outputs a little: 2 steps at guidance 9 show it in the pixels.
    let common = ["--prompt", "a lighthouse at dusk", "--steps", "2", "--guidance", "9", "--width", "64", "--height", "64", "--seed", "3", "--no-watermark"]

    func render(_ model: String, _ extra: [String], _ name: String, environment: [String: String] = [:]) throws -> (image: RGBImage, text: [String: String]) {
        let r = try KilnProcess.run(["render", "--model", model, "--output", dir + "/\(name).png"] + common + extra, environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try PNGFile.read(dir + "/\(name).png")
    }

    func testFP16AndNoneRenderTheirOwnWeightsFromAHubId() throws {
        let fixture = try HubCacheFixture(root: dir + "/hf/hub")
        try fixture.add(repo: "kiln-test/tiny-sdxl", commit: String(repeating: "0a", count: 20), from: tiny)
        let env = ["HF_HUB_CACHE": dir + "/hf/hub"]
        let half = try render("kiln-test/tiny-sdxl", ["--variant", "fp16"], "fp16", environment: env)
        let plain = try render("kiln-test/tiny-sdxl", ["--variant", "none"], "none", environment: env)
        let unset = try render("kiln-test/tiny-sdxl", [], "unset", environment: env)
        let folder = try render(tiny, ["--variant", "fp16"], "folder-fp16")
        XCTAssertFalse(half.image.pixels == plain.image.pixels, "fp16 and plain text encoder weights give other images")
        XCTAssertTrue(unset.image.pixels == plain.image.pixels, "unset: the plain weights")
        XCTAssertTrue(folder.image.pixels == half.image.pixels, "the folder and its Hub id: one rule")
        XCTAssertTrue(try XCTUnwrap(half.text["parameters"]).contains(", Variant: fp16,"))
        XCTAssertFalse(try XCTUnwrap(unset.text["parameters"]).contains("Variant"))
        XCTAssertTrue(try XCTUnwrap(half.text["kiln"]).contains(#""variant":"fp16""#))
        // diffusers' mixture warning, as a notice: the components without fp16 files load plain weights.
        let r = try KilnProcess.run(["render", "--model", tiny, "--variant", "fp16", "--output", dir + "/n.png"] + common)
        XCTAssertTrue(r.stderr.contains("kiln: --variant fp16: \(tiny): text_encoder_2, unet, vae have no fp16 files and load their plain weights"), r.stderr)
        let quiet = try KilnProcess.run(["render", "--model", tiny, "--variant", "none", "--output", dir + "/q.png"] + common)
        XCTAssertFalse(quiet.stderr.contains("fp16 files"), quiet.stderr)
    }

    func testAVariantTheFolderCannotGiveIsOneLineAndNothingQueued() throws {
        let halfOnly = dir + "/half-only", plainOnly = dir + "/plain-only"
        try FileManager.default.copyItem(atPath: tiny, toPath: halfOnly)
        try FileManager.default.removeItem(atPath: halfOnly + "/text_encoder/model.safetensors")
        try FileManager.default.copyItem(atPath: tiny, toPath: plainOnly)
        try FileManager.default.removeItem(atPath: plainOnly + "/text_encoder/model.fp16.safetensors")
        let r = try KilnProcess.run(["render", "--model", halfOnly, "--variant", "none", "--output", dir + "/x.png"] + common)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(halfOnly)/text_encoder: holds only fp16 variant weights") && r.stderr.contains("pass --variant fp16"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.png"))
        _ = try render(halfOnly, [], "half-only-unset")  // unset: Kiln takes the fp16 file
        let bad = try KilnProcess.run(["render", "--model", tiny, "--variant", "bf16", "--output", dir + "/y.png"] + common)
        XCTAssertTrue(bad.status == 1 && bad.stderrLines.count == 1 && bad.stderr.contains("--variant: must be fp16 or none"), bad.stderr)
        try onEachBackend { backend in
            let db = try TestQueues.location(backend, "variant", in: dir)
            XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", tiny, "--prompt", "ok"]).status, 0)
            for (model, variant, needle) in [(halfOnly, "none", "pass --variant fp16"), (plainOnly, "fp16", "no component has fp16 variant weights")] {
                let e = try KilnProcess.run(["enqueue", "--db", db, "--model", model, "--prompt", "a", "--variant", variant])
                XCTAssertEqual(e.status, 1, "\(backend)")
                XCTAssertTrue(e.stderrLines.count == 1 && e.stderr.contains(needle), "\(backend): \(e.stderr)")
            }
            XCTAssertEqual(try KilnProcess.query(db, "SELECT count(*) FROM v_jobs"), ["1"], "\(backend): nothing more queued")
        }
    }

    func testSweepAxisOnBothDatabases() throws {
        try onEachBackend { backend in
            let db = try TestQueues.location(backend, "variants", in: dir), spec = dir + "/sweep.yaml"
            try """
                model: \(tiny)
                base: {prompt: "a lighthouse at dusk", steps: 2, guidance: 9, width: 64, height: 64, seed: 3, watermark: false}
                axes:
                  variant: [auto, none, fp16]
                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let sweep = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertEqual(sweep.stdout, "sweep 1: 3 jobs\n", "\(backend): \(sweep.stderr)")
            let out = dir + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out])
            XCTAssertEqual(work.status, 0, "\(backend): \(work.stderr)")
            XCTAssertEqual(try KilnProcess.query(db, "SELECT variant FROM v_outputs ORDER BY job_id"), ["auto", "none", "fp16"], "\(backend)")
            let images = try (1...3).map { try ImageFile.read(out + "/job-\($0)-0.png").pixels }
            XCTAssertEqual(images[0], images[1], "\(backend): unset renders the plain weights")
            XCTAssertNotEqual(images[1], images[2], "\(backend): fp16 renders the fp16 text encoder")
            // A refiner with no fp16 files: one line, nothing enqueued.
            try """
                model: \(tiny)
                base: {prompt: "a barn", refiner: \(Fixtures.model("tiny-sdxl-refiner")), high_noise_frac: 0.8, variant: fp16}
                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let bad = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertTrue(bad.status == 1 && bad.stderrLines.count == 1 && bad.stderr.contains("tiny-sdxl-refiner: no component has fp16"), "\(backend): \(bad.stderr)")
            XCTAssertEqual(try KilnProcess.query(db, "SELECT count(*) FROM v_jobs"), ["3"], "\(backend)")
        }
    }
}
