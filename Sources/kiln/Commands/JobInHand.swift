import Foundation
import RenderQueue

/// The job a `kiln work` process is rendering, as its steps report it: what a second stop signal
/// puts back in the queue, with its last checkpoint, before the process ends.
final class JobInHand: @unchecked Sendable {
    private let lock = NSLock()
    private var job: Int64?

    /// The job now rendering, or nil between jobs.
    func rendering(_ id: Int64?) {
        lock.lock()
        job = id
        lock.unlock()
    }

    /// Releases the job if `worker` still holds its lease (the queue checks); errors are
    /// ignored, as the process is ending: the job is then taken over as a dead worker's is.
    func release(from store: any JobQueue, worker: String) {
        lock.lock()
        let id = job
        lock.unlock()
        guard let id else { return }
        _ = try? store.release(jobID: id, worker: worker)
    }
}
