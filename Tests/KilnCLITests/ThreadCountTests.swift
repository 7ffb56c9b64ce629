import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// The same pixels whatever `KILN_THREADS`: one render on 1, 2 and 3 threads, and a queue job
/// checkpointed on 2 threads and finished on 1, as by another worker of a farm with fewer cores.
/// At 256x256 the VAE's products are split into tiles and its group norms into chunks, so a split
/// that followed the thread count would change pixels.
final class ThreadCountTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let model = Fixtures.model("tiny-sdxl-base")

    /// A `kiln` process with `KILN_THREADS=threads`, its output discarded.
    func start(_ args: [String], threads: Int) throws -> ChildProcess {
        try KilnProcess.start(args, environment: ["KILN_THREADS": "\(threads)"])
    }

    func run(_ args: [String], threads: Int) throws {
        let p = try start(args, threads: threads)
        XCTAssertEqual(try p.status(), 0, p.stderr + "kiln \(args.joined(separator: " ")) on \(threads) threads")
    }

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    /// Asserts two PNGs hold the same pixels, naming how many values differ when they do not.
    func assertSamePixels(_ a: String, _ b: String, _ what: String) throws {
        let x = try ImageFile.read(a), y = try ImageFile.read(b)
        XCTAssertEqual(x.width, y.width); XCTAssertEqual(x.height, y.height)
        let differing = zip(x.pixels, y.pixels).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "\(what): \(differing) of \(x.pixels.count) values differ")
    }

    func testRenderGivesTheSamePixelsOnOneTwoAndThreeThreads() throws {
        let args = ["render", "--model", model, "--prompt", "a lighthouse", "--steps", "10", "--seed", "11",
                    "--width", "256", "--height", "256"]
        for threads in [1, 2, 3] { try run(args + ["--output", dir + "/t\(threads).png"], threads: threads) }
        try assertSamePixels(dir + "/t1.png", dir + "/t2.png", "1 and 2 threads")
        try assertSamePixels(dir + "/t1.png", dir + "/t3.png", "1 and 3 threads")
    }

    func testJobCheckpointedOnTwoThreadsAndResumedOnOneMatchesAnUninterruptedRender() throws {
        let job = ["--prompt", "a lighthouse", "--steps", "50", "--seed", "11", "--width", "256", "--height", "256"]
        func queue(_ name: String) throws -> (db: String, folder: String) {
            let db = dir + "/\(name).db", folder = dir + "/\(name)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + job)
            XCTAssertEqual(r.status, 0, r.stderr)
            return (db, folder)
        }
        // Uninterrupted, on 2 threads and on 1.
        var straight: [Int: (db: String, folder: String)] = [:]
        for threads in [2, 1] {
            let q = try queue("straight\(threads)")
            try run(["work", "--db", q.db, "--until-empty", "--output-folder", q.folder], threads: threads)
            straight[threads] = q
        }
        // Stopped with SIGTERM on 2 threads after a few steps (the checkpoint is saved and the job
        // put back), then finished by a worker on 1 thread.
        let q = try queue("resumed")
        let first = try start(["work", "--db", q.db, "--until-empty", "--output-folder", q.folder], threads: 2)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (Int(try sql(q.db, "SELECT step FROM jobs").first ?? "0") ?? 0) < 5 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        first.send(SIGTERM)
        try first.wait()
        XCTAssertEqual(try first.status(), 0)
        XCTAssertEqual(try sql(q.db, "SELECT state, step > 0 AND step < steps FROM v_jobs"), ["queued,1"], "back in the queue mid-render")
        try run(["work", "--db", q.db, "--until-empty", "--output-folder", q.folder], threads: 1)
        XCTAssertEqual(try sql(q.db, "SELECT state, attempts FROM v_jobs"), ["done,2"])

        let resumed = q.folder + "/job-1-0.png"
        for threads in [2, 1] {
            let s = try XCTUnwrap(straight[threads])
            try assertSamePixels(s.folder + "/job-1-0.png", resumed, "uninterrupted on \(threads) threads and resumed")
            XCTAssertEqual(try sql(q.db, "SELECT output_sha256 FROM v_outputs"), try sql(s.db, "SELECT output_sha256 FROM v_outputs"),
                           "the same PNG bytes (provenance names no thread count)")
        }
    }
}
