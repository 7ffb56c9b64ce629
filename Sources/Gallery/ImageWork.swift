import Dispatch
import Foundation

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
