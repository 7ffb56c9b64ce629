import Dispatch
import Foundation
import RenderQueue

/// The queue as the actions (`--allow-actions`: cancel, retry, pause) write to it. `JobQueue`
/// calls block (SQLite, and PostgreSQL through `Blocking`), so each runs on one serial dispatch
/// queue and the handler awaits it: no thread of the server's pools waits on a database. This
/// is the gallery's only bridge to synchronous code; its reads are async (`GalleryReader`).
final class ActionQueue: Sendable {
    private let writer: (any JobQueue)?
    static let queue = DispatchQueue(label: "kiln.serve.actions")

    init(writer: (any JobQueue)?) {
        self.writer = writer
    }

    var canWrite: Bool { writer != nil }

    /// Runs `body` with the writer, which exists only with `--allow-actions`.
    func write<T: Sendable>(_ body: @escaping @Sendable (any JobQueue) throws -> T) async throws -> T {
        guard let writer else { throw PageError.forbidden("actions are off: start kiln serve with --allow-actions to cancel, retry or pause") }
        return try await ActionQueue.run { try body(writer) }
    }

    /// `body` on the actions' queue, awaited.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Image work (decoding, resizing, encoding thumbnails) off the server's threads, one job per
/// core at most.
enum ImageWork {
    private static let queue = DispatchQueue(label: "kiln.serve.images", attributes: .concurrent)
    private static let slots = DispatchSemaphore(value: max(1, ProcessInfo.processInfo.activeProcessorCount))

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                slots.wait()
                defer { slots.signal() }
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
