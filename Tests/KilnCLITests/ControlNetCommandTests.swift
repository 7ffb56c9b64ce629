import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--controlnet` through real `kiln` processes: a render equal to diffusers', and bad input
/// refused in one line with a non-zero exit, before anything loads or is queued.
final class ControlNetCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")
    let controlnet = Fixtures.model("tiny-controlnet"), second = Fixtures.model("tiny-controlnet-2")
    let edges = Fixtures.path("images/control-edges-75x61.png"), shapes = Fixtures.path("images/control-shapes-75x61.png")

    /// The tiny ControlNet's config with `edit` applied, in a folder with no weights: a refusal
    /// from it happened before anything loaded.
    func controlNetConfig(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let source = controlnet + "/config.json"
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source))) as? [String: Any])
        edit(&object)
        let folder = dir + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: folder + "/config.json"))
        return folder
    }

    /// diffusers' "two" case (controlnet_fixtures.py) from the command line: the options paired in
    /// order, the output sized by the control images.
    func testTwoControlNetsFromTheCommandLineEqualDiffusers() throws {
        let out = dir + "/two.png"
        let r = try KilnProcess.run(["render", "--model", base, "--prompt", "a lighthouse on a cliff at dusk", "--seed", "52", "--steps", "5",
                                     "--controlnet", controlnet, "--control-image", edges, "--control-scale", "0.6",
                                     "--controlnet", second, "--control-image", shapes, "--control-scale", "1.1",
                                     "--no-watermark", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try ImageFile.read(data: Data(contentsOf: URL(fileURLWithPath: out)), name: out)
        let result = PixelComparison([(image.width, image.height, image.pixels)], try Expected("controlnet-two").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }

    /// diffusers' "inpaint" case (StableDiffusionXLControlNetInpaintPipeline) from the command line:
    /// that pipeline's defaults (strength 0.9999, control scale 1.0, guidance 5.0), the input's size.
    func testInpaintingWithAControlNetFromTheCommandLineEqualsDiffusers() throws {
        let out = dir + "/inpainted.png"
        let r = try KilnProcess.run(["render", "--model", base, "--prompt", "a lighthouse on a cliff at dusk", "--seed", "81", "--steps", "6",
                                     "--image", Fixtures.path("images/input-photo-88x72.jpg"), "--mask", Fixtures.path("images/mask-rgb-88x72.png"),
                                     "--controlnet", controlnet, "--control-image", Fixtures.path("images/control-edges-88x72.png"),
                                     "--no-watermark", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try ImageFile.read(data: Data(contentsOf: URL(fileURLWithPath: out)), name: out)
        let result = PixelComparison([(image.width, image.height, image.pixels)], try Expected("controlnet-inpaint").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }

    /// A queued ControlNet inpainting job on each database: input image, mask and control image
    /// stored with the job (the files are gone when it renders), the image equal to diffusers', and
    /// v_outputs recording the mode and the pipeline's defaults it ran with (guidance 5, strength 0.9999).
    func testAQueuedControlNetInpaintingJobOnBothDatabases() throws {
        for backend in QueueBackend.allCases {
            let db = try TestQueues.location(backend, "inpaint", in: dir), out = dir + "/\(backend)"
            var copies: [String] = []
            for file in ["input-photo-88x72.jpg", "mask-rgb-88x72.png", "control-edges-88x72.png"] {
                copies.append(dir + "/\(backend)-" + file)
                try FileManager.default.copyItem(atPath: Fixtures.path("images/" + file), toPath: copies[copies.count - 1])
            }
            let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--prompt", "a lighthouse on a cliff at dusk",
                                               "--seed", "81", "--steps", "6", "--image", copies[0], "--mask", copies[1],
                                               "--controlnet", controlnet, "--control-image", copies[2], "--no-watermark"])
            XCTAssertEqual(enqueue.status, 0, "\(backend): \(enqueue.stderr)")
            for copy in copies { try FileManager.default.removeItem(atPath: copy) }  // the job has their bytes
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out])
            XCTAssertEqual(work.status, 0, "\(backend): \(work.stderr)")
            let image = try ImageFile.read(out + "/job-1-0.png")
            let result = PixelComparison([(image.width, image.height, image.pixels)], try Expected("controlnet-inpaint").tensor("pixels"))
            XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(backend): \(result)")
            let rows = try KilnProcess.query(db, "SELECT mode, guidance, strength, width FROM v_outputs")
            XCTAssertEqual(rows, ["inpainting,5,0.9999,88"], "\(backend)")
        }
    }

    /// Queued: the control images stored by hash with the job, the worker's image equal to
    /// diffusers' (the window case).
    func testAQueuedControlNetJobRendersFromItsStoredImages() throws {
        let db = dir + "/q.db", out = dir + "/out"
        let copy = dir + "/shapes.png"
        try FileManager.default.copyItem(atPath: shapes, toPath: copy)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--prompt", "a lighthouse on a cliff at dusk", "--seed", "53",
                                           "--steps", "8", "--controlnet", controlnet, "--control-image", copy, "--control-start", "0.25",
                                           "--control-end", "0.7", "--no-watermark"])
        XCTAssertEqual(enqueue.status, 0, enqueue.stderr)
        try FileManager.default.removeItem(atPath: copy)  // the job has its bytes
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out])
        XCTAssertEqual(work.status, 0, work.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }
        XCTAssertEqual(files.count, 1)
        let path = out + "/" + (files.first ?? "")
        let image = try ImageFile.read(data: Data(contentsOf: URL(fileURLWithPath: path)), name: path)
        let result = PixelComparison([(image.width, image.height, image.pixels)], try Expected("controlnet-window").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }

    /// A sweep over the conditioning scale is one spec: one job per scale on each database, the
    /// control image (relative to the spec) stored once, the scales, window and ControlNet hash
    /// in v_outputs.
    func testSweepOverControlScaleOnBothDatabases() throws {
        try FileManager.default.copyItem(atPath: edges, toPath: dir + "/edges.png")
        for backend in QueueBackend.allCases {
            let db = try TestQueues.location(backend, "control", in: dir), spec = dir + "/\(backend).yaml"
            try """
                model: \(base)
                base: {prompt: "a lighthouse", steps: 3, seed: 5, watermark: false, controlnet: \(controlnet), control_image: edges.png,
                       control_end: 0.8}
                axes:
                  control_scale: [0.3, 1.5]
                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let sweep = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertEqual(sweep.stdout, "sweep 1: 2 jobs\n", "\(backend): \(sweep.stderr)")
            let out = dir + "/\(backend)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out])
            XCTAssertEqual(work.status, 0, "\(backend): \(work.stderr)")
            // A hash each: ["0123456789"], 14 characters.
            let rows = try KilnProcess.query(db, "SELECT control_scale, control_end, guess_mode, width, length(controlnet_hashes) FROM v_outputs ORDER BY job_id")
            XCTAssertEqual(rows, ["[0.3],[0.8],0,72,14", "[1.5],[0.8],0,72,14"], "\(backend)")
            let stored = try KilnProcess.query(db, "SELECT control_image FROM v_outputs ORDER BY job_id")
            XCTAssertTrue(stored.allSatisfy { $0.contains("edges.png") && $0.contains("c650271c05879c4f") }, "\(backend): \(stored)")
            let images = try (1...2).map { try ImageFile.read(out + "/job-\($0)-0.png").pixels }
            XCTAssertNotEqual(images[0], images[1], "\(backend): the scale changes the image")
        }
    }

    /// controlnet_fixtures.py's "refiner-after" from the command line: the ControlNet stage's
    /// latents finished by the refiner without control, one generator through both.
    func testControlNetThenRefinerFromTheCommandLineEqualsDiffusers() throws {
        let out = dir + "/refined.png"
        let r = try KilnProcess.run(["render", "--model", base, "--prompt", "a lighthouse on a cliff at dusk", "--seed", "71", "--steps", "8",
                                     "--scheduler", "euler-a", "--controlnet", controlnet, "--control-image", edges, "--control-scale", "0.8",
                                     "--refiner", Fixtures.model("tiny-sdxl-refiner"), "--refine-after", "--refiner-strength", "0.4",
                                     "--no-watermark", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try ImageFile.read(data: Data(contentsOf: URL(fileURLWithPath: out)), name: out)
        let result = PixelComparison([(image.width, image.height, image.pixels)], try Expected("controlnet-refiner-after").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }

    /// diffusers' ControlNet image-to-image pipeline has no denoising_end, so it makes no ensemble
    /// of experts with the refiner: refused in one line, nothing queued.
    func testRefinerCombinationsDiffusersLacksAreRefused() throws {
        let refiner = Fixtures.model("tiny-sdxl-refiner")
        let photo = Fixtures.path("images/input-photo-88x72.jpg")
        let control = ["--controlnet", controlnet, "--control-image", edges, "--image", photo, "--refiner", refiner]
        try assertOneLineFailure(render(control + ["--high-noise-frac", "0.8"]), mentions: ["--high-noise-frac", "denoising_end", "--refine-after"])
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x"] + control + ["--high-noise-frac", "0.7"],
                                 mentions: ["--high-noise-frac"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing queued")
    }

    func render(_ extra: [String]) -> [String] {
        ["render", "--model", base, "--prompt", "x", "--steps", "2", "--output", dir + "/o.png"] + extra
    }

    func testControlNetsThatDoNotFitTheBaseAreRefusedFromTheirConfigs() throws {
        let wide = try controlNetConfig("wide") { $0["cross_attention_dim"] = 2048 }
        try assertOneLineFailure(render(["--controlnet", wide, "--control-image", edges]), mentions: ["controlnet", "cross_attention_dim", "2048", "base"])
        let added = try controlNetConfig("added") { $0["projection_class_embeddings_input_dim"] = 2816 }
        try assertOneLineFailure(render(["--controlnet", added, "--control-image", edges]),
                                 mentions: ["projection_class_embeddings_input_dim", "2816"])
        let sd15 = try controlNetConfig("sd15") {
            $0["addition_embed_type"] = NSNull(); $0["projection_class_embeddings_input_dim"] = NSNull(); $0["cross_attention_dim"] = 768
        }
        try assertOneLineFailure(render(["--controlnet", sd15, "--control-image", edges]), mentions: ["SD 1.5", "SDXL"])
        let coarse = try controlNetConfig("coarse") { $0["conditioning_embedding_out_channels"] = [4, 8] }
        try assertOneLineFailure(render(["--controlnet", coarse, "--control-image", edges]),
                                 mentions: ["conditioning_embedding_out_channels", "by 2", "by 8"])
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--controlnet", sd15, "--control-image", edges],
                                 mentions: ["SD 1.5"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing queued")
    }

    func testUnequalCountsAndBadWindowsAreRefused() throws {
        try assertOneLineFailure(render(["--controlnet", controlnet, "--controlnet", second, "--control-image", edges]),
                                 mentions: ["--control-image", "1 control image(s) for 2 ControlNet(s)"])
        try assertOneLineFailure(render(["--control-image", edges]), mentions: ["--control-image", "needs --controlnet"])
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", edges, "--control-end", "1.5"]),
                                 mentions: ["--control-end", "between 0 and 1"])
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", edges, "--control-start=-0.1"]),
                                 mentions: ["--control-start", "between 0 and 1"])
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", edges, "--control-start", "0.6", "--control-end", "0.4"]),
                                 mentions: ["--control-start", "below control-end"])
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", edges, "--control-scale", "1", "--control-scale", "2",
                                         "--control-scale", "3"]), mentions: ["--control-scale", "3 values for 1 ControlNet"])
        let photo = Fixtures.path("images/input-photo-88x72.jpg"), mask = Fixtures.path("images/mask-rgb-88x72.png")
        // diffusers' ControlNet inpainting pipeline has no timesteps, sigmas or negative size conditioning.
        let inpaint = ["--controlnet", controlnet, "--control-image", edges, "--image", photo, "--mask", mask]
        try assertOneLineFailure(["render", "--model", base, "--prompt", "x", "--output", dir + "/o.png", "--timesteps", "999,500"] + inpaint,
                                 mentions: ["--timesteps", "inpainting pipeline"])
        try assertOneLineFailure(render(inpaint + ["--negative-original-size", "64x64"]),
                                 mentions: ["--negative-original-size", "inpainting pipeline"])
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", edges, "--image", photo, "--denoising-end", "0.5"]),
                                 mentions: ["--denoising-end", "image-to-image pipeline"])
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--controlnet", controlnet,
                                  "--control-image", edges, "--control-start", "0.5", "--control-end", "0.5"], mentions: ["--control-start"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing queued")
    }

    func testControlImagesThatAreNoImageOrTooLargeAreRefused() throws {
        let text = dir + "/edges.png"
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: text))
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", text]), mentions: ["edges.png"])
        let bomb = dir + "/bomb.png"
        try HostileImageTests.bombPNG(width: 30000, height: 30000).write(to: URL(fileURLWithPath: bomb))
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", bomb]), mentions: ["bomb.png", "30000x30000"])
        try assertOneLineFailure(render(["--controlnet", controlnet, "--control-image", dir + "/missing.png"]), mentions: ["missing.png"])
        try assertOneLineFailure(render(["--controlnet", dir + "/no-such-controlnet", "--control-image", edges]), mentions: ["no-such-controlnet"])
    }
}
