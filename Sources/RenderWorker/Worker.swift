import Dispatch
import Foundation
import Imaging
import Models
import Pipelines
import RenderQueue

/// A queue worker: claims jobs, renders them in every mode (resuming from their checkpoint, in
/// whichever stage it was saved), saves a checkpoint every `checkpointEvery` steps, and stores
/// the outputs in the same transaction that marks the job done. Models stay loaded between jobs
/// within the memory budget; inputs come from the blobs stored at enqueue. Asked to stop (see
/// `stop`), it finishes the current step, saves the checkpoint and puts the job back in the
/// queue. Failures are sorted by `FailureKind`: permanent ones fail the job at once. A full disk,
/// under the output folder or the database, is waited out where it is met (`holdingForSpace`):
/// the job stays this worker's and no attempt is used. Its task runs on a `RenderExecutor` of its
/// own, so a render's CPU-bound steps never occupy the cooperative pool while its queue calls are
/// awaited. Not `Sendable`: one task drives it; its lease renewal task shares only the queue and
/// a `LeaseWatch`, and `stop` is set from anywhere.
public final class Worker {
    public struct Options: Sendable {
        public var name: String
        public var leaseSeconds: Double = 120
        public var checkpointEvery: Int = 1
        /// Store a small preview of the latents with the checkpoint every N steps (0: never);
        /// a step that makes a preview also saves a checkpoint.
        public var previewEvery: Int = 0
        /// Make those previews with this AutoencoderTiny instead of the linear approximation
        /// (loaded once by the caller; held outside `maxModelBytes`).
        public var previewVAE: TinyVAEPreview?
        /// Write PNGs here (and their paths in the database) instead of into the database.
        public var outputFolder: String?
        /// Parameter bytes of models to hold at once (nil: no limit).
        public var maxModelBytes: Int?
        /// Host and process id recorded with each lease.
        public var identity: WorkerIdentity = .current
        /// Seconds before the first retry of a transient failure (doubling after each), and the
        /// first pause while waiting for space on a full disk.
        public var retryBackoff: Double = 30
        /// The longest pause between two tries of a write waiting for space.
        public var fullDiskBackoffCap: Double = 300
        /// For tests: this many output writes fail as a full disk does (ENOSPC) before one
        /// succeeds (`kiln work` takes it from `KILN_TEST_ENOSPC_WRITES`).
        public var failingOutputWrites: Int = 0
        public init(name: String) { self.name = name }
    }

    public let store: any JobQueue
    public let options: Options
    /// The models jobs need, kept between jobs (base and refiner alike) within the memory budget.
    let models: ModelCache
    /// Called after every step: (job, step, total) over all stages.
    public var onStep: ((Int64, Int, Int) -> Void)?
    /// Told about trouble that did not stop the job (one line), e.g. an output kept in the
    /// database because its folder vanished.
    public var onWarning: ((String) -> Void)?
    /// Set (from a signal handler) to stop after the current step; checked between steps.
    public let stop = StopRequest()
    /// Output writes still to fail (see `Options.failingOutputWrites`).
    var failingWrites: Int
    /// Where this worker's task runs (see `RenderExecutor`).
    let executor = RenderExecutor()

    public init(store: any JobQueue, options: Options) {
        self.store = store
        self.options = options
        models = ModelCache(maxBytes: options.maxModelBytes)
        failingWrites = max(options.failingOutputWrites, 0)
    }

    /// Models this worker has built (each model and LoRA set once while it stays in memory).
    public var modelLoads: Int { models.loads }

    /// How one `runOne` ended.
    public enum Outcome: Sendable, Equatable {
        case done(Int64)
        /// The render failed; `retry` is true when the job went back to the queue (transient).
        case failed(Int64, String, FailureKind, retry: Bool)
        case cancelled(Int64)
        case leaseLost(Int64)
        /// The database could not be written (a full disk) for a whole lease: the job is left
        /// running under its lease for the next claim, with the reason.
        case leftRunning(Int64, String)
        /// A stop was requested: the job went back to the queue at `step` of `steps`.
        case released(Int64, step: Int, steps: Int)
        case idle
    }

    /// Claims and runs one job; `.idle` when none is ready (or a stop was requested). A full
    /// database is waited out before the claim and while the job runs, never thrown. Runs on
    /// this worker's `RenderExecutor`, whatever the caller's executor.
    public func runOne() async throws -> Outcome {
        try await withTaskExecutorPreference(executor) { try await claimAndRun() }
    }

