import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// The queue through real `kiln` processes: crashes, resumption, concurrency, failures.
final class QueueCommandTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")

    func kiln(_ args: [String]) throws -> KilnRun { try KilnProcess.run(args) }

    func enqueue(_ db: String, _ extra: [String]) throws -> String {
        let r = try kiln(["enqueue", "--db", db, "--model", model] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    func testKilledWorkerResumesToTheSamePNG() throws {
        try onEachBackend { _ in
            let job = ["--prompt", "a harbour", "--steps", "40", "--seed", "9", "--width", "256", "--height", "256", "--scheduler", "dpmpp-2m"]
            // Uninterrupted reference in its own database.
            let straight = try queue("straight")
            _ = try enqueue(straight, job)
            XCTAssertEqual(try kiln(["work", "--db", straight, "--until-empty"]).status, 0)

            let crashed = try queue("crashed")
            _ = try enqueue(crashed, job)
            for round in 0..<3 {
                let worker = try KilnProcess.start(["work", "--db", crashed, "--until-empty", "--lease", "1"], inheritStderr: true)
                // Wait for progress past a checkpoint, then kill without warning.
                let target = 8 * (round + 1)
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    let step = Int(try sql(crashed, "SELECT step FROM jobs").first ?? "0") ?? 0
                    if step >= target { break }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                worker.send(SIGKILL)
                try worker.wait()
                XCTAssertEqual(try integrityCheck(crashed), ["ok"], "round \(round)")
                Thread.sleep(forTimeInterval: 1.2)  // the dead worker's lease runs out
            }
            XCTAssertEqual(try kiln(["work", "--db", crashed, "--until-empty", "--lease", "1"]).status, 0)
            let a = try sql(straight, "SELECT output_sha256 FROM v_outputs")
            let b = try sql(crashed, "SELECT output_sha256 FROM v_outputs")
            XCTAssertEqual(a.count, 1)
            XCTAssertEqual(a, b, "resumed render is byte-identical")
            XCTAssertEqual(try sql(crashed, "SELECT state, attempts FROM v_jobs"), ["done,4"])
            XCTAssertEqual(try sql(crashed, "SELECT COUNT(*) FROM outputs"), ["1"], "no duplicate output")
        }
    }

    func testFourWorkersRenderTwoHundredJobsOnce() throws {
        try onEachBackend { _ in
            let db = try queue("many")
            for i in 0..<200 {
                _ = try enqueue(db, ["--prompt", "job \(i)", "--steps", "1", "--width", "64", "--height", "64", "--seed", "\(i)", "--no-watermark"])
            }
            let workers = try (0..<4).map { i in
                try KilnProcess.start(["work", "--db", db, "--until-empty", "--name", "w\(i)"], inheritStderr: true)
            }
            for w in workers { XCTAssertEqual(try w.status(), 0) }
            XCTAssertEqual(try sql(db, "SELECT state, COUNT(*) FROM jobs GROUP BY state"), ["done,200"])
            XCTAssertEqual(try sql(db, "SELECT COUNT(*), COUNT(DISTINCT job_id) FROM outputs"), ["200,200"])
            XCTAssertEqual(try sql(db, "SELECT MAX(attempts) FROM jobs"), ["1"], "each rendered exactly once")
            XCTAssertGreaterThan(Int(try sql(db, "SELECT COUNT(DISTINCT worker) FROM outputs").first ?? "0") ?? 0, 1)
        }
    }

    func testFailedJobIsRecordedAndTheWorkerGoesOn() throws {
        try onEachBackend { _ in
            let db = try queue("fail")
            let broken = dir + "/broken-model"
            try FileManager.default.copyItem(atPath: model, toPath: broken)
            let bad = try kiln(["enqueue", "--db", db, "--model", broken, "--prompt", "x", "--steps", "1", "--max-attempts", "1", "--priority", "5"])
            XCTAssertEqual(bad.status, 0)
            _ = try enqueue(db, ["--prompt", "fine", "--steps", "1", "--width", "64", "--height", "64"])
            // The model file goes bad after the job was queued.
            let shard = broken + "/unet/diffusion_pytorch_model-00001-of-00004.safetensors"
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: shard))
            let r = try kiln(["work", "--db", db, "--until-empty"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let rows = try sql(db, "SELECT state, CASE WHEN error LIKE '%diffusion_pytorch_model-00001-of-00004.safetensors%truncated%' THEN 1 ELSE 0 END FROM v_jobs ORDER BY job_id")
            XCTAssertEqual(rows, ["failed,1", "done,0"])
        }
    }

    func testBadEnqueueWritesNothing() throws {
        try onEachBackend { _ in
            let db = try queue("q")
            let r = try kiln(["enqueue", "--db", db, "--model", model, "--prompt", "x", "--width", "100"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(try nothingWritten(db), "nothing created")
        }
    }
}

final class SweepCommandTests: QueueTestCase {
    let examples = Fixtures.root + "/../../Examples"

    func testExampleSweepRendersAndReports() throws {
        try onEachBackend { _ in
            let db = try queue("k")
            let dry = try KilnProcess.run(["sweep", "--db", db, examples + "/tiny-sweep.yaml", "--dry-run"])
            XCTAssertEqual(dry.status, 0, dry.stderr)
            XCTAssertTrue(dry.stdout.hasPrefix("12 jobs"), dry.stdout)
            XCTAssertTrue(try nothingWritten(db), "dry run writes nothing")
            let r = try KilnProcess.run(["sweep", "--db", db, examples + "/tiny-sweep.yaml"])
            XCTAssertEqual(r.stdout, "sweep 1: 12 jobs\n", r.stderr)
            XCTAssertEqual(try KilnProcess.run(["sweep", "--db", db, examples + "/tiny-prompts.json"]).stdout, "sweep 2: 6 jobs\n")
            // Pause sweep 2, cancel one job of sweep 1, render the rest.
            XCTAssertEqual(try KilnProcess.run(["pause", "--db", db, "--sweep", "2"]).status, 0)
            XCTAssertEqual(try KilnProcess.run(["cancel", "--db", db, "3"]).stdout, "1 jobs cancelled or stopping\n")
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty"]).status, 0)
            let progress = try KilnProcess.run(["report", "--db", db, "--sql", try String(contentsOfFile: examples + "/reports/progress.sql", encoding: .utf8), "--format", "csv"])
            XCTAssertEqual(progress.stdout, "sweep_id,jobs,done,running,queued,failed\n1,12,11,0,0,0\n2,6,0,0,6,0\n", progress.stderr)
            XCTAssertEqual(try KilnProcess.run(["resume", "--db", db, "--sweep", "2"]).status, 0)
            XCTAssertEqual(try KilnProcess.run(["retry", "--db", db, "3"]).stdout, "1 jobs queued again\n")
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty"]).status, 0)
            let byScheduler = try KilnProcess.run(["report", "--db", db, "--sql", try String(contentsOfFile: examples + "/reports/by-scheduler.sql", encoding: .utf8), "--format", "json"])
            let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(byScheduler.stdout.utf8)) as? [[String: Any]])
            XCTAssertEqual(rows.count, 5, byScheduler.stdout)  // euler x 3.0/7.0, dpmpp-2m x 3.0/7.0, the zipped sweep's default scheduler
            XCTAssertEqual(try KilnProcess.run(["prune", "--db", db]).stdout, "18 checkpoints deleted\n")
            let failures = try KilnProcess.run(["report", "--db", db, "--sql", try String(contentsOfFile: examples + "/reports/failures.sql", encoding: .utf8)])
            XCTAssertEqual(failures.status, 0)
        }
    }

    func testBadSpecWritesNothing() throws {
        try onEachBackend { _ in
            let db = try queue("k")
            try "model: \(Fixtures.model("tiny-sdxl-base"))\nbase: {prompt: a}\naxes: {colour: [red]}\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
            let r = try KilnProcess.run(["sweep", "--db", db, dir + "/bad.yaml"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("axes.colour"), r.stderr)
            XCTAssertTrue(try nothingWritten(db))
        }
    }
}

/// Twenty SIGKILLs at random moments (startup, mid-step, during checkpoints, during completion).
final class CrashSafetyTests: QueueTestCase {

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    func fill(_ db: String) throws {
        let spec = """
            model: \(Fixtures.model("tiny-sdxl-base"))
            base: {prompt: a windmill, steps: 10, width: 128, height: 128, negative-prompt: rain}
            zip:
              - scheduler: [euler-a, heun, unipc, dpmpp-2m-karras, lms, ddim]
                seed: [1, 2, 3, 4, 5, 6]
            """
        try spec.write(toFile: dir + "/crash.yaml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try KilnProcess.run(["sweep", "--db", db, dir + "/crash.yaml"]).stdout, "sweep 1: 6 jobs\n")
    }

    func testTwentyKillsLoseNothingAndChangeNothing() throws {
        try onEachBackend { _ in
            let reference = try queue("reference"), crashed = try queue("crashed")
            try fill(reference)
            try fill(crashed)
            XCTAssertEqual(try KilnProcess.run(["work", "--db", reference, "--until-empty"]).status, 0)

            var random: UInt64 = 0x5EED
            for kill in 0..<20 {
                let worker = try KilnProcess.start(["work", "--db", crashed, "--until-empty", "--lease", "1"], inheritStderr: true)
                random = random &* 6364136223846793005 &+ 1442695040888963407
                let delay = 0.05 + Double(random >> 40) / Double(1 << 24) * 1.2
                Thread.sleep(forTimeInterval: delay)
                worker.send(SIGKILL)
                try worker.wait()
                XCTAssertEqual(try integrityCheck(crashed), ["ok"], "after kill \(kill)")
                Thread.sleep(forTimeInterval: 1.1)
            }
            XCTAssertEqual(try KilnProcess.run(["work", "--db", crashed, "--until-empty", "--lease", "1"]).status, 0)
            XCTAssertEqual(try sql(crashed, "SELECT state, COUNT(*) FROM jobs GROUP BY state"), ["done,6"], "no job lost")
            XCTAssertEqual(try sql(crashed, "SELECT COUNT(*), COUNT(DISTINCT job_id) FROM outputs"), ["6,6"], "no duplicate output")
            let expected = try sql(reference, "SELECT job_id, output_sha256 FROM v_outputs ORDER BY job_id")
            XCTAssertEqual(try sql(crashed, "SELECT job_id, output_sha256 FROM v_outputs ORDER BY job_id"), expected, "every image byte-identical")
            XCTAssertGreaterThan(Int(try sql(crashed, "SELECT SUM(attempts) FROM jobs").first ?? "0") ?? 0, 6, "jobs were really interrupted")
        }
    }
}

final class QueueControlTests: QueueTestCase {

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    func testCancellingARunningJobStopsItAtTheNextStep() throws {
        try onEachBackend { _ in
            let db = try queue("c")
            XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "long",
                                                "--steps", "200", "--width", "256", "--height", "256"]).status, 0)
            let worker = try KilnProcess.start(["work", "--db", db, "--until-empty"], inheritStderr: true)
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, (Int(try sql(db, "SELECT step FROM jobs").first ?? "0") ?? 0) < 3 { Thread.sleep(forTimeInterval: 0.05) }
            let status = try KilnProcess.run(["status", "--db", db])
            XCTAssertTrue(status.stdout.contains("step ") && status.stdout.contains("/200"), status.stdout)
            XCTAssertEqual(try KilnProcess.run(["cancel", "--db", db]).status, 0)
            XCTAssertEqual(try worker.status(), 0)
            let row = try sql(db, "SELECT state, CASE WHEN step < steps THEN 1 ELSE 0 END FROM jobs")
            XCTAssertEqual(row, ["cancelled,1"])
            XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM outputs"), ["0"])
        }
    }

    func testOutputFolderAndProvenance() throws {
        try onEachBackend { _ in
            let db = try queue("o"), out = dir + "/images"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a", "--steps", "2",
                                                "--images", "2", "--scheduler", "unipc", "--original-size", "512x384"]).status, 0)
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", out]).status, 0)
            let rows = try sql(db, dialect(
                "SELECT output_path, output_sha256, scheduler, json_extract(scheduler_config, '$.beta_schedule'), json_array_length(step_seconds), original_size IS NOT NULL FROM v_outputs ORDER BY image_index",
                "SELECT output_path, output_sha256, scheduler, scheduler_config::jsonb ->> 'beta_schedule', jsonb_array_length(step_seconds::jsonb), CASE WHEN original_size IS NOT NULL THEN 1 ELSE 0 END FROM v_outputs ORDER BY image_index"))
            XCTAssertEqual(rows.count, 2)
            for (i, row) in rows.enumerated() {
                let f = row.split(separator: ",").map(String.init)
                XCTAssertEqual(f[0], out + "/job-1-\(i).png")
                let bytes = try Data(contentsOf: URL(fileURLWithPath: f[0]))
                XCTAssertEqual(f[1], try sha256(bytes))
                XCTAssertEqual(Array(f[2...]), ["unipc", "scaled_linear", "2", "1"])
            }
            XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM outputs WHERE png IS NULL"), ["2"], "images live in the folder only")
        }
    }

    /// sha256 via the system tool, independent of Kiln's implementation.
    func sha256(_ data: Data) throws -> String {
        let input = dir + "/sha256-input"
        try data.write(to: URL(fileURLWithPath: input))
        let p = try ChildProcess("/usr/bin/sha256sum", [], stdinPath: input)
        XCTAssertEqual(try p.status(), 0, p.stderr)
        return String(p.stdout.prefix(64))
    }
}

