import Dispatch

/// Where a worker's task runs: a serial dispatch queue of its own, outside Swift's cooperative
/// thread pool. The render's steps are long and CPU-bound (seconds to minutes each); run on the
/// pool they would hold one of its few threads and starve everything else awaiting there (a
/// lease renewal, postgres-nio's continuations). A worker's task prefers this executor
/// (`withTaskExecutorPreference`), so its steps run here synchronously, and its queue calls
/// suspend here and resume here: this is the one place where async code meets the render.
final class RenderExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "kiln.render", qos: .userInitiated)
    private static let marker = DispatchSpecificKey<Bool>()

    init() { queue.setSpecific(key: RenderExecutor.marker, value: true) }

    /// Whether the calling code runs on a worker's render executor (for tests and checks).
    static var isCurrent: Bool { DispatchQueue.getSpecific(key: marker) == true }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job), executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
