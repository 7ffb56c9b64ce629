import Dispatch
import Foundation
import Imaging
import Models
import Pipelines

/// A queue worker: claims jobs, renders them (resuming from their checkpoint when one exists),
/// saves a checkpoint every `checkpointEvery` steps, and stores the outputs in the same
/// transaction that marks the job done. Models stay loaded between jobs that use the same model.
public final class Worker: @unchecked Sendable {
    public struct Options: Sendable {
        public var name: String
        public var leaseSeconds: Double = 120
        public var checkpointEvery: Int = 1
        /// Write PNGs here (and their paths in the database) instead of into the database.
        public var outputFolder: String?
        public init(name: String) { self.name = name }
    }

    public let store: JobStore
    public let options: Options
    /// The loaded model (one at a time) and its content hash, computed once per load.
    var loaded: (key: String, pipeline: TextToImagePipeline, hash: String)?
    /// Called after every step: (job, step, total).
    public var onStep: ((Int64, Int, Int) -> Void)?

    public init(store: JobStore, options: Options) {
        self.store = store
        self.options = options
    }

    public enum Outcome: Sendable, Equatable { case done(Int64), failed(Int64, String), cancelled(Int64), leaseLost(Int64), idle }

    func pipeline(for job: ClaimedJob) throws -> (pipeline: TextToImagePipeline, hash: String) {
        let key = job.model + "\u{0}" + (job.config ?? "")
        if let l = loaded, l.key == key { return (l.pipeline, l.hash) }
        loaded = nil  // one model in memory at a time
        let p = try TextToImagePipeline(files: SDXLModelFiles(path: job.model, configFolder: job.config))
        let hash = p.files.contentHash()
        loaded = (key, p, hash)
        return (p, hash)
    }

    /// Claims and runs one job; `.idle` when none is ready.
    public func runOne() throws -> Outcome {
        guard let job = try store.claim(worker: options.name, leaseSeconds: options.leaseSeconds) else { return .idle }
        // Keep the lease alive during long steps.
        let renewer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
        let interval = max(options.leaseSeconds / 3, 0.5)
        renewer.schedule(deadline: .now() + interval, repeating: interval)
        let store = self.store, name = options.name, lease = options.leaseSeconds
        renewer.setEventHandler { _ = try? store.renewLease(jobID: job.jobID, worker: name, leaseSeconds: lease) }
        renewer.resume()
        defer { renewer.cancel() }
        do {
            return try render(job)
        } catch {
            let message = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            try store.fail(jobID: job.jobID, worker: options.name, error: message)
            return .failed(job.jobID, message)
        }
    }

    func render(_ job: ClaimedJob) throws -> Outcome {
        let start = Date()
        let (pipeline, hash) = try pipeline(for: job)
        let prepared = try pipeline.prepare(job.request)
        var state: DenoiseState
        if let saved = job.checkpoint {
            state = try JSONDecoder().decode(DenoiseState.self, from: saved)
        } else {
            state = try pipeline.begin(prepared)
        }
        var stepStart = Date()
        var stepTimes: [Double] = []
        while state.nextStep < state.totalSteps {
            state = try pipeline.advance(prepared, state)
            onStep?(job.jobID, state.nextStep, state.totalSteps)
            stepTimes.append(Date().timeIntervalSince(stepStart))
            let isLast = state.nextStep == state.totalSteps
            if state.nextStep % max(options.checkpointEvery, 1) == 0 || isLast {
                let outcome = try store.saveCheckpoint(jobID: job.jobID, worker: options.name, stage: "base", step: state.nextStep,
                                                       state: try JSONEncoder().encode(state),
                                                       stepSeconds: Date().timeIntervalSince(stepStart), leaseSeconds: options.leaseSeconds)
                switch outcome {
                case .keepGoing: break
                case .cancelled:
                    try store.markCancelled(jobID: job.jobID, worker: options.name)
                    return .cancelled(job.jobID)
                case .leaseLost: return .leaseLost(job.jobID)
                }
            }
            stepStart = Date()
        }
        let output = try pipeline.finish(prepared, state)
        let seconds = Date().timeIntervalSince(start)
        guard case .images(let images) = output else {
            throw RenderError.invalid(parameter: "denoising-end", reason: "queue jobs must produce images (refiner stages are not queued yet)")
        }
        let size = pipeline.size(for: job.request)
        let kind = job.request.scheduler ?? pipeline.defaultScheduler
        var finished: [FinishedImage] = []
        for (i, image) in images.enumerated() {
            let written = job.request.watermark && size.width >= 256 ? String(InvisibleWatermark.sdxlMessage, radix: 16) : nil
            let read = InvisibleWatermark.sdxl.decode(image).map { String(InvisibleWatermark.value($0), radix: 16) }
            var record = Provenance(kilnVersion: Provenance.currentVersion, request: job.request, width: size.width, height: size.height,
                                    scheduler: kind.rawValue, schedulerClass: kind.diffusersClass, seed: job.request.seed,
                                    imageIndex: i, model: job.model, modelHash: hash, watermarkBits: written, seconds: seconds)
            record.schedulerConfig = pipeline.schedulerConfigJSON
            record.seconds = nil  // keep the PNG bytes identical between a straight and a resumed render
            let png = try PNGFile.encode(image, text: record.textChunks)
            var path: String?
            if let folder = options.outputFolder {
                let p = (folder as NSString).appendingPathComponent("job-\(job.jobID)-\(i).png")
                try PNGFile.write(encoded: png, to: p)
                path = p
            }
            record.seconds = seconds
            record.stepSeconds = stepTimes  // the steps this attempt ran (earlier ones are in jobs.step_seconds)
            finished.append(FinishedImage(index: i, png: png, outputPath: path, provenance: record.json(),
                                          watermarkWritten: written, watermarkRead: read))
        }
        guard try store.finish(jobID: job.jobID, worker: options.name, attempt: job.attempt, images: finished, renderSeconds: seconds) else {
            return .leaseLost(job.jobID)
        }
        return .done(job.jobID)
    }
}
