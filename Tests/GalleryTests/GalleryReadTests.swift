import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// The reads `kiln serve` makes through `GalleryReader`, on SQLite and on PostgreSQL alike.
final class GalleryReadTests: QueueTestCase {
    func testOverviewSweepsAndAxes() async throws {
        try await onEachBackend { _ in
            try await Queues.withGalleryReader(try await gallerySweep()) { reader in
                let overview = try await reader.overview()
                XCTAssertEqual(overview.counts, ["done": 12])
                XCTAssertEqual(overview.running, [])
                XCTAssertEqual(overview.stepsLeft, 0)
                XCTAssertNotNil(overview.secondsPerStep)
                XCTAssertFalse(overview.paused)
                let sweeps = try await reader.sweeps(PageRequest())
                XCTAssertEqual(sweeps.total, 1)
                XCTAssertEqual(sweeps.items.first?.counts, ["done": 12])
                XCTAssertEqual(sweeps.items.first?.outputs, 12)
                XCTAssertEqual(sweeps.items.first?.name, "gallery <b>sweep</b>")
                let read1 = try await reader.sweep(1)?.finished
                XCTAssertEqual(read1, 12)
                let read2 = try await reader.sweep(2)
                XCTAssertNil(read2)
                let axes = try await reader.sweepAxes(1)
                XCTAssertEqual(axes, [SweepAxis(parameter: "guidance", values: ["3", "7"]),
                                      SweepAxis(parameter: "scheduler", values: ["euler", "dpmpp-2m"]),
                                      SweepAxis(parameter: "seed", values: ["1", "2", "3"])])
                let read3 = try await reader.sweepAxes(99)
                XCTAssertEqual(read3, [])
            }
        }
    }

    func testSweepPagesAreSortedByParametersAndBounded() async throws {
        try await onEachBackend { _ in
            try await Queues.withGalleryReader(try await gallerySweep()) { reader in
                let page = try await reader.sweepPage(1, orderedBy: ["guidance", "seed", "scheduler"], page: PageRequest(limit: 5, offset: 0))
                XCTAssertEqual(page.total, 12)
                XCTAssertEqual(page.items.count, 5)
                let labels = try page.items.map { card -> String in
                    let record = try JSONDecoder().decode(Provenance.self, from: Data(card.provenance.utf8))
                    return ["guidance", "seed", "scheduler"].compactMap { RenderParameters.named($0)?.label(in: record) }.joined(separator: " ")
                }
                XCTAssertEqual(labels, ["3 1 dpmpp-2m", "3 1 euler", "3 2 dpmpp-2m", "3 2 euler", "3 3 dpmpp-2m"])
                let rest = try await reader.sweepPage(1, orderedBy: ["guidance", "seed", "scheduler"], page: PageRequest(limit: 5, offset: 10))
                XCTAssertEqual(rest.items.count, 2)
                // Names that are no parameter are ignored, never put into SQL.
                let read4 = try await reader.sweepPage(1, orderedBy: ["seed; DROP TABLE jobs", "nonsense"], page: PageRequest()).items.count
                XCTAssertEqual(read4, 12)
                XCTAssertEqual(PageRequest(limit: 100_000, offset: -5), PageRequest(limit: 200, offset: 0))
                let read5 = try await reader.overview().counts
                XCTAssertEqual(read5, ["done": 12])
            }
        }
    }

    func testOneImageAndOneJobWithEveryColumn() async throws {
        try await onEachBackend { _ in
            let location = try await gallerySweep()
            try await Queues.withGalleryReader(location) { reader in
                let detailRead = try await reader.output(1)
                let detail = try XCTUnwrap(detailRead)
                let view = try await Queues.openReader(location).query("SELECT * FROM v_outputs WHERE output_id = 1", timeout: 10)
                let expected = zip(view.columns, view.rows[0]).filter { !["provenance", "step_seconds"].contains($0.0) }
                XCTAssertEqual(detail.columns, expected.map(\.0))
                XCTAssertEqual(detail.values, expected.map(\.1))
                XCTAssertEqual(detail.card.prompt, GallerySweep.prompt)
                XCTAssertEqual(detail.value("seed"), detail.card.seed)
                let read6 = try await reader.output(13)
                XCTAssertNil(read6)
                let imageRead = try await reader.outputImage(1)
                let image = try XCTUnwrap(imageRead)
                var stored: Data?
                try await Queues.openReader(location).forEachOutput(JobSelection(jobs: [detail.card.jobID])) { stored = $0.png }
                XCTAssertEqual(image.png, stored)
                let read7 = try await reader.outputImage(0)
                XCTAssertNil(read7)
                let jobRead = try await reader.job(detail.card.jobID)
                let job = try XCTUnwrap(jobRead)
                XCTAssertEqual(job.summary.state, "done")
                XCTAssertEqual(job.outputs, [1])
                XCTAssertEqual(job.summary.firstOutput, 1)
                XCTAssertTrue(job.request.contains("num_inference_steps"))
                XCTAssertTrue(job.columns.contains("error_kind"))
                let read8 = try await reader.job(100)
                XCTAssertNil(read8)
            }
        }
    }

    func testFiltersOnStatePromptSeedAndModel() async throws {
        try await onEachBackend { _ in
            try await Queues.withGalleryReader(try await gallerySweep()) { reader in
                func jobs(_ f: QueueFilter) async throws -> Int { try await reader.jobs(f, page: PageRequest()).total }
                func images(_ f: QueueFilter) async throws -> Int { try await reader.outputs(f, page: PageRequest()).total }
                let read9 = try await jobs(QueueFilter())
                XCTAssertEqual(read9, 12)
                let read10 = try await jobs(QueueFilter(state: "done"))
                XCTAssertEqual(read10, 12)
                let read11 = try await jobs(QueueFilter(state: "failed"))
                XCTAssertEqual(read11, 0)
                let read12 = try await jobs(QueueFilter(prompt: "LIGHTHOUSE"))
                XCTAssertEqual(read12, 12, "case-insensitive")
                let read13 = try await jobs(QueueFilter(prompt: "%"))
                XCTAssertEqual(read13, 0, "no LIKE patterns")
                let read14 = try await jobs(QueueFilter(prompt: "<script>"))
                XCTAssertEqual(read14, 12)
                let read15 = try await jobs(QueueFilter(seed: 2))
                XCTAssertEqual(read15, 4)
                let read16 = try await jobs(QueueFilter(model: "tiny-sdxl-base"))
                XCTAssertEqual(read16, 12)
                let read17 = try await jobs(QueueFilter(model: "refiner"))
                XCTAssertEqual(read17, 0)
                let read18 = try await jobs(QueueFilter(sweep: 2))
                XCTAssertEqual(read18, 0)
                let read19 = try await images(QueueFilter(state: "done", prompt: "dusk", seed: 3, model: "tiny", sweep: 1))
                XCTAssertEqual(read19, 4)
                let read20 = try await images(QueueFilter(state: "queued"))
                XCTAssertEqual(read20, 0)
                let read21 = try await images(QueueFilter(prompt: "' OR 1=1 --"))
                XCTAssertEqual(read21, 0)
                let page = try await reader.outputs(QueueFilter(seed: 1), page: PageRequest(limit: 3))
                XCTAssertEqual(page.items.map(\.outputID), [10, 7, 4], "newest first")
                XCTAssertEqual(page.items.first?.seed, "1")
                XCTAssertEqual(QueueFilter(state: "exploded").state, nil, "unknown states are dropped")
            }
        }
    }
}
