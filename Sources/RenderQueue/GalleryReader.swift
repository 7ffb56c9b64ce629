import Foundation

/// What `kiln serve` reads, and all it reads: the gallery sees a queue through this protocol
/// only. Every call is async and runs on the database's own machinery (GRDB's reader for SQLite,
/// postgres-nio's connection pool for PostgreSQL), so no thread of the server ever waits on a
/// database. Every value is bound, never spliced into a statement; every list is one bounded page
/// (`PageRequest`).
public protocol GalleryReader: Sendable {
    /// The database as it may be shown to a user: a path, or a URL without its password.
    var displayName: String { get }

    /// Runs what the reader needs while it is used (PostgreSQL's connection pool) until the
    /// calling task is cancelled; returns at once where nothing needs running (SQLite).
    func run() async

    /// Counts by state, the running jobs with their pace, steps left, whether the queue is paused.
    func overview() async throws -> QueueOverview
    /// Sweeps, newest first, with their jobs counted by state.
    func sweeps(_ page: PageRequest) async throws -> QueuePage<SweepSummary>
    /// One sweep, nil when there is none with that id.
    func sweep(_ id: Int64) async throws -> SweepSummary?
    /// The parameters the sweep's spec varies (`SweepAxis.axes(specJSON:)`); empty for no sweep.
    func sweepAxes(_ id: Int64) async throws -> [SweepAxis]
    /// A page of a sweep's images sorted by the `v_outputs` columns of `parameters` (render
    /// parameter names; other names are ignored), then by job and image.
    func sweepPage(_ id: Int64, orderedBy parameters: [String], page: PageRequest) async throws -> QueuePage<OutputCard>
    /// One image with all its columns, nil when there is none with that id.
    func output(_ id: Int64) async throws -> OutputDetail?
    /// The stored image of one output (PNG bytes, or the path it was written to), nil when none.
    func outputImage(_ id: Int64) async throws -> StoredOutput?
    /// One job, nil when there is none with that id.
    func job(_ id: Int64) async throws -> JobDetail?
    /// The last preview a worker stored for a job (`kiln work --preview-every`), nil when none.
    func jobPreview(_ id: Int64) async throws -> JobPreview?
    /// The bytes stored under `sha256` when some job's request names them as its image, mask or
    /// a control image; nil otherwise (latents, or bytes no request names, are never handed out).
    func inputImage(_ sha256: String) async throws -> Data?
    /// A page of jobs matching `filter`, newest first.
    func jobs(_ filter: QueueFilter, page: PageRequest) async throws -> QueuePage<JobSummary>
    /// A page of images matching `filter` (the state is their job's), newest first.
    func outputs(_ filter: QueueFilter, page: PageRequest) async throws -> QueuePage<OutputCard>
}

extension GalleryReader {
    /// `body` with the reader running (`run()`) beside it; the run ends when `body` returns or
    /// throws. For callers outside a server's service group: tools, tests, benchmarks.
    public func whileRunning<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self, returning: T.self, isolation: isolation) { group in
            group.addTask { await self.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}

/// What `kiln serve --allow-actions` changes, and all it changes: the actions of the gallery's
/// pages, async as its reads are, each one transaction, with `JobQueue`'s semantics (`cancel`,
/// `retry`, `setPaused`).
public protocol GalleryActions: Sendable {
    /// Cancels queued jobs at once and asks running ones to stop; how many it touched.
    func cancel(_ selection: JobSelection) async throws -> Int
    /// Puts failed or cancelled jobs back in the queue; how many.
    func retry(_ selection: JobSelection) async throws -> Int
    /// Pauses or resumes the queue, or one sweep (which must exist).
    func setPaused(_ paused: Bool, sweep: Int64?) async throws
}
