import Dispatch
import Foundation
import Synchronization

/// Number of threads that run `parallelFor`'s chunks and the GEMM tiles (all cores by default,
/// `RuntimeSettings.threads` to choose; fixed for the process). It changes the speed, never the
/// results: every partition is chosen from the problem's sizes alone.
public let parallelWorkerCount: Int = RuntimeSettings.current.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount)

/// How `parallelFor` splits `0..<count`: `chunks` contiguous ranges of at least `grain` items
/// (at most `ChunkPartition.limit` of them), from `count` and `grain` alone.
public struct ChunkPartition: Equatable, Sendable {
    /// The most chunks: four for each of 64 workers.
    public static let limit = 256

    public let count: Int
    public let chunks: Int

    public init(count: Int, grain: Int = 1) {
        self.count = max(0, count)
        chunks = count <= 0 ? 0 : min(ChunkPartition.limit, max(1, count / max(grain, 1)))
    }

    /// The items of chunk `c` (`0 ..< chunks`).
    @inlinable
    public func range(_ c: Int) -> Range<Int> { (c * count / chunks) ..< ((c + 1) * count / chunks) }

    /// Every chunk's range, in order.
    public var ranges: [Range<Int>] { (0..<chunks).map(range) }
}

/// Runs `body` over `0..<count` split into contiguous ranges of at least `grain` items.
///
/// The ranges depend only on `count` and `grain` (see `ChunkPartition`), and each index is
/// handled by exactly one call, so results are identical whatever the thread count or timing.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    parallelFor(count, grain: grain, workers: parallelWorkerCount, body)
}

/// `parallelFor` on `workers` threads (Numerics and tests pass their own count).
@usableFromInline
package func parallelFor(_ count: Int, grain: Int, workers: Int, _ body: (Range<Int>) -> Void) {
    let partition = ChunkPartition(count: count, grain: grain)
    runTasks(partition.chunks, workers: workers) { body(partition.range($0)) }
}

/// Runs `body(0) ... body(tasks - 1)`, each once, on up to `workers` threads that take the next
/// task as they finish one. Which thread runs a task never changes what the task computes.
package func runTasks(_ tasks: Int, workers: Int, _ body: (Int) -> Void) {
    let threads = min(max(workers, 1), tasks)
    if threads <= 1 {
        for t in 0..<tasks { body(t) }
        return
    }
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
        // The tasks run at once by design: each caller hands disjoint work to each index (see
        // `ChunkPartition`), which the compiler cannot see through a closure.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            while true {
                let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if t >= tasks { return }
                body(t)
            }
        }
    }
}
