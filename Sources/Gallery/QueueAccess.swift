import Dispatch
import Foundation
import RenderQueue

/// The queue as the server's request handlers use it. Queue calls block (SQLite, and
/// PostgreSQL through `Blocking`, which must not run on Swift's cooperative threads or an event
/// loop), so each runs on a serial dispatch queue of its own and the handler awaits the result:
/// one database call at a time, and no thread of the server's pools ever waits on a database.
final class QueueAccess: @unchecked Sendable {
    private let reader: any GalleryReader
    private let writer: (any JobQueue)?
    private let queue = DispatchQueue(label: "kiln.serve.queue")

    init(reader: any GalleryReader, writer: (any JobQueue)?) {
        self.reader = reader
        self.writer = writer
    }

    var displayName: String { reader.displayName }
    var canWrite: Bool { writer != nil }

    /// Runs `body` with the reader on the queue's thread.
    func read<T: Sendable>(_ body: @escaping @Sendable (any GalleryReader) throws -> T) async throws -> T {
        // The reader is not Sendable (a database connection): it is confined to `queue`, the
        // only place it is used.
        nonisolated(unsafe) let reader = self.reader
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(reader) }) }
        }
    }

    /// Runs `body` with the writer, which exists only with `--allow-actions`.
    func write<T: Sendable>(_ body: @escaping @Sendable (any JobQueue) throws -> T) async throws -> T {
        guard let writer else { throw PageError.forbidden("actions are off: start kiln serve with --allow-actions to cancel, retry or pause") }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(writer) }) }
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
