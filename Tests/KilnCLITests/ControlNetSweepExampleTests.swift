import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// Examples/tiny-controlnet-sweep.yaml, as README's "ControlNet" runs it: control scales 0.5, 1.0,
/// 1.5 x seeds 1, 2 with the tiny ControlNet and the fox's canny edges (paths relative to the
/// spec), queued and worked on both databases; each job's scale in v_outputs, and its image the
/// one `kiln render` gives for the same options.
final class ControlNetSweepExampleTests: QueueTestCase {
    let examples = Fixtures.root + "/../../Examples"
    var spec: String { examples + "/tiny-controlnet-sweep.yaml" }

    /// The example's control image is what README's `kiln control canny` line makes of the fox.
    func testTheExampleControlImageIsTheFoxsCannyEdges() throws {
        let out = dir + "/edges.png"
        let r = try KilnProcess.run(["control", "canny", examples + "/images/fox-70x50.png", "--low", "100", "--high", "200", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ImageFile.read(out).pixels, try ImageFile.read(examples + "/images/fox-edges-70x50.png").pixels)
    }

    func testControlScaleExampleSweepsRendersAndRecordsTheScale() throws {
        try onEachBackend { _ in
            let db = try queue("controlsweep")
            let sweep = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertEqual(sweep.stdout, "sweep 1: 6 jobs\n", sweep.stderr)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", dir])
            XCTAssertEqual(work.status, 0, work.stderr)
            XCTAssertTrue(work.stdout.hasSuffix("6 jobs, models built: 1\n"), work.stdout)

            let rows = try KilnProcess.query(db, "SELECT control_scale, seed, width, height, steps FROM v_outputs ORDER BY job_id")
            XCTAssertEqual(rows, ["[0.5],1,64,48,4", "[0.5],2,64,48,4", "[1],1,64,48,4", "[1],2,64,48,4", "[1.5],1,64,48,4", "[1.5],2,64,48,4"])
            let stored = try KilnProcess.query(db, "SELECT control_image, controlnet FROM v_outputs")
            XCTAssertTrue(stored.allSatisfy { $0.contains("fox-edges-70x50.png") && $0.contains("tiny-controlnet") }, "\(stored)")
            XCTAssertEqual(try KilnProcess.query(db, "SELECT COUNT(DISTINCT output_sha256) FROM v_outputs"), ["6"], "each scale and seed gives its own image")

            let path = try XCTUnwrap(try KilnProcess.query(db, "SELECT output_path FROM v_outputs WHERE seed = 2 AND control_scale = '[1.5]'").first)
            let single = dir + "/single.png"
            let render = try KilnProcess.run(["render", "--model", examples + "/../Tests/Fixtures/models/tiny-sdxl-base",
                                              "--prompt", "a fox in the snow, watercolor", "--controlnet", examples + "/../Tests/Fixtures/models/tiny-controlnet",
                                              "--control-image", examples + "/images/fox-edges-70x50.png", "--control-scale", "1.5",
                                              "--seed", "2", "--steps", "4", "--no-watermark", "--output", single])
            XCTAssertEqual(render.status, 0, render.stderr)
            XCTAssertEqual(try ImageFile.read(path).pixels, try ImageFile.read(single).pixels, "the queued job is kiln render's image")
        }
    }
}