    func claimAndRun() async throws -> Outcome {
        if stop.isRequested { return .idle }
        let claimed: ClaimedJob?
        do {
            claimed = try await holdingForSpace("claiming a job", lease: nil) {
                try await self.store.claim(worker: options.name, leaseSeconds: options.leaseSeconds, identity: options.identity)
            }
        } catch is FullDiskHoldEnded {
            return .idle
        }
        guard let job = claimed else { return .idle }
        // Keep the lease alive during long steps (and while waiting for space), from a task on
        // the global executor: this worker's own executor is busy rendering.
        let lease = LeaseWatch(seconds: options.leaseSeconds)
        let store = self.store, name = options.name, seconds = options.leaseSeconds
        let interval = Duration.milliseconds(Int64(max(options.leaseSeconds / 3, 0.5) * 1000))
        let renewer = Task(executorPreference: globalConcurrentExecutor) {
            while true {
                do { try await Task.sleep(for: interval) } catch { return }
                if let ok = try? await store.renewLease(jobID: job.jobID, worker: name, leaseSeconds: seconds) { lease.renewed(ok) }
            }
        }
        defer { renewer.cancel() }
        do {
            return try await render(job, lease: lease)
        } catch {
            let message = OneLine.describing(error)
            let kind = FailureKind.of(error)
            // A full disk met elsewhere than in a write the worker waits on is retried without
            // using up the job's attempts (every retry keeps its last good checkpoint).
            do {
                let retry = try await holdingForSpace("job \(job.jobID), recording its failure", lease: lease) {
                    try await store.fail(jobID: job.jobID, worker: options.name, error: message, kind: kind, backoff: options.retryBackoff,
                                   untilDone: kind == .transient && FailureKind.isDiskFull(error))
                }
                return .failed(job.jobID, message, kind, retry: retry)
            } catch let ended as FullDiskHoldEnded {
                switch ended {
                case .leaseLost: return .leaseLost(job.jobID)
                case .leaseRanOut(let why), .stopRequested(let why):
                    return .leftRunning(job.jobID, "its failure (\(message)) could not be recorded: \(why)")
                }
            }
        }
    }

    /// The job's input images, mask and latents, from the blobs stored at enqueue.
    func inputs(for request: RenderRequest) async throws -> RenderInputs {
        var files: [StoredInput: (data: Data, name: String)] = [:]
        for (input, ref) in request.storedInputs {
            guard let data = try await store.blob(ref.sha256) else {
                throw RenderError.invalid(parameter: input.parameter, reason: "blob \(ref.sha256) (\(ref.file ?? "?")) is missing from the queue database")
            }
            files[input] = (data, ref.file ?? ref.sha256)
        }
        var inputs = try InputFiles.decode(files)
        var controlImages: [(Data, String)] = []
        for ref in request.controlnet.images {
            guard let data = try await store.blob(ref.sha256) else {
                throw RenderError.invalid(parameter: "control-image", reason: "blob \(ref.sha256) (\(ref.file ?? "?")) is missing from the queue database")
            }
            controlImages.append((data, ref.file ?? ref.sha256))
        }
        inputs.controlImages = try InputFiles.decodeControlImages(controlImages)
        return inputs
    }

    func render(_ job: ClaimedJob, lease: LeaseWatch) async throws -> Outcome {
        let start = Date()
        let state = try job.checkpoint.map { try JSONDecoder().decode(DenoiseState.self, from: $0) }
        let stored = try await inputs(for: job.request)
        // A stored row is where a request enters this process: validated here, once.
        let request = try ValidatedRequest(job.request)
        let session = try RenderSession(validated: request, model: ModelReference(path: job.model, config: job.config),
                                        inputs: stored, models: models, resuming: state)
        for notice in session.notices { onWarning?("job \(job.jobID): \(notice)") }
        if stop.isRequested { return try await releaseAfterStop(job.jobID, step: session.completedSteps, steps: session.totalSteps) }
        do {
            return try await render(job, session, lease: lease, start: start)
        } catch let ended as FullDiskHoldEnded {
            return try await outcome(ended, job: job.jobID, step: session.completedSteps, steps: session.totalSteps)
        }
    }

