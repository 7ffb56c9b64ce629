import ArgumentParser
import Foundation
import ModelFiles
import Pipelines
import QueueBackends
import RenderQueue

/// `kiln sweep`: expands a spec into jobs in one transaction.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep", abstract: "Expand a YAML or JSON sweep spec into jobs; print the sweep id and job count.")

    @OptionGroup var queue: QueueLocationOptions
    @Argument(help: "SPEC.yaml or SPEC.json") var spec: String
    @Flag(name: .customLong("dry-run"), help: "Print the count, each prompt template's expansions and the first jobs; write nothing.") var dryRun = false
    @Option(help: "Refuse specs that expand to more jobs than this.") var limit: Int = 1_000_000
    /// Expansions of each prompt template `--dry-run` lists.
    static let shownExpansions = 50

    func run() async throws {
        try await failing {
            // Refuse an oversized spec before reading it (SweepSpec checks the text again).
            if let size = (try? FileManager.default.attributesOfItem(atPath: spec))?[.size] as? Int, size > SweepSpec.maxTextBytes {
                throw QueueError.invalidSpec(key: "(file)", reason: "is \(size) bytes, over the limit of \(SweepSpec.maxTextBytes); use {from, to} ranges and axes instead of long lists")
            }
            guard let data = FileManager.default.contents(atPath: spec) else {
                throw ValidationError("\(spec): cannot be read")
            }
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
            // Relative paths (model, inputs, prompt files, wildcards) are relative to the spec file.
            let specFolder = URL(fileURLWithPath: absolute(spec)).deletingLastPathComponent().path
            let parsed = try SweepSpec(text: String(decoding: data, as: UTF8.self), limit: limit, folder: specFolder)
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (specFolder as NSString).appendingPathComponent(p) }
            // The model and refiner may be Hub ids, each resolved once to its snapshot folder.
            var located: [String: String] = [:]
            func locate(_ p: String, key: String) throws -> String {
                if let known = located[p] { return known }
                do {
                    let path = try ModelLocation.resolve(p, relativeTo: specFolder)
                    located[p] = path
                    return path
                } catch let error as HubCacheError {
                    throw QueueError.invalidSpec(key: key, reason: "\(error)")
                }
            }
            let model = try locate(parsed.model, key: "model"), config = parsed.config.map(resolve)
            guard FileManager.default.fileExists(atPath: model) else { throw QueueError.invalidSpec(key: "model", reason: "\(model) does not exist") }
            // Input files and the refiner are also relative to the spec; each file is read once
            // and stored once, by hash.
            let cache = InputFileCache()
            var blobs: [String: Data] = [:]
            let requests = try (0..<parsed.count).map { index -> RenderRequest in
                var r = try parsed.request(at: index)
                for input in StoredInput.allCases {
                    if let f = r[keyPath: input.reference]?.file { r[keyPath: input.reference]?.file = resolve(f) }
                }
                r.refiner = try r.refiner.map { try locate($0, key: "refiner") }
                for i in r.loras.indices {
                    do { r.loras[i].file = try ModelLocation.resolveFile(r.loras[i].file, relativeTo: specFolder) } catch let error as HubCacheError {
                        throw QueueError.invalidSpec(key: "lora", reason: "\(error)")
                    }
                }
                for i in r.embeddings.indices { r.embeddings[i].file = resolve(r.embeddings[i].file) }
                if let unet = r.unet {
                    do { r.unet?.file = try ModelLocation.resolveComponent(unet.file, relativeTo: specFolder) } catch let error as HubCacheError {
                        throw QueueError.invalidSpec(key: "unet", reason: "\(error)")
                    }
                }
                if let vae = r.vae {
                    do { r.vae?.file = try ModelLocation.resolveComponent(vae.file, relativeTo: specFolder) } catch let error as HubCacheError {
                        throw QueueError.invalidSpec(key: "vae", reason: "\(error)")
                    }
                }
                r.refinerConfig = r.refinerConfig.map(resolve)
                for i in r.controlnet.images.indices { r.controlnet.images[i].file = r.controlnet.images[i].file.map(resolve) }
                r.controlnet.models = try r.controlnet.models.map { path in
                    do { return try ModelLocation.resolveComponent(path, relativeTo: specFolder) } catch let error as HubCacheError {
                        throw QueueError.invalidSpec(key: "controlnet", reason: "\(error)")
                    }
                }
                let resolved = try InputFiles.resolve(r, cache: cache)
                blobs.merge(resolved.blobs) { a, _ in a }
                return resolved.request
            }
            // The scheduler options against the model's scheduler config, before anything is enqueued.
            try RenderRequest.checkSchedules(requests, model: ModelReference(path: model, config: config))
            for r in requests { try r.checkUNet(model: ModelReference(path: model, config: config)) }
            for r in requests { try r.checkControlNets(model: ModelReference(path: model, config: config)) }
            try RenderRequest.checkVariants(requests, model: ModelReference(path: model, config: config))
            if dryRun {
                print("\(requests.count) jobs")
                for t in parsed.templateExpansions {
                    print("\(t.key): \(t.template.debugDescription) gives \(t.prompts.count) prompts:")
                    for p in t.prompts.prefix(SweepCommand.shownExpansions) { print("  \(p.debugDescription)") }
                    if t.prompts.count > SweepCommand.shownExpansions { print("  ... and \(t.prompts.count - SweepCommand.shownExpansions) more") }
                }
                for (i, r) in requests.prefix(5).enumerated() {
                    print("\(i): prompt=\(r.prompt.debugDescription) seed=\(r.seed) steps=\(r.steps) guidance=\(r.effectiveGuidance) scheduler=\(r.scheduler?.rawValue ?? "default") size=\(r.width.map(String.init) ?? "default")x\(r.height.map(String.init) ?? "default")")
                }
                return
            }
            let store = try await queue.open(create: true)
            let (id, count) = try await store.enqueue(sweep: parsed, model: model, config: config, requests: requests, blobs: blobs)
            print("sweep \(id): \(count) jobs")
        }
    }
}

/// Job selection shared by cancel and retry.
struct JobSelectionOptions: ParsableArguments {
    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "A sweep id.") var sweep: Int64?
    @Argument(help: "Job ids (none: all jobs, or the sweep's).") var jobs: [Int64] = []
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel queued jobs; running ones stop at their next step.")
    @OptionGroup var selection: JobSelectionOptions
    func run() async throws {
        try await failing {
            let n = try await selection.queue.open(create: false).cancel(JobSelection(jobs: selection.jobs, sweep: selection.sweep))
            print("\(n) jobs cancelled or stopping")
        }
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Queue failed or cancelled jobs again.")
    @OptionGroup var selection: JobSelectionOptions
    func run() async throws {
        try await failing {
            let n = try await selection.queue.open(create: false).retry(JobSelection(jobs: selection.jobs, sweep: selection.sweep))
            print("\(n) jobs queued again")
        }
    }
}

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop claiming new jobs (the whole queue or one sweep).")
    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "A sweep id.") var sweep: Int64?
    func run() async throws { try await failing { try await queue.open(create: false).setPaused(true, sweep: sweep); print("paused") } }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Claim jobs again after a pause.")
    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "A sweep id.") var sweep: Int64?
    func run() async throws { try await failing { try await queue.open(create: false).setPaused(false, sweep: sweep); print("resumed") } }
}

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Delete the checkpoints of finished jobs.")
    @OptionGroup var queue: QueueLocationOptions
    func run() async throws {
        try await failing {
            let deleted = try await queue.open(create: false).pruneCheckpoints()
            print("\(deleted) checkpoints deleted")
        }
    }
}
