// The queue's cost per job as the queue grows. Fills a new queue with --queued N jobs (one
// sweep, one transaction), then W workers (tasks, each with its own connection, as separate
// `kiln work` processes would have) each ask of the queue what `kiln work` asks for a job with
// an empty render (claim, one checkpoint, finish, image count) until --jobs K jobs are done, each
// exactly once. Prints the fill time, jobs per second and the queue time per job (mean, median,
// 99th percentile): flat from 400 to 1,000,000 queued jobs when claims read the claim-order index.
//
//   swift run -c release KilnQueueBenchmark --db queue.db|postgresql://... [--queued 1000000] [--jobs 2000] [--workers 2]
import Foundation
import Pipelines
import QueueBackends
import RenderQueue

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("KilnQueueBenchmark: \(message)\n".utf8))
    exit(1)
}

var db: String?, jobs = 200, workers = 4, queued: Int?
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let name = args.removeFirst()
    guard let value = args.first else { fail("\(name) needs a value") }
    args.removeFirst()
    switch name {
    case "--db": db = value
    case "--jobs": jobs = Int(value) ?? 0
    case "--queued": queued = Int(value) ?? 0
    case "--workers": workers = Int(value) ?? 0
    default: fail("unknown option \(name); use --db DB [--queued N] [--jobs K] [--workers W]")
    }
}
let total = queued ?? jobs
guard (1...10_000_000).contains(total), (1...total).contains(jobs), (1...256).contains(workers) else {
    fail("--queued must be 1...10000000, --jobs 1...queued and --workers 1...256")
}

/// What one worker measured: seconds of queue time per job, and the jobs it did.
struct WorkerResult: Sendable { var seconds: [Double] = []; var jobIDs: [Int64] = []; var error: String? }

do {
    let store = try await Queues.open(db)
    guard try await store.counts().isEmpty else { fail("\(store.displayName) already holds jobs; give a new database") }
    var request = RenderRequest(prompt: "claim benchmark")
    request.steps = 1
    let json = try JobRequests.encode(request)
    let fillStart = Date()
    _ = try await store.insertSweep(name: "claim benchmark", spec: "{}", priority: 0, model: "none", config: nil,
                                    jobs: Array(repeating: (steps: 1, requestJSON: json), count: total), blobs: [:])
    let fillSeconds = Date().timeIntervalSince(fillStart)
    var stores: [any JobQueue] = []
    for _ in 0..<workers { stores.append(try await Queues.open(db)) }
    // Each worker takes its share of the jobs (the first `jobs % workers` one more).
    let start = Date()
    let results = await withTaskGroup(of: WorkerResult.self) { group in
        for (w, queue) in stores.enumerated() {
            let share = jobs / workers + (w < jobs % workers ? 1 : 0)
            group.addTask {
                let name = "bench-\(w)"
                var result = WorkerResult()
                do {
                    for _ in 0..<share {
                        let t0 = Date()
                        guard let job = try await queue.claim(worker: name, leaseSeconds: 60) else { throw QueueError.query("no job to claim") }
                        guard case .keepGoing = try await queue.saveCheckpoint(jobID: job.jobID, worker: name, stage: "base", step: 1, steps: 1,
                                                                                state: Data(), stepSeconds: 0, leaseSeconds: 60) else {
                            throw QueueError.query("checkpoint of job \(job.jobID) refused")
                        }
                        let image = FinishedImage(index: 0, png: Data(), outputPath: nil, provenance: "{}", watermarkWritten: nil, watermarkRead: nil)
                        guard try await queue.finish(jobID: job.jobID, worker: name, attempt: job.attempt, images: [image], renderSeconds: 0) else {
                            throw QueueError.query("lease of job \(job.jobID) lost")
                        }
                        guard try await queue.imageCount(jobID: job.jobID) == 1 else { throw QueueError.query("job \(job.jobID) lost its image") }
                        result.seconds.append(Date().timeIntervalSince(t0))
                        result.jobIDs.append(job.jobID)
                    }
                } catch {
                    result.error = "\(name): \(error)"
                }
                return result
            }
        }
        var all: [WorkerResult] = []
        for await result in group { all.append(result) }
        return all
    }
    let seconds = Date().timeIntervalSince(start)
    if let first = results.compactMap(\.error).first { fail(first) }
    let ids = results.flatMap(\.jobIDs)
    guard ids.count == jobs, Set(ids).count == jobs else { fail("\(Set(ids).count) distinct of \(ids.count) jobs done, \(jobs) asked for") }
    let times = results.flatMap(\.seconds).sorted()
    func percentile(_ p: Double) -> Double { times[min(Int(Double(times.count) * p), times.count - 1)] * 1000 }
    let mean = times.reduce(0, +) / Double(times.count) * 1000
    print(String(format: "%@: %d queued (filled in %.1f s); %d workers did %d jobs in %.2f s: %.0f jobs/s; queue time per job %.2f ms mean, %.2f ms median, %.2f ms p99",
                 store.displayName, total, fillSeconds, workers, jobs, seconds, Double(jobs) / seconds, mean, percentile(0.5), percentile(0.99)))
} catch {
    fail("\(error)")
}
