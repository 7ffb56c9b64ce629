// How fast `kiln serve` answers on a large sweep: fills a new queue with a sweep of N outputs
// (10,000 by default: seeds 1-100 x guidance 1-10 x steps 1-10, claimed and finished at once
// with small PNGs; the first image is 1024x1024 so its thumbnail is a real resize), serves it
// on a loopback port and times grid pages, image pages and thumbnails over HTTP. Not a test.
//
//   swift build -c release --product KilnGalleryBenchmark
//   .build/release/KilnGalleryBenchmark [--db queue.db|postgresql://...] [--outputs 10000] [--runs 20]
import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Gallery
import Imaging
import Pipelines
import QueueBackends
import RenderQueue
import Synchronization

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("KilnGalleryBenchmark: \(message)\n".utf8))
    exit(1)
}

var db: String?, outputs = 10_000, runs = 20
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let name = args.removeFirst()
    guard let value = args.first else { fail("\(name) needs a value") }
    args.removeFirst()
    switch name {
    case "--db": db = value
    case "--outputs": outputs = Int(value) ?? 0
    case "--runs": runs = Int(value) ?? 0
    default: fail("unknown option \(name); use [--db DB] [--outputs N] [--runs N]")
    }
}
guard (100...1_000_000).contains(outputs), (1...1000).contains(runs) else { fail("--outputs must be 100...1000000 and --runs 1...1000") }
let location = db ?? NSTemporaryDirectory() + "kiln-gallery-benchmark-\(getpid()).db"
defer { if db == nil { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: location + suffix) } } }

/// An RGB image of pseudo-random noise (incompressible, like a render's fine detail).
func noise(_ side: Int, seed: UInt64) -> RGBImage {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    let pixels = (0..<(side * side * 3)).map { _ -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
    return RGBImage(width: side, height: side, pixels: pixels)
}

do {
    let store = try await Queues.open(location)
    guard try await store.counts().isEmpty else { fail("\(store.displayName) already holds jobs; give a new database") }
    let seeds = max(outputs / 100, 1)
    let spec = try SweepSpec(text: """
        {"name": "gallery benchmark", "model": "none", "base": {"prompt": "a lantern in the fog", "width": 64, "height": 64},
         "axes": {"seed": {"from": 1, "to": \(seeds)}, "guidance": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "steps": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}
        """, limit: 10_000_000)
    var start = Date()
    _ = try await store.enqueue(sweep: spec, model: "none", config: nil, requests: try (0..<spec.count).map { try spec.request(at: $0) })
    let small = try PNGFile.encode(noise(64, seed: 1)), large = try PNGFile.encode(noise(1024, seed: 2))
    var finished = 0
    while let job = try await store.claim(worker: "bench", leaseSeconds: 600) {
        let record = Provenance(kilnVersion: Provenance.currentVersion, request: job.request, width: 64, height: 64, scheduler: "euler",
                                schedulerClass: "EulerDiscreteScheduler", seed: job.request.seed, imageIndex: 0, model: "none",
                                modelHash: "0", watermarkBits: nil, seconds: 0.5)
        let image = FinishedImage(index: 0, png: finished == 0 ? large : small, outputPath: nil, provenance: record.json(),
                                  watermarkWritten: nil, watermarkRead: nil)
        guard try await store.finish(jobID: job.jobID, worker: "bench", attempt: job.attempt, images: [image], renderSeconds: 0.5) else {
            fail("lost the lease of job \(job.jobID)")
        }
        finished += 1
    }
    print(String(format: "%@: a sweep of %d outputs written in %.1f s", store.displayName, finished, Date().timeIntervalSince(start)))

    let port = PortBox()
    let app = try Gallery.application(reader: try await Queues.openGalleryReader(location), actions: nil, options: GalleryOptions(port: 0)) { port.set($0) }
    let server = Task.detached { try await app.runService(gracefulShutdownSignals: []) }
    let base = "http://127.0.0.1:\(port.wait())"

    /// Seconds for one GET of `path` (checked to answer 200), and the body's size.
    func get(_ path: String) -> (seconds: Double, bytes: Int) {
        guard let url = URL(string: base + path) else { fail("bad path \(path)") }
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        let begin = Date()
        URLSession.shared.dataTask(with: url) { data, response, error in
            if let http = response as? HTTPURLResponse, http.statusCode == 200, let data { result.set((Date().timeIntervalSince(begin), data.count)) }
            else { FileHandle.standardError.write(Data("GET \(path): \(error.map { "\($0)" } ?? "status \((response as? HTTPURLResponse)?.statusCode ?? 0)")\n".utf8)) }
            done.signal()
        }.resume()
        done.wait()
        guard let value = result.get() else { fail("GET \(path) failed") }
        return value
    }

    func time(_ label: String, _ path: String, runs: Int) {
        let samples = (0..<runs).map { _ in get(path) }
        let ms = samples.map { $0.seconds * 1000 }.sorted()
        print(String(format: "%-46@ median %7.1f ms  best %7.1f ms  worst %7.1f ms  (%d runs, %d bytes)", label as NSString,
                     ms[ms.count / 2], ms[0], ms[ms.count - 1], runs, samples[0].bytes))
    }

    start = Date()
    let cold = get("/outputs/1/thumb")
    print(String(format: "%-46@ %7.1f ms (1024x1024 PNG decoded, LANCZOS to 256, encoded)", "first thumbnail, made" as NSString, cold.seconds * 1000))
    time("grid page 1 (100 images, default axes)", "/sweeps/1", runs: runs)
    time("grid page 50 (100 images, seed x guidance)", "/sweeps/1?x=guidance&y=seed&page=50", runs: runs)
    time("grid page 40 of 200 images (steps x seed)", "/sweeps/1?x=steps&y=seed&per=200&page=40", runs: runs)
    time("cached thumbnail (256x256)", "/outputs/1/thumb", runs: runs * 5)
    time("cached thumbnail (64x64 image)", "/outputs/\(outputs / 2)/thumb", runs: runs * 5)
    time("image page", "/outputs/\(outputs / 2)", runs: runs)
    time("stored PNG, byte for byte (1024x1024)", "/outputs/1.png", runs: runs)
    time("images filtered by prompt and seed", "/outputs?prompt=LANTERN&seed=7", runs: runs)
    time("sweeps list", "/sweeps", runs: runs)
    time("queue page", "/", runs: runs)
    server.cancel()
} catch {
    fail("\(error)")
}

/// A response's time and size, handed from URLSession's thread (read after it signalled).
final class ResultBox: Sendable {
    private let value = Mutex<(Double, Int)?>(nil)
    func set(_ v: (Double, Int)) { value.withLock { $0 = v } }
    func get() -> (Double, Int)? { value.withLock { $0 } }
}

/// The port the server listens on, handed from its start-up to the main thread.
final class PortBox: Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private let port = Mutex(0)
    func set(_ p: Int) { port.withLock { $0 = p }; ready.signal() }
    func wait() -> Int { ready.wait(); return port.withLock { $0 } }
}
