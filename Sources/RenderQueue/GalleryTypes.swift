import Foundation

/// Which rows of a list to read: at most `PageRequest.maxLimit` from `offset`. Values out of
/// range are clamped, so no request can ask a database for an unbounded page.
public struct PageRequest: Sendable, Equatable {
    /// The largest page any read returns.
    public static let maxLimit = 200
    /// The largest offset accepted (far beyond any queue, small enough for every database).
    public static let maxOffset = 1_000_000_000

    public let limit: Int
    public let offset: Int

    public init(limit: Int = 50, offset: Int = 0) {
        self.limit = min(max(limit, 1), PageRequest.maxLimit)
        self.offset = min(max(offset, 0), PageRequest.maxOffset)
    }
}

/// One page of rows and how many rows there are in all.
public struct QueuePage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var total: Int
    public var page: PageRequest

    public init(items: [Item], total: Int, page: PageRequest) {
        self.items = items
        self.total = total
        self.page = page
    }
}

/// The queue at a glance: job counts by state, the running jobs, steps left and the measured
/// mean step time (nil before any step was timed).
public struct QueueOverview: Sendable, Codable, Equatable {
    public var counts: [String: Int]
    public var running: [RunningJob]
    public var stepsLeft: Int
    public var secondsPerStep: Double?
    /// Whether the whole queue is paused (`kiln pause` without `--sweep`).
    public var paused: Bool

    public init(counts: [String: Int], running: [RunningJob], stepsLeft: Int, secondsPerStep: Double?, paused: Bool) {
        self.counts = counts
        self.running = running
        self.stepsLeft = stepsLeft
        self.secondsPerStep = secondsPerStep
        self.paused = paused
    }

    /// Seconds until the queue is empty at the measured pace, when it was measured.
    public var etaSeconds: Double? { secondsPerStep.map { Double(stepsLeft) * $0 } }
}

/// A job being rendered, with its step of steps and its own measured pace.
public struct RunningJob: Sendable, Codable, Equatable {
    public var jobID: Int64
    public var sweepID: Int64?
    public var step: Int
    public var steps: Int
    public var worker: String?
    public var secondsPerStep: Double?

    public init(jobID: Int64, sweepID: Int64?, step: Int, steps: Int, worker: String?, secondsPerStep: Double?) {
        self.jobID = jobID
        self.sweepID = sweepID
        self.step = step
        self.steps = steps
        self.worker = worker
        self.secondsPerStep = secondsPerStep
    }

    /// Seconds left for this job at its own pace.
    public var etaSeconds: Double? { secondsPerStep.map { Double(max(steps - step, 0)) * $0 } }
}

/// A sweep with its jobs counted by state and its images counted.
public struct SweepSummary: Sendable, Equatable {
    public var sweepID: Int64
    public var name: String?
    public var createdAt: String
    public var paused: Bool
    public var counts: [String: Int]
    public var outputs: Int

    public init(sweepID: Int64, name: String?, createdAt: String, paused: Bool, counts: [String: Int], outputs: Int) {
        self.sweepID = sweepID
        self.name = name
        self.createdAt = createdAt
        self.paused = paused
        self.counts = counts
        self.outputs = outputs
    }

    public var jobs: Int { counts.values.reduce(0, +) }
    /// Jobs that will not change any more (done, failed or cancelled).
    public var finished: Int { ["done", "failed", "cancelled"].reduce(0) { $0 + (counts[$1] ?? 0) } }
}

/// A parameter a sweep varies (an axis or a zipped list of its spec), by its `RenderParameters`
/// name, with the values the spec lists, as text.
public struct SweepAxis: Sendable, Equatable {
    public var parameter: String
    public var values: [String]

    public init(parameter: String, values: [String]) {
        self.parameter = parameter
        self.values = values
    }
}

