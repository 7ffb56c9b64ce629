import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// Examples/tiny-few-step-sweep.yaml, as README's "Few-step models" runs it: it parses, expands
/// to steps 2/4/8 x lcm/tcd, renders on both databases, and its 4-step LCM job is diffusers'
/// image of LCM-LoRA's recipe with that LoRA (expected/lora-layouts.json's kohya-diffusers-names).
final class FewStepSweepExampleTests: QueueTestCase {
    let spec = Fixtures.root + "/../../Examples/tiny-few-step-sweep.yaml"

    func testFewStepExampleExpandsRendersAndEqualsDiffusers() throws {
        try onEachBackend { _ in
            let db = try queue("fewstep")
            let dry = try KilnProcess.run(["sweep", "--db", db, spec, "--dry-run"])
            XCTAssertEqual(dry.status, 0, dry.stderr)
            XCTAssertTrue(dry.stdout.hasPrefix("6 jobs\n"), dry.stdout)
            XCTAssertTrue(try nothingWritten(db), "a dry run writes nothing")

            let sweep = try KilnProcess.run(["sweep", "--db", db, spec])
            XCTAssertEqual(sweep.stdout, "sweep 1: 6 jobs\n", sweep.stderr)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", dir])
            XCTAssertEqual(work.status, 0, work.stderr)
            XCTAssertTrue(work.stdout.hasSuffix("6 jobs, models built: 1\n"), "one model with its LoRA merged once: \(work.stdout)")

            let rows = try KilnProcess.query(db, "SELECT scheduler, steps, guidance, eta IS NULL, loras LIKE '%layout-kohya-diffusers-names%' FROM v_outputs ORDER BY job_id")
            XCTAssertEqual(rows, ["lcm,2,1,1,1", "lcm,4,1,1,1", "lcm,8,1,1,1", "tcd,2,1,1,1", "tcd,4,1,1,1", "tcd,8,1,1,1"])
            XCTAssertEqual(try KilnProcess.query(db, "SELECT COUNT(DISTINCT output_sha256) FROM v_outputs"), ["6"])

            let path = try XCTUnwrap(try KilnProcess.query(db, "SELECT output_path FROM v_outputs WHERE scheduler = 'lcm' AND steps = 4").first)
            let picture = try PNGFile.read(path)
            let result = PixelComparison([(picture.image.width, picture.image.height, picture.image.pixels)],
                                         try Expected("lora-layout-kohya-diffusers-names").tensor("pixels"))
            XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
        }
    }
}