    /// The steps, outputs and completion of a job whose session is ready.
    func render(_ job: ClaimedJob, _ session: RenderSession, lease: LeaseWatch, start: Date) async throws -> Outcome {
        var stepStart = Date()
        var stepTimes: [Double] = []
        while !session.isFinished {
            try session.advance()
            onStep?(job.jobID, session.completedSteps, session.totalSteps)
            stepTimes.append(Date().timeIntervalSince(stepStart))
            let stopping = stop.isRequested && !session.isFinished
            let previewDue = options.previewEvery > 0 && session.completedSteps % options.previewEvery == 0 && !session.isFinished
            if session.completedSteps % max(options.checkpointEvery, 1) == 0 || session.isFinished || stopping || previewDue {
                let state = try JSONEncoder().encode(session.snapshot()), seconds = Date().timeIntervalSince(stepStart)
                let preview = try previewDue ? session.preview(decoder: options.previewVAE).map { try PNGFile.encode($0) } : nil
                let outcome = try await holdingForSpace("job \(job.jobID), saving its checkpoint", lease: lease) {
                    try await store.saveCheckpoint(jobID: job.jobID, worker: options.name, stage: session.stageName,
                                             step: session.completedSteps, steps: session.totalSteps, state: state,
                                             preview: preview, stepSeconds: seconds, leaseSeconds: options.leaseSeconds)
                }
                switch outcome {
                case .keepGoing: lease.renewed(true)
                case .cancelled:
                    try await holdingForSpace("job \(job.jobID), marking it cancelled", lease: lease) {
                        try await store.markCancelled(jobID: job.jobID, worker: options.name)
                    }
                    return .cancelled(job.jobID)
                case .leaseLost: return .leaseLost(job.jobID)
                }
            }
            if stopping { return try await releaseAfterStop(job.jobID, step: session.completedSteps, steps: session.totalSteps) }
            stepStart = Date()
        }
        let output = try session.finish()
        let seconds = Date().timeIntervalSince(start)
        guard case .images(let images) = output else {
            throw RenderError.invalid(parameter: "denoising-end", reason: "queue jobs must produce images; use --refiner with --high-noise-frac for an ensemble of experts")
        }
        var finished: [FinishedImage] = []
        for (i, image) in images.enumerated() {
            var record = Provenance(session: session, imageIndex: i, seconds: seconds)
            let read = InvisibleWatermark.sdxl.decode(image).map { String(InvisibleWatermark.value($0), radix: 16) }
            record.seconds = nil  // keep the PNG bytes identical between a straight and a resumed render
            let png = try PNGFile.encode(image, text: record.textChunks)
            var path: String?
            if let folder = options.outputFolder {
                let p = (folder as NSString).appendingPathComponent(StoredOutput.fileName(jobID: job.jobID, imageIndex: i))
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue {
                    // A full output disk keeps the finished image in memory until space returns.
                    try await holdingForSpace("job \(job.jobID), writing \(p)", lease: lease) {
                        try injectedWriteFailure(p)
                        try PNGFile.write(encoded: png, to: p)
                    }
                    path = p
                } else {
                    // The folder went away under the worker: keep the finished render in the
                    // database rather than throw it away and charge the job a failure.
                    onWarning?("job \(job.jobID): output folder \(folder) is gone; image \(i) kept in the database (kiln export writes it out)")
                }
            }
            record.seconds = seconds
            record.stepSeconds = stepTimes  // the steps this attempt ran (earlier ones are in jobs.step_seconds)
            finished.append(FinishedImage(index: i, png: png, outputPath: path, provenance: record.json(),
                                          watermarkWritten: record.watermarkBits, watermarkRead: read))
        }
        let stored = try await holdingForSpace("job \(job.jobID), storing its outputs", lease: lease) {
            if options.outputFolder == nil { try injectedWriteFailure(nil) }
            return try await store.finish(jobID: job.jobID, worker: options.name, attempt: job.attempt, images: finished, renderSeconds: seconds)
        }
        guard stored else { return .leaseLost(job.jobID) }
        return .done(job.jobID)
    }

    /// The test hook of `Options.failingOutputWrites`: fails as a full disk does, with the error
    /// a real write would give (a file write, or a full database for outputs kept in the database).
    func injectedWriteFailure(_ path: String?) throws {
        guard failingWrites > 0 else { return }
        failingWrites -= 1
        let reason = String(cString: strerror(ENOSPC))
        if let path { throw ImagingError.writeFailed(path: path, reason: reason) }
        throw DatabaseDiskFull("database or disk is full (\(reason))")
    }
}
