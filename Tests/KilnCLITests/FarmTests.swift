import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// A render farm in miniature: several named workers on one queue, one killed mid-render and a
/// third taking over; every job done once, every image equal to a straight `kiln render`, and the
/// same report on SQLite and PostgreSQL.
final class FarmTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")
    let jobs: [(scheduler: String, seed: Int)] = [("euler-a", 1), ("euler-a", 2), ("euler-a", 3), ("dpmpp-2m", 1), ("dpmpp-2m", 2), ("dpmpp-2m", 3)]

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    func worker(_ db: String, _ name: String) throws -> ChildProcess {
        try KilnProcess.start(["work", "--db", db, "--until-empty", "--name", name, "--lease", "2"])
    }

    func testAKilledWorkersJobsAreFinishedOnceAndMatchStraightRenders() throws {
        // Straight renders, once for both backends.
        let straightDir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: straightDir) }
        var expected: [RGBImage] = []
        for (i, job) in jobs.enumerated() {
            let path = straightDir + "/\(i).png"
            let r = try KilnProcess.run(["render", "--model", model, "--prompt", "a farm", "--steps", "20", "--width", "128", "--height", "128",
                                         "--scheduler", job.scheduler, "--seed", "\(job.seed)", "--output", path])
            XCTAssertEqual(r.status, 0, r.stderr)
            expected.append(try PNGFile.read(path).0)
        }
        var reports: [QueueBackend: [String]] = [:]
        try onEachBackend { backend in
            let spec = dir + "/farm.yaml"
            try """
                model: \(model)
                base: {prompt: a farm, steps: 20, width: 128, height: 128}
                axes:
                  scheduler: [euler-a, dpmpp-2m]
                  seed: [1, 2, 3]
                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let db = try queue("farm")
            XCTAssertEqual(try KilnProcess.run(["sweep", "--db", db, spec]).stdout, "sweep 1: 6 jobs\n")
            let a = try worker(db, "render-a"), b = try worker(db, "render-b")
            // Kill render-a in the middle of a job: stop it once it holds one that has made progress
            // (SIGSTOP freezes it, so what the queue says it holds is what it held), then kill it.
            var killedJob: [String] = []
            let deadline = Date().addingTimeInterval(120)
            while killedJob.isEmpty, Date() < deadline {
                if try sql(db, "SELECT job_id FROM jobs WHERE lease_owner = 'render-a' AND step >= 3").isEmpty {
                    Thread.sleep(forTimeInterval: 0.02)
                    continue
                }
                a.send(SIGSTOP)
                killedJob = try sql(db, "SELECT job_id FROM jobs WHERE lease_owner = 'render-a' AND state = 'running'")
                if killedJob.isEmpty { a.send(SIGCONT) }
            }
            XCTAssertEqual(killedJob.count, 1, "render-a was stopped mid-render")
            a.send(SIGKILL)
            try a.wait()
            let c = try worker(db, "render-c")
            for p in [b, c] { try p.wait(); XCTAssertEqual(try p.status(), 0) }
            XCTAssertEqual(try sql(db, "SELECT state, COUNT(*) FROM jobs GROUP BY state"), ["done,6"])
            XCTAssertEqual(try sql(db, "SELECT COUNT(*), COUNT(DISTINCT job_id) FROM outputs"), ["6,6"], "each job done exactly once")
            XCTAssertNotEqual(try sql(db, "SELECT worker FROM outputs WHERE job_id = \(killedJob.first ?? "0")"), ["render-a"])
            let resumed = try sql(db, "SELECT attempts FROM jobs WHERE job_id = \(killedJob.first ?? "0")")
            XCTAssertEqual(resumed, ["2"], "the killed worker's job was taken over and resumed")
            // Every image equals the straight render of the same parameters.
            let out = dir + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            XCTAssertEqual(try KilnProcess.run(["export", "--db", db, "--output-folder", out]).status, 0)
            for row in try sql(db, "SELECT job_id, scheduler, seed FROM v_outputs ORDER BY job_id") {
                let f = row.split(separator: ",").map(String.init)
                guard f.count == 3, let index = jobs.firstIndex(where: { $0.scheduler == f[1] && "\($0.seed)" == f[2] }) else {
                    XCTFail("unexpected row \(row)")
                    continue
                }
                let image = try PNGFile.read(out + "/job-\(f[0])-0.png").0
                XCTAssertEqual(image.pixels, expected[index].pixels, "job \(f[0]) (\(f[1]), seed \(f[2])) equals kiln render")
            }
            // The example reports run unchanged (their timings aside, they give the same rows).
            let examples = Fixtures.root + "/../../Examples/reports/"
            let byScheduler = try sql(db, try String(contentsOfFile: examples + "by-scheduler.sql", encoding: .utf8))
            reports[backend] = byScheduler.map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
                + (try sql(db, try String(contentsOfFile: examples + "progress.sql", encoding: .utf8)))
                + (try sql(db, try String(contentsOfFile: examples + "failures.sql", encoding: .utf8)))
                + (try sql(db, "SELECT job_id, seed, scheduler, steps, guidance, width, height, mode, watermark, original_size, output_sha256 FROM v_outputs ORDER BY job_id"))
            for statement in ["DELETE FROM jobs", "DROP TABLE outputs", "DROP VIEW v_outputs"] {
                let r = try KilnProcess.run(["report", "--db", db, "--sql", statement])
                XCTAssertNotEqual(r.status, 0, statement)
                XCTAssertTrue(r.stderr.contains("read-only"), r.stderr)
            }
            XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM v_outputs"), ["6"], "nothing was deleted")
        }
        XCTAssertEqual(reports[.postgresql], reports[.sqlite], "the same report on both databases")
    }
}
