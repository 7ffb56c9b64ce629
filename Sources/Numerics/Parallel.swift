import Dispatch
import Foundation

/// Number of worker threads used by `parallelFor` (all cores by default, fixed for the process).
public let parallelWorkerCount: Int = {
    if let s = ProcessInfo.processInfo.environment["KILN_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}()

/// Runs `body` over `0..<count` split into contiguous ranges of at least `grain` items.
///
/// The split depends only on `count`, `grain` and the worker count, and each index is handled by
/// exactly one call, so results are identical from run to run.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let chunks = min(parallelWorkerCount * 4, max(1, count / max(grain, 1)))
    if chunks <= 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * count / chunks, hi = (c + 1) * count / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
