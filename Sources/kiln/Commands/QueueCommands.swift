import ArgumentParser
import Foundation
import Pipelines
import QueueBackends
import RenderQueue
import RenderWorker

/// `kiln enqueue`: adds one render job to a queue database and prints its id.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Add one render job to the queue and print its id.")

    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "A diffusers model folder, a single-file .safetensors checkpoint, or a Hugging Face Hub id org/name[@revision] in the local cache (the job keeps the snapshot it resolved to).") var model: String
    @Option(help: "For a single-file checkpoint: a diffusers folder to take configs and tokenizers from (default: the published SDXL configs and the bundled CLIP vocabulary).") var config: String?
    @Option(help: "Higher runs first.") var priority: Int = 0
    @Option(name: .customLong("max-attempts"), help: "Failed renders allowed before the job stays failed.") var maxAttempts: Int = 3
    @OptionGroup var options: RenderOptions

    func run() async throws {
        try await failing {
            guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
            let (valid, resolved) = try options.resolved()
            try resolved.request.checkSchedule(model: ModelReference(path: try modelLocation(model, option: "model"), config: config.map(absolute)))
            try resolved.request.checkUNet(model: ModelReference(path: try modelLocation(model, option: "model"), config: config.map(absolute)))
            try resolved.request.checkControlNets(model: ModelReference(path: try modelLocation(model, option: "model"), config: config.map(absolute)))
            try resolved.request.checkVariant(model: ModelReference(path: try modelLocation(model, option: "model"), config: config.map(absolute)))
            let store = try await queue.open(create: true)
            let id = try await store.enqueue(model: try modelLocation(model, option: "model"), config: config.map(absolute), validated: valid,
                                       blobs: resolved.blobs, priority: priority, maxAttempts: maxAttempts)
            print(id)
        }
    }
}


/// `kiln work`: claims and renders jobs. SIGTERM or SIGINT stops it after the current step with
/// the job back in the queue (a second signal stops it at once).
struct WorkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "work", abstract: "Claim and render queued jobs, checkpointing as it goes.")

    @OptionGroup var queue: QueueLocationOptions
    @Flag(name: .customLong("until-empty"), help: "Stop when no job is queued, running or waiting for a retry (otherwise wait for more).") var untilEmpty = false
    @Option(name: .customLong("max-jobs"), help: "Stop after this many jobs.") var maxJobs: Int?
    @Option(name: .customLong("checkpoint-every"), help: "Save latents and scheduler state every N steps.") var checkpointEvery: Int = 1
    @Option(name: .customLong("output-folder"), help: "Write PNGs here instead of into the database.") var outputFolder: String?
    @Option(name: .customLong("preview-every"), help: "Store a small preview of a running job's latents (1/8 of the image a side) with its checkpoint every N steps; the gallery's job pages show it live (default: none).")
    var previewEvery: Int?
    @Option(name: .customLong("preview-vae"), help: "With --preview-every: make the previews with this AutoencoderTiny folder or Hub id (madebyollin/taesdxl; at most 256 px a side) instead of the linear approximation.")
    var previewVAE: String?
    @Option(help: "Lease length in seconds; a job whose worker stops renewing it is claimed again.") var lease: Double = 120
    @Option(help: "Worker name recorded with outputs (default: host and process id).") var name: String?
    @Option(name: .customLong("retry-backoff"), help: "Seconds before the first retry of a transient failure (doubling after each).")
    var retryBackoff: Double = 30
    @Option(name: .customLong("max-memory"), help: "Gigabytes of model weights to hold at once (default: 60% of memory; base and refiner are kept between jobs when they fit).")
    var maxMemory: Double?

    func run() async throws {
        try await failing {
            guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
            guard lease >= 1 else { throw ValidationError("--lease must be at least 1 second") }
            guard retryBackoff.isFinite, retryBackoff >= 0, retryBackoff <= 86_400 else {
                throw ValidationError("--retry-backoff must be between 0 and 86400 seconds, not \(retryBackoff)")
            }
            if let folder = outputFolder {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                    throw ValidationError("--output-folder: \(folder) is not an existing folder")
                }
            }
            var options = Worker.Options(name: name ?? "\(WorkerIdentity.hostName()):\(getpid())")
            options.retryBackoff = retryBackoff
            options.leaseSeconds = lease
            options.checkpointEvery = checkpointEvery
            options.previewEvery = previewEvery ?? 0
            options.previewVAE = try previewVAE.map { try TinyVAEPreview(path: componentLocation($0, option: "preview-vae")) }
            options.outputFolder = outputFolder.map(absolute)
            options.maxModelBytes = try RenderCommand.budget(maxMemory)
            // Tests make output writes fail as a full disk does (see Worker.Options.failingOutputWrites).
            options.failingOutputWrites = Int(ProcessInfo.processInfo.environment["KILN_TEST_ENOSPC_WRITES"] ?? "") ?? 0
            let store = try await queue.open(create: false)
            BusErrorNotice.install(queue: store.displayName)
            let worker = Worker(store: store, options: options)
            worker.onWarning = { say("warning: " + $0) }
            let stop = worker.stop, inHand = JobInHand(), workerName = options.name
            // A second signal ends the process at once, putting the job back first (1 s at most).
            let signals = StopSignals(onFirst: { _ in stop.request() },
                                      beforeExit: { await inHand.release(from: store, worker: workerName) })
            defer { withExtendedLifetime(signals) {} }
            // A queue on a server (PostgreSQL) waits out a restart instead of failing: for as long
            // as the job's lease lasts, and between jobs until a stop is requested.
            (store as? ServerQueue)?.waitForServer(log: { say($0) }, unless: stop)
            var done = 0, imagesTonight = 0
            defer { say("\(done) jobs, models built: \(worker.modelLoads)") }
            // On a terminal a live line shows the job's step, the night's images and the queue's
            // ETA; in a log, one line per finished job with its time and rate.
            let live = isatty(STDOUT_FILENO) == 1
            var jobStart = Date(), lastSteps = 0
            var warm = WarmRate()
            // The queue's ETA reads every job's step times, so it is asked for only when the live
            // line shows it: before each job until there is one, then at most every 30 s, so the
            // cost per job does not grow with the queue.
            var eta = live ? try await store.progress().eta : nil
            var etaRead = Date()
            worker.onStep = { job, step, steps in
                inHand.rendering(job)
                lastSteps = steps
                guard live else { return }
                let queue = eta.map { String(format: ", queue ETA %.0f s", max($0 - Date().timeIntervalSince(etaRead), 0)) } ?? ""
                print(String(format: "\rjob %lld step %d/%d, %d images tonight%@   ", job, step, steps, imagesTonight, queue), terminator: "")
                fflush(nil)
            }
            while !stop.isRequested, maxJobs.map({ done < $0 }) ?? true {
                jobStart = Date()
                lastSteps = 0
                if live, eta == nil || Date().timeIntervalSince(etaRead) >= 30 {
                    eta = try await waited { try await store.progress().eta } ?? eta
                    etaRead = Date()
                }
                let ran = try await waited { try await worker.runOne() }
                inHand.rendering(nil)
                guard let outcome = ran else { continue }
                if live, lastSteps > 0 { print("") }
                switch outcome {
                case .idle:
                    if stop.isRequested { continue }
                    // --until-empty waits while a job may still become claimable: queued for a
                    // retry, or running under a lease that may expire.
                    if untilEmpty, try await waited({ try await store.hasPendingWork() }) == false { return }
                    await store.waitForWork(seconds: untilEmpty ? 0.25 : 2, unless: stop)
                    continue
                case .done(let id):
                    let seconds = Date().timeIntervalSince(jobStart)
                    let images = try await waited { try await store.imageCount(jobID: id) } ?? 0
                    imagesTonight += images
                    warm.add(images: images, seconds: seconds)
                    say(String(format: "job %lld done in %.1f s, %d steps (%.2f steps/s)", id, seconds, lastSteps,
                               seconds > 0 ? Double(lastSteps) / seconds : 0) + warm.summary)
                case .failed(let id, let why, let kind, let retry):
                    say("job \(id) failed (\(kind.rawValue)\(retry ? ", will retry" : "")): \(why)")
                case .cancelled(let id): say("job \(id) cancelled")
                case .leaseLost(let id): say("job \(id): lease lost to another worker")
                case .leftRunning(let id, let why): say("job \(id) left running for the next claim to take over (\(why))")
                case .released(let id, let step, let steps):
                    say("job \(id) back in the queue at step \(step)/\(steps) (stop requested)")
                    continue
                }
                done += 1
            }
        }
    }
}

