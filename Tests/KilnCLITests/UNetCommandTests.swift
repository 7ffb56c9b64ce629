import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--unet` through real `kiln` processes: an LCM UNet rendered as diffusers renders it with its
/// hash in the PNG, the hash in `v_outputs`, and bad UNets refused in one line before anything is queued.
final class UNetCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")
    let lcm = Fixtures.model("unets/lcm-unet")

    /// The fixture's `lcm-unet-guidance-8` case (unet-swap.json) as options.
    var lcmOptions: [String] {
        ["--prompt", "a red fox in the snow", "--negative-prompt", "ignored without guidance batches", "--steps", "4", "--guidance", "8",
         "--width", "88", "--height", "56", "--seed", "5", "--scheduler", "lcm", "--no-watermark", "--unet", lcm]
    }

    func testRenderWithAnLCMUNetEqualsDiffusersAndRecordsIt() throws {
        let out = dir + "/out.png"
        let r = try KilnProcess.run(["render", "--model", base] + lcmOptions + ["--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let picture = try PNGFile.read(out)
        let result = PixelComparison([(picture.image.width, picture.image.height, picture.image.pixels)],
                                     try Expected("unet-swap-lcm-unet-guidance-8").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
        XCTAssertTrue(picture.text["parameters"]?.contains("UNet: lcm-unet [") ?? false, picture.text["parameters"] ?? "")
    }

    func testQueuedJobRecordsTheUNetAndItsHash() throws {
        let db = dir + "/q.db"
        let swap = Fixtures.model("unets/swap-unet")
        let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--prompt", "a lighthouse", "--steps", "2", "--width", "64",
                                           "--height", "48", "--guidance", "0", "--unet", swap])
        XCTAssertEqual(enqueue.status, 0, enqueue.stderr)
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(work.status, 0, work.stderr)
        let rows = try KilnProcess.query(db, "SELECT unet, length(unet_sha256) FROM v_outputs")
        XCTAssertEqual(rows, ["\(swap),64"])
    }

    /// A sweep over UNets (paths relative to the spec): one model built per UNet.
    func testSweepOverUNets() throws {
        try FileManager.default.createSymbolicLink(atPath: dir + "/unets", withDestinationPath: Fixtures.model("unets"))
        let db = dir + "/q.db", spec = dir + "/spec.yaml"
        try """
        model: \(base)
        base: {prompt: a lighthouse, steps: 2, width: 64, height: 48, guidance: 2, watermark: false}
        axes:
          unet: [unets/swap-unet, unets/lcm-unet]
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let sweep = try KilnProcess.run(["sweep", "--db", db, spec])
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let r = try KilnProcess.run(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("models built: 2"), r.stdout)
        let rows = try KilnProcess.query(db, "SELECT unet FROM v_outputs ORDER BY unet")
        XCTAssertEqual(rows, [dir + "/unets/lcm-unet", dir + "/unets/swap-unet"])
    }

    func testBadUNetsFailInOneLineAndQueueNothing() throws {
        let bin = dir + "/dmd2_sdxl_4step_unet_fp16.bin"
        try Data([0x80, 0x02, 0x7d, 0x71]).write(to: URL(fileURLWithPath: bin))
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--unet", bin],
                                 mentions: ["--unet", "pickled", "python3 -c", "dmd2_sdxl_4step_unet_fp16.safetensors"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "refused when queued, nothing written")
        let empty = dir + "/empty.safetensors"
        try Data([8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8)).write(to: URL(fileURLWithPath: empty))
        try assertOneLineFailure(["render", "--model", base, "--prompt", "x", "--steps", "1", "--unet", empty, "--output", dir + "/o.png"],
                                 mentions: ["empty.safetensors", "holds no UNet tensors"])
        try assertOneLineFailure(["render", "--model", base, "--prompt", "x", "--steps", "1", "--unet", dir + "/missing", "--output", dir + "/o.png"],
                                 mentions: ["missing"])
        // A UNet for other text encoders is refused from its config when the job is added.
        let other = dir + "/other-unet"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let config = try String(contentsOfFile: lcm + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"cross_attention_dim\": 48", with: "\"cross_attention_dim\": 32")
            .write(toFile: other + "/config.json", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: other + "/diffusion_pytorch_model.safetensors",
                                                   withDestinationPath: lcm + "/diffusion_pytorch_model.safetensors")
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--unet", other],
                                 mentions: ["other-unet", "cross_attention_dim is 32", "has 48"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "refused when queued, nothing written")
    }
}
