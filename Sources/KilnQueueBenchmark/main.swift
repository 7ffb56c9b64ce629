// Claim throughput of a queue: W workers (threads, each with its own connection, as separate
// `kiln work` processes would have) claim and finish N jobs with empty renders, each job exactly
// once. Prints claims per second. The database must be new or empty.
//
//   swift run -c release KilnQueueBenchmark --db queue.db|postgresql://... [--jobs 200] [--workers 4]
import Foundation
import Pipelines
import QueueBackends
import RenderQueue

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("KilnQueueBenchmark: \(message)\n".utf8))
    exit(1)
}

var db: String?, jobs = 200, workers = 4
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let name = args.removeFirst()
    guard let value = args.first else { fail("\(name) needs a value") }
    args.removeFirst()
    switch name {
    case "--db": db = value
    case "--jobs": jobs = Int(value) ?? 0
    case "--workers": workers = Int(value) ?? 0
    default: fail("unknown option \(name); use --db DB [--jobs N] [--workers W]")
    }
}
guard (1...1_000_000).contains(jobs), (1...256).contains(workers) else { fail("--jobs must be 1...1000000 and --workers 1...256") }

do {
    let store = try Queues.open(db)
    guard try store.counts().isEmpty else { fail("\(store.displayName) already holds jobs; give a new database") }
    var request = RenderRequest(prompt: "claim benchmark")
    request.steps = 1
    let spec = try SweepSpec(text: "{\"name\": \"claim benchmark\", \"model\": \"none\", \"base\": {\"prompt\": \"claim benchmark\", \"steps\": 1}}", limit: 1)
    _ = try store.enqueue(sweep: spec, model: "none", config: nil, requests: Array(repeating: request, count: jobs))
    let stores = try (0..<workers).map { _ in try Queues.open(db) }
    let lock = NSLock()
    var claimed = Set<Int64>(), duplicates = 0, errors: [String] = []
    let start = Date()
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let name = "bench-\(w)"
        do {
            while let job = try stores[w].claim(worker: name, leaseSeconds: 60) {
                let image = FinishedImage(index: 0, png: Data(), outputPath: nil, provenance: "{}", watermarkWritten: nil, watermarkRead: nil)
                guard try stores[w].finish(jobID: job.jobID, worker: name, attempt: job.attempt, images: [image], renderSeconds: 0) else {
                    throw QueueError.query("lease of job \(job.jobID) lost")
                }
                lock.lock(); if !claimed.insert(job.jobID).inserted { duplicates += 1 }; lock.unlock()
            }
        } catch {
            lock.lock(); errors.append("\(name): \(error)"); lock.unlock()
        }
    }
    let seconds = Date().timeIntervalSince(start)
    if let first = errors.first { fail(first) }
    guard claimed.count == jobs, duplicates == 0 else { fail("\(claimed.count) of \(jobs) jobs claimed, \(duplicates) twice") }
    print(String(format: "%@: %d workers, %d jobs, each claimed and finished once in %.2f s: %.0f claims/s",
                 store.displayName, workers, jobs, seconds, Double(jobs) / seconds))
} catch {
    fail("\(error)")
}