/// A worker's images per hour once warm: over the jobs it finished after its first, whose time
/// includes loading the models (a queue that switches models loads again, and the rate shows it).
struct WarmRate {
    private(set) var finished = 0, images = 0
    private(set) var seconds = 0.0

    mutating func add(images n: Int, seconds s: Double) {
        finished += 1
        guard finished > 1 else { return }
        images += n
        seconds += s
    }

    /// "; 58.3 images/hour warm (2 jobs)" from the second job on; empty before.
    var summary: String {
        guard finished > 1, seconds > 0 else { return "" }
        let jobs = finished - 1
        return String(format: "; %.1f images/hour warm", Double(images) * 3600 / seconds) + " (\(jobs) job\(jobs == 1 ? "" : "s"))"
    }
}

/// Prints a line and flushes it, so a log file holds every line even if the process is killed.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// `kiln report`: SQL on a read-only connection.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Query the queue with SQL (read-only). Views: v_jobs, v_outputs.")

    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "A read-only SQL query.") var sql: String = "SELECT job_id, seed, scheduler, steps, guidance, width, height, output_sha256, render_seconds FROM v_outputs ORDER BY job_id"
    @Option(help: "table, csv or json (csv and json are written row by row as they are read; a table waits for the last row).") var format: String = "table"
    @Option(help: "Seconds before the query is stopped (it runs in a read-only transaction).") var timeout: Double = 60

    /// On the main actor: the queue's reads that stream rows run there, off Swift's pool.
    @MainActor func run() async throws {
        try await failing {
            guard let f = Report.Format(rawValue: format) else { throw ValidationError("--format must be table, csv or json, not '\(format)'") }
            guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
                throw ValidationError("--timeout must be between 0 and 86400 seconds, not \(timeout)")
            }
            // CSV and JSON rows are written as they are read, never all held (a table is
            // formatted at the end: its widths need every row).
            let reader = try await queue.openReader(), output = StandardOutput()
            defer { output.flush() }
            let report = Report.Stream(format: f) { output.write($0) }
            try await reader.forEachRow(sql: sql, timeout: timeout, header: { report.begin(columns: $0) }, row: { report.add($0) })
            report.end()
        }
    }
}

/// `kiln status`: job counts by state and the running jobs with their progress.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Job counts by state and running jobs with step/steps and ETA.")

    @OptionGroup var queue: QueueLocationOptions

    /// On the main actor: the queue's reads that stream rows run there, off Swift's pool.
    @MainActor func run() async throws {
        try await failing {
            print(Report.format(try await queue.openReader().status(), as: .table))
        }
    }
}