final class SheetCommandTests: QueueTestCase {
    func testSheetOfTheExampleSweep() throws {
        try onEachBackend { _ in
            let db = try queue("s")
            XCTAssertEqual(try KilnProcess.run(["sweep", "--db", db, Fixtures.root + "/../../Examples/tiny-sweep.yaml"]).status, 0)
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty"]).status, 0)
            let r = try KilnProcess.run(["sheet", "--db", db, "--sweep", "1", "--x", "scheduler", "--y", "seed", "--cell-size", "100", "--output", dir + "/sheet.png"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let (sheet, _) = try PNGFile.read(dir + "/sheet.png")
            let header = ContactSheet.headerHeight(cellSize: 100), pitch = 100 + ContactSheet.gutter
            XCTAssertEqual(sheet.height, header + 3 * pitch, "header + 3 seeds")
            XCTAssertGreaterThan(sheet.width, 2 * pitch, "label column + 2 schedulers")
            // The first image cell is image from corner to corner (the 128-pixel renders fill their
            // 100-pixel cells), not background.
            let left = sheet.width - 2 * pitch
            for (cx, cy) in [(left + 50, header + 50), (left + 1, header + 1), (left + 98, header + 98)] {
                let i = (cy * sheet.width + cx) * 3
                XCTAssertFalse(sheet.pixels[i] == 255 && sheet.pixels[i + 1] == 255 && sheet.pixels[i + 2] == 255, "\(cx),\(cy)")
            }
            let bad = try KilnProcess.run(["sheet", "--db", db, "--sweep", "1", "--x", "colour", "--y", "seed", "--output", dir + "/x.png"])
            XCTAssertNotEqual(bad.status, 0)
            XCTAssertTrue(bad.stderr.contains("'colour' is not a sweep parameter"), bad.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.png"))
        }
    }
}
