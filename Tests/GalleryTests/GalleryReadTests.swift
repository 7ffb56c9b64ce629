import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// The reads `kiln serve` makes through `QueueReader`, on SQLite and on PostgreSQL alike.
final class GalleryReadTests: QueueTestCase {
    func testOverviewSweepsAndAxes() throws {
        try onEachBackend { _ in
            let reader = try Queues.openReader(try gallerySweep())
            let overview = try reader.overview()
            XCTAssertEqual(overview.counts, ["done": 12])
            XCTAssertEqual(overview.running, [])
            XCTAssertEqual(overview.stepsLeft, 0)
            XCTAssertNotNil(overview.secondsPerStep)
            XCTAssertFalse(overview.paused)
            let sweeps = try reader.sweeps(PageRequest())
            XCTAssertEqual(sweeps.total, 1)
            XCTAssertEqual(sweeps.items.first?.counts, ["done": 12])
            XCTAssertEqual(sweeps.items.first?.outputs, 12)
            XCTAssertEqual(sweeps.items.first?.name, "gallery <b>sweep</b>")
            XCTAssertEqual(try reader.sweep(1)?.finished, 12)
            XCTAssertNil(try reader.sweep(2))
            XCTAssertEqual(try reader.sweepAxes(1), [SweepAxis(parameter: "guidance", values: ["3", "7"]),
                                                     SweepAxis(parameter: "scheduler", values: ["euler", "dpmpp-2m"]),
                                                     SweepAxis(parameter: "seed", values: ["1", "2", "3"])])
            XCTAssertEqual(try reader.sweepAxes(99), [])
        }
    }

    func testSweepPagesAreSortedByParametersAndBounded() throws {
        try onEachBackend { _ in
            let reader = try Queues.openReader(try gallerySweep())
            let page = try reader.sweepPage(1, orderedBy: ["guidance", "seed", "scheduler"], page: PageRequest(limit: 5, offset: 0))
            XCTAssertEqual(page.total, 12)
            XCTAssertEqual(page.items.count, 5)
            let labels = try page.items.map { card -> String in
                let record = try JSONDecoder().decode(Provenance.self, from: Data(card.provenance.utf8))
                return ["guidance", "seed", "scheduler"].compactMap { RenderParameters.named($0)?.label(in: record) }.joined(separator: " ")
            }
            XCTAssertEqual(labels, ["3 1 dpmpp-2m", "3 1 euler", "3 2 dpmpp-2m", "3 2 euler", "3 3 dpmpp-2m"])
            let rest = try reader.sweepPage(1, orderedBy: ["guidance", "seed", "scheduler"], page: PageRequest(limit: 5, offset: 10))
            XCTAssertEqual(rest.items.count, 2)
            // Names that are no parameter are ignored, never put into SQL.
            XCTAssertEqual(try reader.sweepPage(1, orderedBy: ["seed; DROP TABLE jobs", "nonsense"], page: PageRequest()).items.count, 12)
            XCTAssertEqual(PageRequest(limit: 100_000, offset: -5), PageRequest(limit: 200, offset: 0))
            XCTAssertEqual(try reader.overview().counts, ["done": 12])
        }
    }

    func testOneImageAndOneJobWithEveryColumn() throws {
        try onEachBackend { _ in
            let location = try gallerySweep()
            let reader = try Queues.openReader(location)
            let detail = try XCTUnwrap(try reader.output(1))
            let view = try reader.query("SELECT * FROM v_outputs WHERE output_id = 1", timeout: 10)
            let expected = zip(view.columns, view.rows[0]).filter { !["provenance", "step_seconds"].contains($0.0) }
            XCTAssertEqual(detail.columns, expected.map(\.0))
            XCTAssertEqual(detail.values, expected.map(\.1))
            XCTAssertEqual(detail.card.prompt, GallerySweep.prompt)
            XCTAssertEqual(detail.value("seed"), detail.card.seed)
            XCTAssertNil(try reader.output(13))
            let image = try XCTUnwrap(try reader.outputImage(1))
            var stored: Data?
            try reader.forEachOutput(JobSelection(jobs: [detail.card.jobID])) { stored = $0.png }
            XCTAssertEqual(image.png, stored)
            XCTAssertNil(try reader.outputImage(0))
            let job = try XCTUnwrap(try reader.job(detail.card.jobID))
            XCTAssertEqual(job.summary.state, "done")
            XCTAssertEqual(job.outputs, [1])
            XCTAssertEqual(job.summary.firstOutput, 1)
            XCTAssertTrue(job.request.contains("num_inference_steps"))
            XCTAssertTrue(job.columns.contains("error_kind"))
            XCTAssertNil(try reader.job(100))
        }
    }

    func testFiltersOnStatePromptSeedAndModel() throws {
        try onEachBackend { _ in
            let reader = try Queues.openReader(try gallerySweep())
            func jobs(_ f: QueueFilter) throws -> Int { try reader.jobs(f, page: PageRequest()).total }
            func images(_ f: QueueFilter) throws -> Int { try reader.outputs(f, page: PageRequest()).total }
            XCTAssertEqual(try jobs(QueueFilter()), 12)
            XCTAssertEqual(try jobs(QueueFilter(state: "done")), 12)
            XCTAssertEqual(try jobs(QueueFilter(state: "failed")), 0)
            XCTAssertEqual(try jobs(QueueFilter(prompt: "LIGHTHOUSE")), 12, "case-insensitive")
            XCTAssertEqual(try jobs(QueueFilter(prompt: "%")), 0, "no LIKE patterns")
            XCTAssertEqual(try jobs(QueueFilter(prompt: "<script>")), 12)
            XCTAssertEqual(try jobs(QueueFilter(seed: 2)), 4)
            XCTAssertEqual(try jobs(QueueFilter(model: "tiny-sdxl-base")), 12)
            XCTAssertEqual(try jobs(QueueFilter(model: "refiner")), 0)
            XCTAssertEqual(try jobs(QueueFilter(sweep: 2)), 0)
            XCTAssertEqual(try images(QueueFilter(state: "done", prompt: "dusk", seed: 3, model: "tiny", sweep: 1)), 4)
            XCTAssertEqual(try images(QueueFilter(state: "queued")), 0)
            XCTAssertEqual(try images(QueueFilter(prompt: "' OR 1=1 --")), 0)
            let page = try reader.outputs(QueueFilter(seed: 1), page: PageRequest(limit: 3))
            XCTAssertEqual(page.items.map(\.outputID), [10, 7, 4], "newest first")
            XCTAssertEqual(page.items.first?.seed, "1")
            XCTAssertEqual(QueueFilter(state: "exploded").state, nil, "unknown states are dropped")
        }
    }
}
