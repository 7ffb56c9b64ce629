import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--vae` through real `kiln` processes: a render and a queued job with an AutoencoderTiny
/// against diffusers' image, the PNG's record of it, a sweep over VAEs, and bad VAEs refused in
/// one line with nothing written or enqueued.
final class VAECommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")
    let tiny = Fixtures.model("vae-tiny-taesd")
    // renders-vae-swap.json's "tiny-text2img-88x56".
    let call = ["--prompt", "a red boat on a green lake", "--width", "88", "--height", "56", "--steps", "3", "--guidance", "5",
                "--seed", "63", "--no-watermark"]

    func assertTinyRender(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let picture = try PNGFile.read(path)
        let result = PixelComparison([(picture.image.width, picture.image.height, picture.image.pixels)],
                                     try Expected("render-vae-swap").tensor("tiny-text2img-88x56"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)", file: file, line: line)
        return picture.text["parameters"] ?? ""
    }

    func testRenderAndQueuedJobDecodeWithTheVAEAsDiffusers() throws {
        let out = dir + "/out.png"
        let r = try KilnProcess.run(["render", "--model", base, "--vae", tiny, "--output", out] + call)
        XCTAssertEqual(r.status, 0, r.stderr)
        let parameters = try assertTinyRender(out)
        XCTAssertTrue(parameters.contains(", VAE: vae-tiny-taesd, VAE hash: "), parameters)

        let db = dir + "/q.db"
        let queued = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--vae", tiny] + call)
        XCTAssertEqual(queued.status, 0, queued.stderr)
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", dir])
        XCTAssertEqual(work.status, 0, work.stderr)
        let rows = try KilnProcess.query(db, "SELECT vae, vae_sha256, output_path FROM v_outputs")
        XCTAssertEqual(rows.count, 1)
        let fields = rows[0].split(separator: ",").map(String.init)
        XCTAssertEqual(fields.first, tiny)
        XCTAssertTrue(parameters.contains("VAE hash: \(fields[1].prefix(10))"), "\(rows) \(parameters)")
        _ = try assertTinyRender(fields[2])
    }

    /// `org/name` names a VAE repo's snapshot in the Hugging Face cache (madebyollin/taesdxl holds
    /// one component, no model_index.json), `org/name:FILE` one file in it.
    func testHubIdsNameAVAEInTheCache() throws {
        let commit = String(repeating: "c", count: 40)
        let cache = try HubCacheFixture(root: dir + "/hf/hub")
        let snapshot = try cache.add(repo: "kiln-test/taesd", commit: commit, from: tiny)
        let env = ["HF_HUB_CACHE": "", "HUGGINGFACE_HUB_CACHE": "", "HF_HOME": dir + "/hf"]
        let out = dir + "/hub.png"
        let r = try KilnProcess.run(["render", "--model", base, "--vae", "kiln-test/taesd", "--output", out] + call, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        _ = try assertTinyRender(out)
        let db = dir + "/q.db"
        let queued = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--vae", "kiln-test/taesd:config.json"] + call, environment: env)
        XCTAssertNotEqual(queued.status, 0, "a config file alone is no VAE")
        XCTAssertTrue(queued.stderr.contains(snapshot + "/config.json"), queued.stderr)
        let missing = try KilnProcess.run(["render", "--model", base, "--vae", "kiln-test/no-such-vae", "--output", out] + call, environment: env)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--vae") && missing.stderr.contains("kiln-test/no-such-vae"), missing.stderr)
    }

    func testSweepOverVAEs() throws {
        let db = dir + "/q.db", spec = dir + "/spec.yaml"
        try """
        model: \(base)
        base: {prompt: a boat, steps: 2, width: 64, height: 48, watermark: false}
        axes:
          vae: ["\(tiny)", "\(Fixtures.model("vae-kl-tiny-original.safetensors"))"]
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let swept = try KilnProcess.run(["sweep", "--db", db, spec])
        XCTAssertEqual(swept.status, 0, swept.stderr)
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", dir])
        XCTAssertEqual(work.status, 0, work.stderr)
        XCTAssertTrue(work.stdout.contains("models built: 2"), work.stdout)
        XCTAssertEqual(try KilnProcess.query(db, "SELECT COUNT(DISTINCT vae_sha256) FROM v_outputs"), ["2"])
    }

    func testBadVAEsFailInOneLine() throws {
        let render = ["render", "--model", base, "--prompt", "x", "--steps", "1", "--width", "64", "--height", "48", "--output", dir + "/o.png"]
        let pickle = dir + "/vae.ckpt"
        try Data([0x50, 0x4B, 0x03, 0x04]).write(to: URL(fileURLWithPath: pickle))
        try assertOneLineFailure(render + ["--vae", pickle], mentions: ["--vae", "vae.ckpt", "pickled", "save_file("])
        try assertOneLineFailure(render + ["--vae", dir + "/missing"], mentions: ["--vae", "missing", "file not found"])
        try assertOneLineFailure(render + ["--vae", tiny, "--vae-tiling"], mentions: ["--vae-tiling", "AutoencoderTiny"])
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--vae", pickle], mentions: ["vae.ckpt"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "refused when queued, nothing written")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o.png"))
    }
}
