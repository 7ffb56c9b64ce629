import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import XCTest

/// Image-to-image, inpainting and the refiner through real `kiln` processes: the command line,
/// sweeps, a kill inside the refiner stage, inputs deleted after enqueue, and bad inputs.
final class ModeCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")
    let refiner = Fixtures.model("tiny-sdxl-refiner")
    let image = Fixtures.path("images/input-rgba-70x50.png")
    let photo = Fixtures.path("images/input-photo-88x72.jpg")
    let mask = Fixtures.path("images/mask-rgb-88x72.png")
    let prompt = "a watercolor fox in a snowy forest"

    func kiln(_ args: [String]) throws -> KilnRun { try KilnProcess.run(args) }
    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }


    /// Pixels of a PNG against a diffusers reference `[1, h, w, 3]`: the worst difference.
    func worstDifference(_ png: String, _ reference: String) throws -> Float {
        let picture = try PNGFile.read(png).image
        let result = PixelComparison([(picture.width, picture.height, picture.pixels)], try Expected(reference).tensor("pixels"))
        XCTAssertTrue(result.sizesMatch, "\(png): \(result)")
        return result.worst
    }

    func testRenderCommandRunsEachModeAsDiffusersDoes() throws {
        let out = dir + "/out.png"
        let common = ["render", "--model", base, "--prompt", prompt, "--no-watermark", "--output", out]
        // img2img from an odd-sized RGBA PNG (output 64x48)
        var r = try kiln(common + ["--image", image, "--strength", "0.3", "--steps", "10", "--seed", "7", "--scheduler", "euler"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(try worstDifference(out, "mode-img2img-rgba-03"), 1)
        // 4-channel inpainting from a JPEG, default strength and guidance of the inpainting pipeline
        r = try kiln(common + ["--image", photo, "--mask", mask, "--steps", "10", "--seed", "3", "--scheduler", "euler"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(try worstDifference(out, "mode-inpaint-4ch"), 1)
        // ensemble of experts
        r = try kiln(common + ["--refiner", refiner, "--high-noise-frac", "0.7", "--steps", "12", "--width", "64", "--height", "80",
                               "--seed", "22", "--scheduler", "dpmpp-2m", "--max-memory", "0.0001"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(try worstDifference(out, "mode-ensemble-dpmpp-07"), 1)
        let text = try PNGFile.read(out).text
        XCTAssertTrue(text["parameters"]?.contains("Refiner: tiny-sdxl-refiner") ?? false, text["parameters"] ?? "")
        XCTAssertTrue(text["kiln"]?.contains("\"high_noise_frac\":0.7") ?? false)
    }

    /// `kiln render` and `kiln work` give the refiner the base's generator, as one torch.Generator
    /// passed to both diffusers pipelines (one-generator fixtures).
    func testRefinerContinuesTheBaseGeneratorFromTheCommandLineAndTheQueue() throws {
        let out = dir + "/out.png"
        var r = try kiln(["render", "--model", base, "--prompt", prompt, "--no-watermark", "--output", out, "--refiner", refiner,
                          "--refine-after", "--refiner-strength", "0.4", "--steps", "8", "--width", "88", "--height", "56",
                          "--seed", "41", "--scheduler", "euler-a"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(try worstDifference(out, "one-generator-base-then-refiner-euler-a-88x56"), 1)
        XCTAssertTrue(try PNGFile.read(out).text["kiln"]?.contains("\"version\":3") ?? false)
        let db = dir + "/q.db"
        r = try kiln(["enqueue", "--db", db, "--model", base, "--prompt", prompt, "--no-watermark", "--refiner", refiner,
                      "--high-noise-frac", "0.75", "--image", photo, "--mask", mask, "--steps", "10", "--seed", "45", "--scheduler", "euler"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try kiln(["work", "--db", db, "--until-empty", "--output-folder", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try XCTUnwrap(try sql(db, "SELECT output_path FROM v_outputs").first)
        XCTAssertLessThanOrEqual(try worstDifference(png, "one-generator-inpaint-ensemble-euler-88x72"), 1)
    }

    func testLatentsFromDenoisingEndStartARefinerOnlyRender() throws {
        let latents = dir + "/base.safetensors", out = dir + "/out.png"
        var r = try kiln(["render", "--model", base, "--prompt", prompt, "--steps", "10", "--width", "72", "--height", "56",
                          "--seed", "21", "--scheduler", "euler-a", "--denoising-end", "0.8", "--output", latents])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try kiln(["render", "--model", refiner, "--prompt", prompt, "--steps", "10", "--seed", "21", "--scheduler", "euler-a",
                      "--latents", latents, "--denoising-start", "0.8", "--no-watermark", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(try worstDifference(out, "mode-ensemble-euler-a-08"), 1)
    }

    func testSweepOverStrengthAndHighNoiseFracRenders() throws {
        let db = dir + "/q.db"
        var r = try kiln(["sweep", "--db", db, Fixtures.root + "/../../Examples/tiny-modes-sweep.yaml"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try kiln(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try sql(db, "SELECT strength, high_noise_frac, mode, width, height, refiner_hash IS NOT NULL, image_sha256 IS NOT NULL FROM v_outputs ORDER BY strength, high_noise_frac")
        XCTAssertEqual(rows, ["0.5,0.6,image-to-image + refiner,64,48,1,1", "0.5,0.8,image-to-image + refiner,64,48,1,1",
                              "0.8,0.6,image-to-image + refiner,64,48,1,1", "0.8,0.8,image-to-image + refiner,64,48,1,1"])
        XCTAssertEqual(try sql(db, "SELECT COUNT(DISTINCT output_sha256) FROM v_outputs"), ["4"])
        // The contact sheet's axes are the same parameter names.
        r = try kiln(["sheet", "--db", db, "--sweep", "1", "--x", "strength", "--y", "high_noise_frac", "--cell-size", "64", "--output", dir + "/sheet.png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let sheet = try PNGFile.read(dir + "/sheet.png").image
        // 64x48 images fill cells 64 wide and 48 tall.
        XCTAssertEqual(sheet.height, ContactSheet.headerHeight(cellSize: 64) + 2 * (48 + ContactSheet.gutter), "header + 2 fractions")
    }

    /// Each render parameter is a `kiln render` option, and a `v_outputs` column of the same name.
    func testEveryRenderParameterIsAnOptionAndAColumn() throws {
        let help = try kiln(["render", "--help"]).stdout
        let db = dir + "/q.db"
        XCTAssertEqual(try kiln(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--steps", "1", "--width", "64", "--height", "64"]).status, 0)
        XCTAssertEqual(try kiln(["work", "--db", db, "--until-empty"]).status, 0)
        let r = try kiln(["report", "--db", db, "--sql", "SELECT * FROM v_outputs", "--format", "json"])
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let columns = Set(try XCTUnwrap(rows.first).keys)
        let names = ["prompt", "prompt-2", "negative-prompt", "negative-prompt-2", "width", "height", "steps", "guidance",
                     "guidance-rescale", "seed", "scheduler", "clip-skip", "original-size", "crop-top-left", "target-size",
                     "negative-original-size", "negative-crop-top-left", "negative-target-size", "images", "image", "strength",
                     "mask", "padding-mask-crop", "latents", "denoising-start", "denoising-end", "aesthetic-score",
                     "negative-aesthetic-score", "refiner", "refiner-config", "high-noise-frac", "refine-after",
                     "refiner-strength", "vae-tiling", "precision", "watermark", "lora", "embedding"]
        for name in names {
            XCTAssertTrue(help.contains(name == "watermark" ? "--no-watermark" : "--\(name)"), "kiln render --\(name)")
            let column = ["lora": "loras", "embedding": "embeddings"][name] ?? name.replacingOccurrences(of: "-", with: "_")
            XCTAssertTrue(columns.contains(column), "v_outputs.\(column)")
        }
    }

    func testWorkerKilledInTheRefinerStageResumesThereToTheSamePixels() throws {
        let job = ["--model", base, "--prompt", prompt, "--refiner", refiner, "--high-noise-frac", "0.5", "--steps", "40",
                   "--width", "128", "--height", "128", "--seed", "5", "--scheduler", "dpmpp-2m", "--no-watermark"]
        let straight = dir + "/straight.db", crashed = dir + "/crashed.db"
        XCTAssertEqual(try kiln(["enqueue", "--db", straight] + job).status, 0)
        XCTAssertEqual(try kiln(["work", "--db", straight, "--until-empty"]).status, 0)
        XCTAssertEqual(try kiln(["enqueue", "--db", crashed] + job).status, 0)
        let worker = try KilnProcess.start(["work", "--db", crashed, "--until-empty", "--lease", "1"], inheritStderr: true)
        // Wait for a checkpoint a few steps into the refiner, then kill without warning.
        let deadline = Date().addingTimeInterval(120)
        var seen: [String] = []
        while Date() < deadline {
            seen = try sql(crashed, "SELECT stage, step FROM checkpoints")
            if let row = seen.first, row.hasPrefix("refiner,"), let step = Int(row.dropFirst(8)), step >= 24 { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        worker.send(SIGKILL)
        try worker.wait()
        let atKill = try sql(crashed, "SELECT stage, state FROM v_jobs")
        XCTAssertEqual(atKill, ["refiner,running"], "killed inside the refiner stage (last checkpoint \(seen))")
        XCTAssertEqual(try sql(crashed, "PRAGMA integrity_check"), ["ok"])
        Thread.sleep(forTimeInterval: 1.2)  // the dead worker's lease runs out
        XCTAssertEqual(try kiln(["work", "--db", crashed, "--until-empty", "--lease", "1"]).status, 0)
        let a = try sql(straight, "SELECT output_sha256 FROM v_outputs"), b = try sql(crashed, "SELECT output_sha256 FROM v_outputs")
        XCTAssertEqual(a.count, 1)
        XCTAssertEqual(a, b, "resumed in the refiner stage, byte-identical")
        XCTAssertEqual(try sql(crashed, "SELECT state, attempts FROM v_jobs"), ["done,2"])
    }

    func testJobRendersAfterItsInputFilesAreDeleted() throws {
        let db = dir + "/q.db"
        let copyImage = dir + "/photo.jpg", copyMask = dir + "/mask.png"
        try FileManager.default.copyItem(atPath: photo, toPath: copyImage)
        try FileManager.default.copyItem(atPath: mask, toPath: copyMask)
        let r = try kiln(["enqueue", "--db", db, "--model", base, "--prompt", prompt, "--image", copyImage, "--mask", copyMask,
                          "--steps", "10", "--seed", "3", "--scheduler", "euler", "--no-watermark"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try FileManager.default.removeItem(atPath: copyImage)
        try FileManager.default.removeItem(atPath: copyMask)
        XCTAssertEqual(try kiln(["work", "--db", db, "--until-empty", "--output-folder", dir]).status, 0)
        XCTAssertEqual(try sql(db, "SELECT state FROM v_jobs"), ["done"])
        XCTAssertEqual(try sql(db, "SELECT mode, image_sha256 = '\(SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: photo))))' FROM v_outputs"),
                       ["inpainting,1"])
        let png = try XCTUnwrap(try sql(db, "SELECT output_path FROM v_outputs").first)
        XCTAssertLessThanOrEqual(try worstDifference(png, "mode-inpaint-4ch"), 1)
    }

    func testBadInputsFailInOneLineAndWriteNothing() throws {
        let out = dir + "/out.png", db = dir + "/q.db"
        let render = ["render", "--model", base, "--prompt", "x", "--steps", "2", "--output", out]
        let text = dir + "/notes.txt"
        try Data("not an image\n".utf8).write(to: URL(fileURLWithPath: text))
        try assertOneLineFailure(render + ["--image", photo, "--mask", text], mentions: ["notes.txt", "PNG", "JPEG"])
        try assertOneLineFailure(render + ["--image", text], mentions: ["notes.txt", "PNG", "JPEG"])
        try assertOneLineFailure(render + ["--image", photo, "--strength", "0"], mentions: ["--strength", "(0, 1]"])
        try assertOneLineFailure(render + ["--image", photo, "--strength", "1.5"], mentions: ["--strength"])
        try assertOneLineFailure(render + ["--refiner", refiner, "--high-noise-frac", "1"], mentions: ["--high-noise-frac"])
        try assertOneLineFailure(render + ["--refiner", refiner, "--high-noise-frac", "0"], mentions: ["--high-noise-frac"])
        // A refiner whose added-embedding sizes fit no SDXL conditioning.
        let odd = dir + "/odd-refiner"
        try FileManager.default.copyItem(atPath: refiner, toPath: odd)
        let configPath = odd + "/unet/config.json"
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        config["addition_time_embed_dim"] = 4
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        try assertOneLineFailure(render + ["--refiner", odd, "--high-noise-frac", "0.8"], mentions: ["odd-refiner", "micro-conditioning"])
        // A 30000x30000 PNG of a few bytes: refused from its header.
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in typed {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + typed + withUnsafeBytes(of: (crc ^ 0xFFFF_FFFF).bigEndian, Array.init)
        }
        let side = withUnsafeBytes(of: UInt32(30000).bigEndian, Array.init)
        let bomb = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", side + side + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", []))
        let bombPath = dir + "/bomb.png"
        try bomb.write(to: URL(fileURLWithPath: bombPath))
        try assertOneLineFailure(render + ["--image", bombPath], mentions: ["bomb.png", "30000"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output written")
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--image", bombPath], mentions: ["bomb.png"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "no queue written")
    }
}
