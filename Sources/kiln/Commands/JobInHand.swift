import Foundation
import RenderQueue
import Synchronization

/// The job a `kiln work` process is rendering, as its steps report it: what a second stop signal
/// puts back in the queue, with its last checkpoint, before the process ends.
final class JobInHand: Sendable {
    private let job = Mutex<Int64?>(nil)

    /// The job now rendering, or nil between jobs.
    func rendering(_ id: Int64?) { job.withLock { $0 = id } }

    /// Releases the job if `worker` still holds its lease (the queue checks); errors are
    /// ignored, as the process is ending: the job is then taken over as a dead worker's is.
    func release(from store: any JobQueue, worker: String) async {
        guard let id = job.withLock({ $0 }) else { return }
        _ = try? await store.release(jobID: id, worker: worker)
    }
}