/// An image as lists and grids show it: ids, the columns a list prints and its provenance JSON
/// (from which grid labels are read).
public struct OutputCard: Sendable, Equatable {
    public var outputID: Int64
    public var jobID: Int64
    public var sweepID: Int64?
    public var imageIndex: Int
    public var seed: String?
    public var prompt: String?
    public var model: String?
    public var provenance: String

    public init(outputID: Int64, jobID: Int64, sweepID: Int64?, imageIndex: Int, seed: String?, prompt: String?, model: String?,
                provenance: String) {
        self.outputID = outputID
        self.jobID = jobID
        self.sweepID = sweepID
        self.imageIndex = imageIndex
        self.seed = seed
        self.prompt = prompt
        self.model = model
        self.provenance = provenance
    }
}

/// One image with every `v_outputs` column as text (in the view's order; `provenance` and
/// `step_seconds` are left to `card` and not repeated), and what its job adds.
public struct OutputDetail: Sendable, Equatable {
    public var card: OutputCard
    public var columns: [String]
    public var values: [String?]
    /// The job's `--config` folder (single-file checkpoints), if it had one.
    public var config: String?

    public init(card: OutputCard, columns: [String], values: [String?], config: String?) {
        self.card = card
        self.columns = columns
        self.values = values
        self.config = config
    }

    /// The value of column `name`, nil when NULL or absent.
    public func value(_ name: String) -> String? {
        columns.firstIndex(of: name).flatMap { values[$0] }
    }
}

/// A job as lists show it: a `v_jobs` row's main columns and its first image, if any.
public struct JobSummary: Sendable, Equatable {
    public var jobID: Int64
    public var sweepID: Int64?
    public var state: String
    public var step: Int
    public var steps: Int
    public var prompt: String?
    public var seed: String?
    public var model: String
    public var error: String?
    public var updatedAt: String
    public var firstOutput: Int64?

    public init(jobID: Int64, sweepID: Int64?, state: String, step: Int, steps: Int, prompt: String?, seed: String?, model: String,
                error: String?, updatedAt: String, firstOutput: Int64?) {
        self.jobID = jobID
        self.sweepID = sweepID
        self.state = state
        self.step = step
        self.steps = steps
        self.prompt = prompt
        self.seed = seed
        self.model = model
        self.error = error
        self.updatedAt = updatedAt
        self.firstOutput = firstOutput
    }
}

/// One job: its `v_jobs` row as text, its stored request (JSON) and the ids of its images.
public struct JobDetail: Sendable, Equatable {
    public var summary: JobSummary
    public var columns: [String]
    public var values: [String?]
    public var request: String
    public var config: String?
    public var outputs: [Int64]

    public init(summary: JobSummary, columns: [String], values: [String?], request: String, config: String?, outputs: [Int64]) {
        self.summary = summary
        self.columns = columns
        self.values = values
        self.request = request
        self.config = config
        self.outputs = outputs
    }
}

/// What the gallery's lists filter on, all optional and combined with AND: the job's state,
/// text the prompt contains (case-insensitive for ASCII), the seed, text the model path
/// contains, the sweep.
public struct QueueFilter: Sendable, Equatable {
    public static let states = ["queued", "running", "done", "failed", "cancelled"]

    public var state: String?
    public var prompt: String?
    public var seed: Int64?
    public var model: String?
    public var sweep: Int64?

    public init(state: String? = nil, prompt: String? = nil, seed: Int64? = nil, model: String? = nil, sweep: Int64? = nil) {
        self.state = state.flatMap { QueueFilter.states.contains($0) ? $0 : nil }
        self.prompt = prompt.flatMap { $0.isEmpty ? nil : String($0.prefix(QueueFilter.maxTextLength)) }
        self.seed = seed
        self.model = model.flatMap { $0.isEmpty ? nil : String($0.prefix(QueueFilter.maxTextLength)) }
        self.sweep = sweep
    }

    /// The longest text matched (longer filters are cut, not refused).
    public static let maxTextLength = 500
}
